"""functions/data-index-sink end to end: Kogito events in (every path and mode), GraphQL out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from knflow.events import codec
from knflow.events.codec import Event
from tests.conftest import REFERENCE_DATA
from tests.graphql import sample_runs
from tests.graphql.conftest import data, environment, post_event, sink

__all__ = ["environment", "sink"]  # fixtures shared with the GraphQL tests

FIXTURES = REFERENCE_DATA / "data-index" / "events"
STRUCTURED = {"content-type": "application/cloudevents+json"}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text("utf-8"))


def post_structured(sink: FlaskClient, path: str, body: Any) -> Any:
    return sink.post(path, headers=STRUCTURED, data=json.dumps(body))


def post_binary(
    sink: FlaskClient, path: str, event_type: str, body: Any, **ce: str
) -> Any:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "b-1",
        "ce-source": "/test",
        "ce-type": event_type,
        "content-type": "application/json",
    }
    headers.update({f"ce-{key}": value for key, value in ce.items()})
    return sink.post(path, headers=headers, data=json.dumps(body))


def test_the_state_event_fixture_creates_an_instance(sink: FlaskClient) -> None:
    answer = post_structured(sink, "/processes", fixture("process_instance_event.json"))

    [found] = data(
        sink,
        "{ ProcessInstances { id processId state start businessKey"
        " endpoint serviceUrl addons } }",
    )["ProcessInstances"]
    assert answer.status_code == 202
    assert found["id"] == "2308e23d-9998-47e9-a772-a078cf5b891b"
    assert found["state"] == "ACTIVE"
    assert found["start"] == "2022-03-18T05:32:21.887Z"
    assert found["businessKey"] == "F7RTPS"
    assert found["serviceUrl"] == "http://localhost:8080"
    assert "process-management" in found["addons"]


def test_the_definition_event_fixture_creates_a_definition(sink: FlaskClient) -> None:
    answer = post_structured(
        sink, "/definitions", fixture("process_definition_event.json")
    )

    [found] = data(
        sink,
        "{ ProcessDefinitions { id version name serviceUrl annotations"
        " nodes { id uniqueId metadata { UniqueId state action } } } }",
    )["ProcessDefinitions"]
    assert answer.status_code == 202
    assert (found["id"], found["version"], found["name"]) == (
        "jsongreet",
        "1.0",
        "Greeting workflow",
    )
    assert found["serviceUrl"] == "http://localhost:8080"
    assert len(found["nodes"]) == 12
    assert found["nodes"][7]["metadata"]["action"] == "greetAction"


def test_the_job_event_fixture_in_cloudevents_0_3_creates_a_job(
    sink: FlaskClient,
) -> None:
    answer = post_structured(sink, "/jobs", fixture("job_event.json"))

    [found] = data(sink, "{ Jobs { id status repeatLimit processId lastUpdate } }")[
        "Jobs"
    ]
    assert answer.status_code == 202
    assert found == {
        "id": "8350b8b6-c5d9-432d-a339-a9fc85f642d4_0",
        "status": "SCHEDULED",
        "repeatLimit": 2147483647,
        "processId": "timerscycle",
        "lastUpdate": "2020-01-16T20:40:58.206Z",
    }


def test_the_binary_state_event_fixture_with_epoch_dates(sink: FlaskClient) -> None:
    body = fixture("binary_process_instance_event_data.json")

    answer = post_binary(sink, "/processes", "ProcessInstanceStateDataEvent", body)

    [found] = data(
        sink,
        "{ ProcessInstances { id state start roles createdBy"
        " parentProcessInstanceId rootProcessId } }",
    )["ProcessInstances"]
    assert answer.status_code == 202
    assert found["start"] == "2023-10-26T15:05:56.677Z"
    assert found["roles"] == ["admin", "user"]
    assert found["createdBy"] == "admin"
    assert found["parentProcessInstanceId"] == "parent_instance_id"


@pytest.mark.parametrize(
    ("name", "event_type", "path"),
    [
        (
            "binary_process_definition_event.json",
            "ProcessDefinitionEvent",
            "/definitions",
        ),
        ("binary_job_event_data.json", "JobEvent", "/jobs"),
    ],
)
def test_binary_fixtures_are_accepted(
    sink: FlaskClient, name: str, event_type: str, path: str
) -> None:
    answer = post_binary(sink, path, event_type, fixture(name))

    assert answer.status_code == 202


def test_the_legacy_event_fixture_is_refused_with_a_reason(sink: FlaskClient) -> None:
    body = {
        **fixture("process_instance_empty_event.json"),
        "specversion": "1.0",
        "source": "/x",
    }

    answer = post_structured(sink, "/processes", body)

    assert answer.status_code == 400
    assert "legacy Kogito format" in answer.get_json()["message"]


def test_user_task_events_are_refused_as_not_data_index_types(
    sink: FlaskClient,
) -> None:
    answer = post_structured(
        sink, "/processes", fixture("user_task_instance_event.json")
    )

    assert answer.status_code == 400


def test_a_malformed_cloudevent_is_a_400(sink: FlaskClient) -> None:
    answer = sink.post("/", headers={"content-type": "application/json"}, data=b"{}")

    assert answer.status_code == 400


def test_broker_deliveries_at_the_root_path_are_indexed(sink: FlaskClient) -> None:
    for event in sample_runs.completed_run("i-1"):
        post_event(sink, event, path="/")

    found = data(sink, "{ ProcessInstances { id state nodes { name exit } } }")

    assert found["ProcessInstances"][0]["state"] == "COMPLETED"
    assert len(found["ProcessInstances"][0]["nodes"]) == 2


def test_a_duplicate_delivery_is_acknowledged(sink: FlaskClient) -> None:
    event = sample_runs.completed_run("i-1")[0]
    post_event(sink, event)

    answer = post_event(sink, event)

    assert answer.status_code == 202


def test_a_structured_grouped_event_is_indexed_in_one_delivery(
    sink: FlaskClient,
) -> None:
    inner = [e.to_dict() for e in sample_runs.failed_run("i-1")]
    group = Event(
        id="g", source="/t", type="MultipleProcessInstanceDataEvent", data=inner
    )
    headers, body = codec.to_structured_http(group)

    answer = sink.post("/processes", headers=headers, data=body)

    assert answer.status_code == 202
    assert data(sink, "{ ProcessInstances { state } }")["ProcessInstances"] == [
        {"state": "ERROR"}
    ]


def test_health_endpoints_report_up_on_a_migrated_database(sink: FlaskClient) -> None:
    assert sink.get("/health/liveness").status_code == 200
    assert sink.get("/health/readiness").get_json() == {"status": "UP"}


def test_graphiql_is_served_and_points_at_graphql(sink: FlaskClient) -> None:
    answer = sink.get("/graphiql")

    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert 'new URL("/graphql", window.location.href)' in page


def test_a_graphql_request_without_query_is_a_400(sink: FlaskClient) -> None:
    answer = sink.post("/graphql", json={"variables": {}})

    assert answer.status_code == 400


def test_the_function_folder_has_only_the_adapter_files() -> None:
    folder = Path(__file__).resolve().parents[2] / "functions" / "data-index-sink"

    assert {p.name for p in folder.iterdir()} <= {
        "main.py",
        "func.yaml",
        "Dockerfile",
        "__pycache__",
    }
