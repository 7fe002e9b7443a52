"""The Orchestrator plugin's Data Index queries, over POST and GET, against real runs.

One `knflow dev` stack serves the module: it runs a completed, a failed, a waiting and a
parent/child instance through start-workflow, and the queries read what the runtime's events
built in the Data Index (the query texts are the plugin's, see tests/graphql/plugin_queries.py).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_DATA
from tests.graphql.plugin_queries import Q5_BODY, Q11
from tests.peers import HttpPeer, Reply, started_peer
from tests.stack import DevStack

METHODS = pytest.mark.parametrize("method", ["POST", "GET"])
Q5 = (
    "query ($paginationInfo: Pagination, $orderByInfo: ProcessInstanceOrderBy)"
    "{ProcessInstances ( where: {and: [{processId: {isNull: false}},"
    ' {processId: {in: ["greetrest", "waiter", "parent", "child"]}}]}, orderBy: $orderByInfo,'
    " pagination: $paginationInfo) " + Q5_BODY + " }"
)


@dataclass(frozen=True)
class Runs:
    """The stack and the ids of the runs it made."""

    stack: DevStack
    completed: str
    failed: str
    waiting: str
    parent: str


@pytest.fixture(scope="module")
def peer() -> Iterator[HttpPeer]:
    yield from started_peer()


@pytest.fixture(scope="module")
def runs(
    module_database_url: str,
    peer: HttpPeer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Runs]:
    folder = tmp_path_factory.mktemp("workflows")
    for file in (
        "greet-rest.sw.json",
        "waiter.sw.json",
        "parent.sw.json",
        "child.sw.json",
    ):
        shutil.copy(TEST_DATA / "workflows" / file, folder / file)
    peer.route("POST", "/greet/en", Reply(body={"greeting": "Hello"}))
    peer.route("POST", "/greet/fr", Reply(status=500, body={"error": "down"}))
    stack = DevStack.start(
        workflows_dir=folder,
        database_url=module_database_url,
        work_dir=tmp_path_factory.mktemp("stack"),
        env={"KNFLOW_FUNCTION_URL_greet": peer.url},
    )
    try:
        start = stack.url("start-workflow")
        made = Runs(
            stack=stack,
            completed=_start(
                start,
                "greetrest",
                {
                    "workflowdata": {"language": "en"},
                    "targetEntity": "component:default/x",
                    "initiatorEntity": "user:default/ann",
                },
            ),
            failed=_start(start, "greetrest", {"language": "fr"}),
            waiting=_start(start, "waiter", {}),
            parent=_start(start, "parent", {"n": 2}),
        )
        _wait_for_index(made)
        yield made
    finally:
        stack.stop()


def _start(base: str, workflow_id: str, body: dict[str, Any]) -> str:
    answer = httpx.post(f"{base}/{workflow_id}", json=body, timeout=30)
    assert answer.status_code in (201, 500), answer.text  # 500: the run meant to fail
    return str(answer.json()["id"])


def _gql(
    runs: Runs,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    method: str = "POST",
) -> Any:
    url = f"{runs.stack.url('data-index-sink')}/graphql"
    if method == "GET":
        params = {
            "query": query,
            **({"variables": json.dumps(variables)} if variables else {}),
        }
        answer = httpx.get(url, params=params, timeout=10)
    else:
        answer = httpx.post(
            url, json={"query": query, "variables": variables or {}}, timeout=10
        )
    body = answer.json()
    assert "errors" not in body, body
    return body["data"]


def _wait_for_index(runs: Runs) -> None:
    """Wait until the Data Index shows every run in its final shape (events arrive unordered)."""
    query = "{ ProcessInstances { id processId state variables error { message } parentProcessInstance { id } } }"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = {i["id"]: i for i in _gql(runs, query)["ProcessInstances"]}
        completed = found.get(runs.completed, {})
        ready = (
            completed.get("state") == "COMPLETED"
            and (completed.get("variables") or {})
            .get("workflowdata", {})
            .get("greeting")
            == "Hello"
            and (found.get(runs.failed, {}).get("error") or {}).get("message")
            and found.get(runs.waiting, {}).get("state") == "ACTIVE"
            and any(
                (i.get("parentProcessInstance") or {}).get("id") == runs.parent
                for i in found.values()
            )
        )
        if ready:
            return
        time.sleep(0.1)
    raise AssertionError("the Data Index did not show the runs")


@METHODS
def test_the_runs_list_shows_every_run_newest_first(runs: Runs, method: str) -> None:
    variables = {
        "paginationInfo": {"limit": 10, "offset": 0},
        "orderByInfo": {"start": "DESC"},
    }
    found = _gql(runs, Q5, variables, method=method)["ProcessInstances"]
    states = {i["id"]: i["state"] for i in found}
    assert states[runs.completed] == "COMPLETED"
    assert states[runs.failed] == "ERROR"
    assert states[runs.waiting] == "ACTIVE"
    starts = [i["start"] for i in found]
    assert starts == sorted(starts, reverse=True)
    assert all(start.endswith("Z") for start in starts)


def test_a_child_run_names_its_parent(runs: Runs) -> None:
    variables = {
        "paginationInfo": {"limit": 10, "offset": 0},
        "orderByInfo": {"start": "DESC"},
    }
    found = _gql(runs, Q5, variables)["ProcessInstances"]
    child = next(i for i in found if i["processId"] == "child")
    assert child["parentProcessInstance"]["id"] == runs.parent


@METHODS
def test_the_details_page_of_a_failed_run(runs: Runs, method: str) -> None:
    [found] = _gql(runs, Q11, {"instanceId": runs.failed}, method=method)[
        "ProcessInstances"
    ]
    assert found["state"] == "ERROR"
    assert found["serviceUrl"] == runs.stack.url("start-workflow")
    assert "500" in found["error"]["message"]
    assert any(node["name"] == "greet" for node in found["nodes"])
    assert found["executionSummary"][0].startswith("Workflow started at")
    assert found["executionSummary"][-1].startswith("Workflow failed with error")


def test_the_last_run_for_a_target_entity(runs: Runs) -> None:
    query = (
        "query ($definitionId: String, $targetEntity: String) { ProcessInstances("
        " where: {processId: {equal: $definitionId }, variables: {targetEntity:"
        " {equal: $targetEntity } } }, orderBy: {start:DESC},"
        " pagination: {limit: 1, offset: 0}) { id, state } }"
    )
    variables = {"definitionId": "greetrest", "targetEntity": "component:default/x"}
    assert _gql(runs, query, variables)["ProcessInstances"] == [
        {"id": runs.completed, "state": "COMPLETED"}
    ]


@METHODS
def test_a_run_shows_its_workflow_data_and_variables(runs: Runs, method: str) -> None:
    query = f'{{ ProcessInstances (where: {{ id: {{equal: "{runs.completed}" }} }} ) {{ variables }} }}'
    [found] = _gql(runs, query, method=method)["ProcessInstances"]
    assert found["variables"]["workflowdata"]["greeting"] == "Hello"
    assert found["variables"]["initiatorEntity"] == "user:default/ann"


@METHODS
def test_definitions_carry_their_service_url_and_source(
    runs: Runs, method: str
) -> None:
    query = '{ ProcessDefinitions(where: {id: {equal: "greetrest"}}) { id, name, serviceUrl, source, metadata } }'
    [found] = _gql(runs, query, method=method)["ProcessDefinitions"]
    assert found["serviceUrl"] == runs.stack.url("start-workflow")
    assert '"id": "greetrest"' in found["source"]
    assert found["metadata"]["status"] == "available"
