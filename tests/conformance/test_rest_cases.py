"""SonataFlow's REST-level integration tests, against one running `knflow dev`.

Starts, reads, PATCH, DELETE and retrigger go to start-workflow as SonataFlow's ITs send
them; their events go through the broker. Each test names the IT it restates.
"""

from __future__ import annotations

import httpx
import pytest

from tests.conformance.rest_stack import RestStack
from tests.waiting import eventually


@pytest.mark.parametrize(
    "body",
    [{}, {"workflowdata": ""}, None, {"workflowdata": {}}],
    ids=["empty", "string-workflowdata", "no-body", "empty-workflowdata"],
)
def test_hello_world_answers_whatever_the_body(
    sonataflow: RestStack, body: object
) -> None:
    """HelloWorldIT: empty body, string workflowdata, no body, empty workflowdata."""
    answer = sonataflow.post("/helloworld", body)

    assert answer.status_code == 201, answer.text
    assert answer.json()["workflowdata"]["result"] == "Hello World!"


def test_expression_sees_secrets_constants_identity_headers_and_input(
    sonataflow: RestStack,
) -> None:
    """ExpressionRestIT.testExpressionRest."""
    answer = sonataflow.post(
        "/expression",
        {
            "workflowdata": {"numbers": [{"x": 2, "y": 1}, {"x": 4, "y": 3}]},
            "randomAdditionalProperty": "ignored by the runtime",
        },
        headers={"pepe": "pepa"},
    )

    assert answer.status_code == 201, answer.text
    data = answer.json()["workflowdata"]
    assert data["result"] == 4
    assert data["originalFirstX"] == 2
    assert data.get("number") is None
    assert data["message"] == (
        "my name is javierito and in my native language dog is translated to perro"
        " and the header pepe is pepa"
    )
    assert data["user"] == "anonymous"
    assert data.get("discardedResult") is None


def test_expression_input_violating_its_schema_is_refused(
    sonataflow: RestStack,
) -> None:
    """ExpressionRestIT.testExpressionInputValidation: 400, a message, no id."""
    answer = sonataflow.post(
        "/expression",
        {"workflowdata": {"numbers": [{"x": "abcdedf", "y": 1}, {"x": 4, "y": 3}]}},
    )

    assert answer.status_code == 400
    assert answer.json()["message"]
    assert answer.json().get("id") is None


def test_output_violating_the_output_schema_is_refused(sonataflow: RestStack) -> None:
    """ExpressionRestIT.testExpressionOutputValidation: 400 naming `message`, with an id."""
    answer = sonataflow.post(
        "/invalidOutputExpression",
        {"workflowdata": {"numbers": [{"x": 2, "y": 1}, {"x": 4, "y": 3}]}},
    )

    assert answer.status_code == 400
    assert "message" in answer.json()["message"]
    assert answer.json()["id"]


def test_error_message_metadata_answers_400(sonataflow: RestStack) -> None:
    """ErrorRestIT.testErrorWithMetadata: an even number completes, an odd one is a 400."""
    assert sonataflow.post("/errorWithMetadata", {"number": 12342}).status_code == 201
    assert sonataflow.post("/errorWithMetadata", {"number": 12341}).status_code == 400


@pytest.mark.parametrize("accept", [None, "application/json"])
def test_listing_a_workflow_without_instances_is_an_empty_array(
    sonataflow: RestStack, accept: str | None
) -> None:
    """GreetRestIT.testJsonResponseWithAcceptHeader and ...WithoutAcceptHeader."""
    headers = {"accept": accept} if accept else {}

    answer = httpx.get(f"{sonataflow.url}/greet", headers=headers)

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == []


def test_keep_active_instance_stays_until_deleted(sonataflow: RestStack) -> None:
    """KeepActiveIT.testKeepActive."""
    instance_id = sonataflow.start("keepActive", {"keepActive": True})

    answer = sonataflow.call("GET", f"/keepActive/{instance_id}")
    assert answer.status_code == 200
    assert answer.json()["workflowdata"]["message"] == "this will never end"
    sonataflow.call("DELETE", f"/keepActive/{instance_id}")
    assert sonataflow.call("GET", f"/keepActive/{instance_id}").status_code == 404


def test_keep_active_instance_ends_on_terminate(sonataflow: RestStack) -> None:
    """KeepActiveIT.testEndIt."""
    instance_id = sonataflow.start("keepActive", {"keepActive": False})

    assert sonataflow.call("GET", f"/keepActive/{instance_id}").status_code == 404


def test_a_failed_instance_is_patched_and_retriggered(sonataflow: RestStack) -> None:
    """RetriggerIT.testRetrigger: 400, PATCH the data, retrigger, gone once completed."""
    failed = sonataflow.post("/division", {"number1": 2, "number2": 0})
    assert failed.status_code == 400, failed.text
    instance_id = failed.json()["id"]

    patched = sonataflow.call("PATCH", f"/division/{instance_id}", {"number2": 1})
    retriggered = sonataflow.post(
        f"/management/processes/division/instances/{instance_id}/retrigger"
    )

    assert patched.status_code == 200, patched.text
    assert retriggered.status_code == 200, retriggered.text
    assert retriggered.json()["workflowdata"]["response"] == 2
    assert sonataflow.call("GET", f"/division/{instance_id}").status_code == 404


def test_deleting_an_instance_compensates_it(sonataflow: RestStack) -> None:
    """CompensationRestIT.testCompensationOnAbort: `half` undoes `double` on DELETE."""
    instance_id = sonataflow.start("automatic_compensation", {"value": 2})

    answer = sonataflow.call("DELETE", f"/automatic_compensation/{instance_id}")

    assert answer.status_code == 200, answer.text
    assert answer.json()["workflowdata"]["value"] == 2


def test_path_from_a_main_flow_through_subflows_and_their_events(
    sonataflow: RestStack,
) -> None:
    """SubFlowsIT.testSubFlows: each awaited event moves the tree on until it ends."""
    main_id = sonataflow.start("MainFlow")
    for event_flow, event_type in (
        ("EventFlow1", "event1"),
        ("EventFlow2", "event2"),
        ("EventFlow1", "event1"),
        ("EventFlow2", "event2"),
    ):
        waiting = _one_active(sonataflow, event_flow)
        sonataflow.send(event_type, kogitoprocrefid=waiting)
        sonataflow.ended(event_flow, waiting)

    assert sonataflow.ended("MainFlow", main_id) == "COMPLETED"
    assert sonataflow.active_ids("MainFlow") == []


def _one_active(sonataflow: RestStack, workflow_id: str) -> str:
    found = eventually(
        lambda: sonataflow.active_ids(workflow_id), lambda ids: len(ids) == 1
    )
    return found[0]


def test_deleting_a_main_flow_aborts_its_subflows(sonataflow: RestStack) -> None:
    """SubFlowsIT.testCancelSubFlows."""
    main_id = sonataflow.start("MainFlow")
    assert len(sonataflow.active_ids("SubFlow1")) == 1

    answer = sonataflow.call("DELETE", f"/MainFlow/{main_id}")

    assert answer.status_code == 200, answer.text
    assert sonataflow.active_ids("SubFlow1") == []
    assert sonataflow.active_ids("MainFlow") == []
