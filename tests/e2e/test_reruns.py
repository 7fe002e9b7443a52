"""Rerun modes end to end through `knflow dev`, read back as the Orchestrator plugin reads them.

"From failure point" (retrigger) keeps each failed attempt's nodes with their errors and
numbers the attempts; "entire workflow" (rerun) starts a new instance that names the first;
the bulk retrigger takes an operator's range of failures. One stack serves the module; each
test calls its own language of the `greet` stand-in, so their scripted failures stay apart.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_DATA
from tests.peers import HttpPeer, Reply, started_peer
from tests.stack import DevStack
from tests.waiting import eventually

INSTANCE = """
query ($id: String) { ProcessInstances(where: {id: {equal: $id}}) {
  id state variables executionSummary
  error { nodeDefinitionId nodeInstanceId message }
  nodes { id nodeId definitionId type name enter exit errorMessage retrigger }
} }
"""
STATE_NODE = "CompositeContextNode"


@pytest.fixture(scope="module")
def peer() -> Iterator[HttpPeer]:
    yield from started_peer()


@pytest.fixture(scope="module")
def stack(
    module_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    peer: HttpPeer,
) -> Iterator[DevStack]:
    folder = tmp_path_factory.mktemp("workflows")
    shutil.copy(TEST_DATA / "workflows" / "greet-rest.sw.json", folder)
    running = DevStack.start(
        workflows_dir=folder,
        database_url=module_database_url,
        work_dir=tmp_path_factory.mktemp("stack"),
        env={"KNFLOW_FUNCTION_URL_greet": peer.url},
    )
    try:
        yield running
    finally:
        running.stop()


def _instance(stack: DevStack, instance_id: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{stack.url('data-index-sink')}/graphql",
        json={"query": INSTANCE, "variables": {"id": instance_id}},
        timeout=30,
    ).json()
    assert "errors" not in answer, answer
    found = answer["data"]["ProcessInstances"]
    return found[0] if found else {}


def _indexed(stack: DevStack, instance_id: str, until: Any) -> dict[str, Any]:
    return eventually(lambda: _instance(stack, instance_id), until, timeout=20)


def _failed_start(stack: DevStack, peer: HttpPeer, language: str, times: int) -> str:
    """Start greetrest in `language`, whose service fails `times` times, then answers."""
    path = f"/greet/{language}"
    peer.queue("POST", path, *[Reply(status=500, body={"error": "down"})] * times)
    peer.route("POST", path, Reply(body={"greeting": f"Hi ({language})"}))
    answer = httpx.post(
        f"{stack.url('start-workflow')}/greetrest",
        json={"language": language},
        timeout=30,
    )
    assert answer.status_code == 500, answer.text
    return str(answer.json()["id"])


def _post(stack: DevStack, path: str, body: Any = None) -> httpx.Response:
    return httpx.post(f"{stack.url('start-workflow')}{path}", json=body, timeout=60)


def _visits(instance: dict[str, Any]) -> list[dict[str, Any]]:
    """The instance's state visits (not actions), in the order they were entered."""
    states = [n for n in instance["nodes"] if n["type"] == STATE_NODE]
    return sorted(states, key=lambda n: n["enter"])


def test_each_retrigger_keeps_the_failed_attempt_and_numbers_the_new_one(
    stack: DevStack, peer: HttpPeer
) -> None:
    instance_id = _failed_start(stack, peer, "de", times=2)
    retrigger = f"/management/processes/greetrest/instances/{instance_id}/retrigger"

    assert _post(stack, retrigger).status_code == 200
    failed_again = _indexed(
        stack, instance_id, lambda i: i.get("variables", {}).get("attempt") == 2
    )
    assert _post(stack, retrigger).status_code == 200
    done = _indexed(stack, instance_id, lambda i: i.get("state") == "COMPLETED")

    assert failed_again["state"] == "ERROR"
    assert failed_again["error"]["message"].startswith("function 'greet'")
    visits = _visits(done)
    assert [(bool(v["retrigger"]), bool(v["errorMessage"])) for v in visits] == [
        (False, True),
        (True, True),
        (True, False),
    ]
    assert all(v["exit"] for v in visits)
    assert done["variables"]["attempt"] == 3
    assert done["error"] is None
    assert (
        sum(
            line.startswith("Workflow retriggered") for line in done["executionSummary"]
        )
        == 2
    )


def test_a_rerun_is_a_new_instance_that_names_the_first(
    stack: DevStack, peer: HttpPeer
) -> None:
    failed_id = _failed_start(stack, peer, "fr", times=1)

    answer = _post(
        stack, f"/management/processes/greetrest/instances/{failed_id}/rerun"
    )

    assert answer.status_code == 201, answer.text
    rerun_id = answer.json()["id"]
    rerun = _indexed(stack, rerun_id, lambda i: i.get("state") == "COMPLETED")
    assert rerun["variables"]["rerunOf"] == failed_id
    assert rerun["variables"]["workflowdata"] == {
        "language": "fr",
        "greeting": "Hi (fr)",
    }
    assert _instance(stack, failed_id)["state"] == "ERROR"


def test_a_bulk_retrigger_runs_the_failures_of_a_range_again(
    stack: DevStack, peer: HttpPeer
) -> None:
    since = datetime.now(UTC)
    failed = [_failed_start(stack, peer, "it", times=1) for _ in range(2)]

    answer = _post(
        stack,
        "/management/processes/greetrest/instances/retrigger",
        {"failedAfter": since.isoformat()},
    )

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert sorted(i["id"] for i in report["instances"]) == sorted(failed)
    assert report["remaining"] == 0
    for instance_id in failed:
        done = _indexed(stack, instance_id, lambda i: i.get("state") == "COMPLETED")
        assert done["variables"]["attempt"] == 2


def test_the_bulk_retrigger_mutation_reports_through_the_data_index(
    stack: DevStack, peer: HttpPeer
) -> None:
    since = datetime.now(UTC)
    failed_id = _failed_start(stack, peer, "es", times=1)
    mutation = (
        "mutation ($after: DateTime) { ProcessInstancesRetrigger("
        'processId: "greetrest", failedAfter: $after) }'
    )

    answer = httpx.post(
        f"{stack.url('data-index-sink')}/graphql",
        json={"query": mutation, "variables": {"after": since.isoformat()}},
        timeout=60,
    ).json()

    assert "errors" not in answer, answer
    report = json.loads(answer["data"]["ProcessInstancesRetrigger"])
    assert [(i["id"], i["outcome"]) for i in report["instances"]] == [
        (failed_id, "RETRIGGERED")
    ]
    _indexed(stack, failed_id, lambda i: i.get("state") == "COMPLETED")
