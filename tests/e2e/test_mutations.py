"""The Data Index management mutations, end to end through `knflow dev`.

Each mutation goes to data-index-sink's GraphQL API, which calls start-workflow's management
API (as the Kogito Data Index calls the runtime); the tests read the effect back from the Data
Index. One stack serves the module; each test runs its own instances of `review`.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from knflow.events import codec
from knflow.events.codec import Event
from tests.conftest import TEST_DATA
from tests.stack import DevStack
from tests.waiting import eventually

INSTANCE = """
query ($id: String) { ProcessInstances(where: {id: {equal: $id}}) {
  state variables executionSummary
  nodes { id name enter exit retrigger errorMessage }
} }
"""


@pytest.fixture(scope="module")
def stack(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevStack]:
    folder = tmp_path_factory.mktemp("workflows")
    shutil.copy(TEST_DATA / "workflows" / "review.sw.json", folder)
    running = DevStack.start(
        workflows_dir=folder,
        database_url=module_database_url,
        work_dir=tmp_path_factory.mktemp("stack"),
    )
    try:
        yield running
    finally:
        running.stop()


def _graphql(stack: DevStack, query: str, variables: dict[str, Any]) -> Any:
    answer = httpx.post(
        f"{stack.url('data-index-sink')}/graphql",
        json={"query": query, "variables": variables},
        timeout=30,
    )
    body = answer.json()
    assert "errors" not in body, body
    return body["data"]


def _instance(stack: DevStack, instance_id: str) -> dict[str, Any]:
    found = _graphql(stack, INSTANCE, {"id": instance_id})["ProcessInstances"]
    return found[0] if found else {}


def _indexed(stack: DevStack, instance_id: str, until: Any) -> dict[str, Any]:
    """Wait until the Data Index shows the instance in a shape `until` accepts."""
    return eventually(lambda: _instance(stack, instance_id), until, timeout=20)


def _waiting_review(stack: DevStack, data: dict[str, Any] | None = None) -> str:
    """Start `review`; return its id once the Data Index shows it waiting in `wait`."""
    answer = httpx.post(
        f"{stack.url('start-workflow')}/review", json=data or {}, timeout=30
    )
    assert answer.status_code == 201, answer.text
    instance_id = str(answer.json()["id"])
    _indexed(stack, instance_id, lambda i: _open(i, "wait"))
    return instance_id


def _open(instance: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [
        n for n in instance.get("nodes") or [] if n["name"] == name and not n["exit"]
    ]


def _mutate(stack: DevStack, mutation: str, **variables: str) -> Any:
    declared = ", ".join(f"${name}: String" for name in variables)
    arguments = ", ".join(f"{name}: ${name}" for name in variables)
    query = f"mutation ({declared}) {{ {mutation}({arguments}) }}"
    answered = _graphql(stack, query, variables)[mutation]
    return json.loads(answered)


def test_triggering_a_state_moves_a_waiting_run_there(stack: DevStack) -> None:
    instance_id = _waiting_review(stack, {"draft": 1})
    nodes = _graphql(
        stack,
        'query { ProcessDefinitions(where: {id: {equal: "review"}}) { nodes { id name } } }',
        {},
    )["ProcessDefinitions"][0]["nodes"]
    [publish] = [n["id"] for n in nodes if n["name"] == "publish"]

    answer = _mutate(stack, "NodeInstanceTrigger", id=instance_id, nodeId=publish)

    assert answer["workflowdata"] == {"draft": 1, "published": True}
    done = _indexed(stack, instance_id, lambda i: i.get("state") == "COMPLETED")
    assert _open(done, "wait") == []


def test_retriggering_a_node_instance_enters_its_state_again(stack: DevStack) -> None:
    instance_id = _waiting_review(stack)
    [waiting] = _open(_instance(stack, instance_id), "wait")

    _mutate(
        stack, "NodeInstanceRetrigger", id=instance_id, nodeInstanceId=waiting["id"]
    )

    again = _indexed(
        stack,
        instance_id,
        lambda i: [n["id"] for n in _open(i, "wait")] not in ([], [waiting["id"]]),
    )
    assert [n["retrigger"] for n in _open(again, "wait")] == [True]
    assert again["state"] == "ACTIVE"
    assert any(
        line.startswith("Workflow retriggered at") for line in again["executionSummary"]
    )


def test_cancelling_a_node_instance_closes_it_and_the_run_stays_active(
    stack: DevStack,
) -> None:
    instance_id = _waiting_review(stack)
    [waiting] = _open(_instance(stack, instance_id), "wait")

    _mutate(stack, "NodeInstanceCancel", id=instance_id, nodeInstanceId=waiting["id"])

    cancelled = _indexed(stack, instance_id, lambda i: not _open(i, "wait"))
    assert cancelled["state"] == "ACTIVE"
    assert not any(
        line.startswith("Workflow waiting") for line in cancelled["executionSummary"]
    )


def test_updating_the_variables_replaces_the_workflow_data(stack: DevStack) -> None:
    instance_id = _waiting_review(stack, {"draft": 1})
    replaced = json.dumps({"workflowdata": {"draft": 2}})

    answer = _mutate(
        stack, "ProcessInstanceUpdateVariables", id=instance_id, variables=replaced
    )

    assert answer == {"id": instance_id, "workflowdata": {"draft": 2}}
    _indexed(
        stack, instance_id, lambda i: i["variables"]["workflowdata"] == {"draft": 2}
    )
    _send_review(stack, instance_id)
    done = _indexed(stack, instance_id, lambda i: i.get("state") == "COMPLETED")
    assert done["variables"]["workflowdata"] == {
        "draft": 2,
        "review": {"by": "ann"},
        "published": True,
    }


def _send_review(stack: DevStack, instance_id: str) -> None:
    event = Event(
        id=str(uuid.uuid4()),
        source="tests",
        type="org.example.reviewed",
        data={"by": "ann"},
        extensions={"kogitoprocrefid": instance_id},
    )
    headers, body = codec.to_binary_http(event)
    answer = httpx.post(stack.broker_url, headers=headers, content=body, timeout=10)
    assert answer.status_code == 202
