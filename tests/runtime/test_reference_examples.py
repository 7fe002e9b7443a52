"""The SonataFlow examples whose behaviour their index states, run through the runtime.

Events are handed to step-executor's intake (`inbox.handle_event`), timers fire through the local
runner. Functions of type `service:java:` are Java classes of the example projects; where an
example ends with one, the test swaps it for a `sysout` function (knflow runs no Java).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from knflow.events import types
from knflow.events.codec import Event
from knflow.runtime.services import Services
from knflow.runtime.step_executor import inbox
from tests.examples import copy_example
from tests.peers import HttpPeer, Recorded, Reply
from tests.runtime import runs


def _install(
    tmp_path: Path, example: str, *, patch: dict[str, str] | None = None
) -> Path:
    return copy_example(example, tmp_path / example, patch=patch)


@pytest.mark.parametrize(
    ("language", "greeting"),
    [
        ("English", "Hello from JSON Workflow, "),
        ("Spanish", "Saludos desde JSON Workflow, "),
        ("Czech", "Hello"),
    ],
    ids=["english", "spanish", "unsupported"],
)
def test_json_greeting_chooses_by_language(
    services: Services, register: Any, tmp_path: Path, language: str, greeting: str
) -> None:
    register(_install(tmp_path, "serverless-workflow-greeting-quarkus"))
    view = runs.finish(
        services,
        runs.start(services, "jsongreet", {"name": "John", "language": language}),
    )
    assert view.status == "COMPLETED"
    assert view.data["greeting"].startswith(greeting)


def test_yaml_greeting_runs_jsonpath_expressions(
    services: Services, register: Any, tmp_path: Path
) -> None:
    register(_install(tmp_path, "serverless-workflow-greeting-quarkus"))
    view = runs.finish(
        services,
        runs.start(services, "yamlgreet", {"name": "John", "language": "Spanish"}),
    )
    assert view.status == "COMPLETED"
    assert "Saludos" in view.data["greeting"]


def test_rest_functions_call_the_numbers_service(
    services: Services,
    register: Any,
    tmp_path: Path,
    http_peer: HttpPeer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("randomNumber", "multiplyAllByRandomAndSum"):
        monkeypatch.setitem(services.settings.function_urls, name, http_peer.url)  # type: ignore[index]
    http_peer.route("GET", "/numbers/random", Reply(body={"randomNumber": 7}))

    def multiply(request: Recorded) -> Reply:
        body = request.json()
        return Reply(
            body={
                "sum": sum(n * int(request.path.split("/")[2]) for n in body["numbers"])
            }
        )

    http_peer.route("POST", "/numbers/*", multiply)
    register(_install(tmp_path, "serverless-workflow-functions-quarkus"))
    view = runs.finish(
        services, runs.start(services, "RestExample", {"inputNumbers": [1, 2, 3]})
    )
    assert view.status == "COMPLETED", view.error_message
    assert http_peer.received("POST")[0].path == "/numbers/7/multiplyByAndSum"


def test_events_example_starts_on_an_event_and_produces_the_decision(
    services: Services, register: Any, tmp_path: Path
) -> None:
    register(_install(tmp_path, "serverless-workflow-events-quarkus"))
    runs.send(
        services,
        "applicants",
        {
            "name": "Cristiano",
            "position": "iOS Engineer",
            "office": "Berlin",
            "salary": 30000,
        },
    )
    runs.send(
        services,
        "applicants",
        {"name": "Low", "position": "Intern", "office": "Berlin", "salary": 1000},
    )
    decisions = sorted(
        e["data"]["decision"] for e in runs.emitted(services, "decisions")
    )
    assert decisions == ["Approved", "Denied"]


def test_callback_waits_for_its_event_then_merges_it(
    services: Services, register: Any, tmp_path: Path
) -> None:
    register(_install(tmp_path, "serverless-workflow-callback-quarkus"))
    instance_id = runs.start(services, "callback", {})
    assert runs.finish(services, instance_id).waiting
    published = runs.emitted(services, "resume")
    assert published[0]["data"] == {"move": "This is the initial data in the model"}
    runs.send(
        services,
        "wait",
        {
            "result": "This is the initial data in the model and has been modified by the event publisher"
        },
        kogitoprocrefid=instance_id,
    )
    view = runs.finish(services, instance_id)
    assert view.status == "COMPLETED"
    assert view.data["move"].endswith("modified by the event publisher")


def test_correlation_example_follows_one_user_through_two_callbacks(
    services: Services, register: Any, tmp_path: Path
) -> None:
    register(_install(tmp_path, "serverless-workflow-correlation-quarkus"))
    runs.send(
        services,
        "newAccountEventType",
        {"email": "test@test.com", "userId": "12345"},
        userid="12345",
    )
    validate = runs.emitted(services, "validateAccountEmail")
    assert validate[0]["userid"] == "12345"
    assert validate[0]["kogitoproctype"] == "SW"
    instance_id = validate[0]["kogitoprocinstanceid"]
    runs.send(
        services, "validatedAccountEmail", {}, userid="99999"
    )  # another user's event: not this instance
    runs.send(services, "validatedAccountEmail", {}, userid="12345")
    runs.send(services, "activatedAccount", {}, userid="12345")
    assert runs.finish(services, instance_id).status == "COMPLETED"


def test_subflows_event_waits_for_both_events_in_any_order(
    services: Services, register: Any, tmp_path: Path
) -> None:
    register(_install(tmp_path, "serverless-workflow-subflows-event"))
    instance_id = runs.start(services, "master", {})
    view = runs.finish(services, instance_id)
    assert view.status == "ACTIVE"
    assert view.data == {"param1": "This is param1", "param2": "This is param2"}
    runs.send(services, "executeB", {}, kogitoprocrefid=instance_id)
    assert runs.finish(services, instance_id).status == "ACTIVE"
    runs.send(services, "executeA", {}, kogitoprocrefid=instance_id)
    assert runs.finish(services, instance_id).status == "COMPLETED"


@pytest.mark.parametrize(
    "workflow_id",
    ["callback_state_timeouts", "event_state_timeouts", "switch_state_timeouts"],
)
def test_timeouts_showcase_moves_on_when_no_event_arrives(
    services: Services, register: Any, tmp_path: Path, workflow_id: str
) -> None:
    register(
        _install(
            tmp_path,
            "serverless-workflow-timeouts-showcase-embedded",
            patch={"PT30S": "PT0.5S"},
        )
    )
    instance_id = runs.start(services, workflow_id, {})
    view = runs.finish(services, instance_id)
    assert view.status == "COMPLETED", view.error_message


def test_workflow_timeout_ends_the_instance(
    services: Services, register: Any, tmp_path: Path
) -> None:
    register(
        _install(
            tmp_path,
            "serverless-workflow-timeouts-showcase-embedded",
            patch={"PT30S": "PT0.5S"},
        )
    )
    view = runs.finish(services, runs.start(services, "workflow_timeouts", {}))
    assert view.status == "ABORTED"


def test_order_processing_runs_both_subflows_and_produces_their_events(
    services: Services, register: Any, tmp_path: Path
) -> None:
    register(_install(tmp_path, "serverless-workflow-order-processing"))
    runs.send(
        services,
        "orderEvent",
        {"id": "o1", "country": "US", "total": 10000, "description": "iPhone 12"},
        source="orderEvent",
    )
    assert len(runs.emitted(services, "fraudEvaluation")) == 1
    assert len(runs.emitted(services, "domesticShipping")) == 1


def test_an_unmatched_event_is_kept_and_taken_by_a_later_wait(
    services: Services, register: Any, tmp_path: Path
) -> None:
    register(_install(tmp_path, "serverless-workflow-subflows-event"))
    early = Event(
        id="early",
        source="tests",
        type=types.STEP_READY.replace("step.ready", "x"),
        data={},
    )
    inbox.handle_event(
        services, early
    )  # nothing waits for it: acknowledged and kept, nothing fails
    instance_id = runs.start(services, "master", {})
    runs.send(services, "executeA", {}, kogitoprocrefid=instance_id)
    runs.send(services, "executeB", {}, kogitoprocrefid=instance_id)
    assert runs.finish(services, instance_id).status == "COMPLETED"
