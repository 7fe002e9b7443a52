"""start-workflow end to end through its real entry module: the SonataFlow REST shapes."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from knflow.events import codec, types
from knflow.events.codec import Event
from tests.conftest import REFERENCE_DATA, TEST_DATA
from tests.functions.conftest import FunctionClient
from tests.peers import HttpPeer, Recorded, Reply
from tests.waiting import eventually

EXAMPLES = REFERENCE_DATA / "sonataflow-examples"


@pytest.fixture
def api(
    function_client: FunctionClient,
    register: Callable[[Path], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    http_peer: HttpPeer,
) -> FlaskClient:
    monkeypatch.setenv("KNFLOW_FUNCTION_URL_greet", http_peer.url)
    for name in (
        "greet-rest.sw.json",
        "waiter.sw.json",
        "parent.sw.json",
        "child.sw.json",
    ):
        shutil.copy(TEST_DATA / "workflows" / name, tmp_path / name)
    shutil.copy(
        EXAMPLES / "serverless-workflow-hello-world" / "hello.sw.json", tmp_path
    )
    for name in ("expression.sw.json", "schema"):
        source = EXAMPLES / "serverless-workflow-expression-quarkus" / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    register(tmp_path)
    return function_client("start-workflow")


def test_post_starts_an_instance_and_answers_201_with_its_output(
    api: FlaskClient,
) -> None:
    answer = api.post("/hello_world", json={})
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["workflowdata"] == {
        "greeting": "Hello World",
        "mantra": "Serverless Workflow is awesome!",
    }
    assert answer.headers["location"] == f"/hello_world/{body['id']}"


def test_workflowdata_wrapper_keeps_other_keys_as_variables(
    api: FlaskClient, pool: object
) -> None:
    answer = api.post(
        "/hello_world",
        json={"workflowdata": {"x": 1}, "initiatorEntity": "user:default/ann"},
    )
    body = answer.get_json()
    assert body["workflowdata"]["x"] == 1
    with pool.connection() as conn:  # type: ignore[attr-defined]
        variables = conn.execute(
            "SELECT variables FROM instances WHERE id = %s", (body["id"],)
        ).fetchone()[0]
    assert variables == {"initiatorEntity": "user:default/ann"}


def test_unknown_workflow_is_404_with_a_json_message(api: FlaskClient) -> None:
    answer = api.post("/nope", json={})
    assert answer.status_code == 404
    assert "nope" in answer.get_json()["message"]


def test_malformed_json_is_400(api: FlaskClient) -> None:
    answer = api.post("/hello_world", data=b"{oops", content_type="application/json")
    assert answer.status_code == 400
    assert "not valid JSON" in answer.get_json()["message"]


def test_input_violating_the_schema_is_400_naming_the_field(api: FlaskClient) -> None:
    answer = api.post("/expression", json={"numbers": [{"x": "two"}]})
    assert answer.status_code == 400
    body = answer.get_json()
    assert "numbers/0" in body["message"]
    assert "details" in body


def test_a_failure_in_the_synchronous_part_names_the_failed_node(
    api: FlaskClient, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/greet/en", Reply(status=500, body={"error": "down"}))
    answer = api.post("/greetrest", json={"language": "en"})
    body = answer.get_json()
    assert answer.status_code == 500
    assert set(body) >= {"id", "message", "failedNodeId"}
    assert "500" in body["message"]
    assert body["failedNodeId"]


def test_active_instances_are_listed_and_readable_until_they_end(
    api: FlaskClient,
) -> None:
    started = api.post("/waiter", json={"who": "ann"}).get_json()
    assert api.get(f"/waiter/{started['id']}").status_code == 200
    assert [i["id"] for i in api.get("/waiter").get_json()] == [started["id"]]
    assert (
        api.delete(
            f"/management/processes/waiter/instances/{started['id']}"
        ).status_code
        == 200
    )
    assert api.get(f"/waiter/{started['id']}").status_code == 404
    assert api.get("/waiter").get_json() == []


def test_management_lists_and_describes_definitions_with_resolved_schema(
    api: FlaskClient,
) -> None:
    assert set(api.get("/management/processes").get_json()) >= {
        "hello_world",
        "expression",
        "waiter",
    }
    described = api.get("/management/processes/expression").get_json()
    assert described["id"] == "expression"
    assert described["type"] == "SW"
    schema = described["inputSchema"]
    reference = schema["properties"]["numbers"]["items"]["$ref"]
    assert reference.startswith(
        "#/"
    )  # the relative file was inlined into the schema itself
    assert schema["definitions"]["complex"]["required"] == ["x", "y"]
    source = api.get("/management/processes/hello_world/source")
    assert b'"id": "hello_world"' in source.data


def test_retrigger_reruns_the_failed_state(
    api: FlaskClient, http_peer: HttpPeer
) -> None:
    http_peer.queue("POST", "/greet/en", Reply(status=500, body={}))
    http_peer.route("POST", "/greet/en", Reply(body={"greeting": "Hi"}))
    failed = api.post("/greetrest", json={"language": "en"}).get_json()
    error = api.get(
        f"/management/processes/greetrest/instances/{failed['id']}/error"
    ).get_json()
    assert error["id"] == failed["id"]
    assert error["failedNodeId"] == failed["failedNodeId"]
    retried = api.post(
        f"/management/processes/greetrest/instances/{failed['id']}/retrigger"
    )
    assert retried.status_code == 200
    assert retried.get_json()["workflowdata"]["greeting"] == "Hi"


def test_put_replaces_the_data_of_a_running_instance(api: FlaskClient) -> None:
    started = api.post("/waiter", json={"who": "ann"}).get_json()

    answer = api.put(f"/waiter/{started['id']}", json={"workflowdata": {"who": "bo"}})

    assert answer.status_code == 200
    assert answer.get_json() == {"id": started["id"], "workflowdata": {"who": "bo"}}
    assert api.get(f"/waiter/{started['id']}").get_json()["workflowdata"] == {
        "who": "bo"
    }


def test_put_with_a_body_that_is_not_an_object_is_400(api: FlaskClient) -> None:
    started = api.post("/waiter", json={}).get_json()

    answer = api.put(f"/waiter/{started['id']}", json=[1])

    assert answer.status_code == 400
    assert "JSON object" in answer.get_json()["message"]


def test_node_management_answers_404_naming_what_is_unknown(api: FlaskClient) -> None:
    started = api.post("/waiter", json={}).get_json()
    base = f"/management/processes/waiter/instances/{started['id']}"

    trigger = api.post(f"{base}/nodes/nope")
    cancel = api.delete(f"{base}/nodeInstances/nope")

    assert trigger.status_code == cancel.status_code == 404
    assert "node 'nope'" in trigger.get_json()["message"]
    assert "node instance 'nope' is not running" in cancel.get_json()["message"]


def test_a_retriggered_node_that_fails_again_answers_500_with_the_error(
    api: FlaskClient, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/greet/en", Reply(status=500, body={}))
    failed = api.post("/greetrest", json={"language": "en"}).get_json()
    base = f"/management/processes/greetrest/instances/{failed['id']}"

    answer = api.post(f"{base}/nodeInstances/{failed['failedNodeId']}")

    assert answer.status_code == 500
    assert answer.get_json()["failedNodeName"] == "greet"
    assert answer.get_json()["failedNodeId"] != failed["failedNodeId"]


def test_skip_leaves_a_waiting_state_through_its_exit(api: FlaskClient) -> None:
    started = api.post("/waiter", json={}).get_json()
    skipped = api.post(f"/management/processes/waiter/instances/{started['id']}/skip")
    assert skipped.status_code == 200
    assert api.get(f"/waiter/{started['id']}").status_code == 404


def test_error_of_an_instance_not_in_error_is_a_conflict(api: FlaskClient) -> None:
    started = api.post("/waiter", json={}).get_json()
    answer = api.get(f"/management/processes/waiter/instances/{started['id']}/error")
    assert answer.status_code == 409
    assert "not in error" in answer.get_json()["message"]


def test_a_subflow_runs_within_the_start_request(api: FlaskClient) -> None:
    answer = api.post("/parent", json={"n": 2})
    assert answer.status_code == 201
    assert answer.get_json()["workflowdata"]["fromChild"] == {
        "doubled": 4,
        "child": True,
    }


def test_health_endpoints_answer(api: FlaskClient) -> None:
    assert api.get("/health/liveness").status_code == 200
    assert api.get("/health/readiness").get_json() == {"status": "UP"}


def _configmap_event(event_type: str, text: str) -> tuple[dict[str, str], bytes]:
    configmap = {
        "kind": "ConfigMap",
        "metadata": {"name": "wf-late", "labels": {"knflow.dev/workflow": "late"}},
        "data": {"late.sw.json": text},
    }
    event = Event(
        id=f"cm-{event_type}", source="apiserver", type=event_type, data=configmap
    )
    return codec.to_binary_http(event)


def test_a_definition_configmap_registers_then_withdraws_the_workflow(
    api: FlaskClient,
) -> None:
    text = json.dumps(
        {
            "id": "late",
            "specVersion": "0.8",
            "start": "s",
            "states": [
                {"name": "s", "type": "inject", "data": {"late": True}, "end": True}
            ],
        }
    )
    headers, body = _configmap_event(types.APISERVER_RESOURCE_ADD, text)
    added = api.post("/management/definitions/events", data=body, headers=headers)
    assert added.status_code == 202
    assert api.post("/late", json={}).get_json()["workflowdata"] == {"late": True}
    headers, body = _configmap_event(types.APISERVER_RESOURCE_DELETE, text)
    removed = api.post("/management/definitions/events", data=body, headers=headers)
    assert removed.get_json() == {"unavailable": ["late"]}
    assert api.post("/late", json={}).status_code == 404


def test_a_configmap_changed_back_to_an_earlier_definition_announces_it(
    api: FlaskClient, pool: ConnectionPool
) -> None:
    for late in (1, 2, 1):
        text = json.dumps(
            {
                "id": "late",
                "specVersion": "0.8",
                "start": "s",
                "states": [
                    {"name": "s", "type": "inject", "data": {"late": late}, "end": True}
                ],
            }
        )
        headers, body = _configmap_event(types.APISERVER_RESOURCE_UPDATE, text)
        api.post("/management/definitions/events", data=body, headers=headers)

    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT event FROM outbox WHERE event_type = %s ORDER BY id",
            (types.PROCESS_DEFINITION,),
        ).fetchall()
    announced = [
        event["data"]["source"] for (event,) in rows if event["data"]["id"] == "late"
    ]
    assert ['"late": 1' in source for source in announced] == [True, False, True]


def test_x_authorization_headers_are_forwarded_to_functions(
    api: FlaskClient, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/greet/en", Reply(body={"greeting": "Hi"}))
    api.post(
        "/greetrest",
        json={"language": "en"},
        headers={
            "X-Authorization-Github": "token-1",
            "Authorization": "Bearer private",
        },
    )
    forwarded = http_peer.received("POST", "/greet/en")[0].headers
    assert forwarded["x-authorization-github"] == "token-1"
    assert (
        "authorization" not in forwarded
    )  # the caller's own credentials stay with the caller


def test_an_error_message_metadata_failure_answers_400(
    api: FlaskClient, tmp_path: Path, register: Callable[[Path], list[str]]
) -> None:
    folder = tmp_path / "metadata"
    folder.mkdir()
    (folder / "odd.sw.json").write_text(
        json.dumps(
            {
                "id": "odd",
                "specVersion": "0.8",
                "start": "check",
                "states": [
                    {
                        "name": "check",
                        "type": "inject",
                        "data": {},
                        "metadata": {
                            "errorMessage": '${ if .number % 2 == 1 then "Is Odd number!!!!" else null end }'
                        },
                        "end": True,
                    }
                ],
            }
        )
    )
    register(folder)
    odd = api.post("/odd", json={"number": 12341})
    assert odd.status_code == 400
    assert odd.get_json()["message"] == "Is Odd number!!!!"
    assert api.post("/odd", json={"number": 12342}).status_code == 201


def test_the_answer_does_not_wait_for_the_broker_and_the_events_follow(
    api: FlaskClient, monkeypatch: pytest.MonkeyPatch, pool: ConnectionPool
) -> None:
    broker = HttpPeer().start()
    release = threading.Event()
    answered: list[str] = []

    def slow_broker(request: Recorded) -> Reply:
        release.wait(30)
        answered.append(request.path)
        return Reply(status=202, body={})

    broker.route("POST", "/", slow_broker)
    monkeypatch.setenv("K_SINK", broker.url)
    try:
        client = api.application.test_client()  # the same function, now with a sink
        started = [client.post("/hello_world", json={}) for _ in range(2)]
        for answer in started:
            answer.close()  # as a WSGI server does once the answer is sent
        assert [answer.status_code for answer in started] == [201, 201]
        assert (
            answered == []
        )  # both answers came while the broker held the first delivery
        broker.wait_for(1, method="POST", path="/")
        release.set()
        ids = {answer.get_json()["id"] for answer in started}
        delivered = eventually(
            lambda: _delivered_instances(broker), lambda seen: seen >= ids
        )
        assert delivered == ids
        eventually(lambda: _unsent(pool), lambda unsent: unsent == 0)
    finally:
        release.set()
        broker.stop()


def test_the_events_of_a_request_are_handed_over_once_its_answer_was_sent(
    api: FlaskClient, monkeypatch: pytest.MonkeyPatch, pool: ConnectionPool
) -> None:
    broker = HttpPeer().start()
    broker.route("POST", "/", Reply(status=202, body={}))
    monkeypatch.setenv("K_SINK", broker.url)
    monkeypatch.setenv("KNFLOW_SWEEP_DELAY_SECONDS", "0")  # no sweep sends them either
    try:
        client = api.application.test_client()
        answer = client.post("/hello_world", json={})
        assert answer.status_code == 201
        instance_id = answer.get_json()["id"]
        assert _unsent(pool, instance_id) > 0
        assert broker.received("POST", "/") == []

        answer.close()  # the server closes the answer once it is sent

        broker.wait_for(1, method="POST", path="/")
        assert _delivered_instances(broker) == {instance_id}
        eventually(lambda: _unsent(pool, instance_id), lambda unsent: unsent == 0)
    finally:
        broker.stop()


def _delivered_instances(broker: HttpPeer) -> set[str]:
    return {
        str(request.headers.get("ce-kogitoprocinstanceid"))
        for request in broker.received("POST", "/")
    }


def _unsent(pool: ConnectionPool, instance_id: str | None = None) -> int:
    """Count the outbox rows not sent yet (of one instance, when given)."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
            " AND (%(id)s::text IS NULL OR instance_id = %(id)s)",
            {"id": instance_id},
        ).fetchone()
    assert row is not None
    return int(row[0])
