"""`knflow index rebuild` against a live stack: the rebuilt Data Index answers as the live one.

A `knflow dev` stack runs a completed, a failed, a retriggered, a waiting and a parent/child
run; the live Data Index (built by data-index-sink from the runtime's events) answers the
plugin's queries; then `knflow index rebuild` recomputes the projection from the runtime's
tables and every answer must be the same, ids and metadata keys included.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from knflow import cli
from tests.conftest import TEST_DATA
from tests.graphql.plugin_queries import Q5_BODY, Q11, recorded_calls
from tests.peers import HttpPeer, Reply
from tests.stack import DevStack
from tests.waiting import eventually

WORKFLOW_IDS = ["greetrest", "waiter", "parent", "child"]
Q4 = (
    "query ($paginationInfo: Pagination, $orderByInfo: ProcessDefinitionOrderBy)"
    " { ProcessDefinitions(where: {id: {in: " + json.dumps(WORKFLOW_IDS) + "}},"
    " orderBy: $orderByInfo, pagination: $paginationInfo)"
    " { id name version type endpoint serviceUrl source metadata } }"
)
Q5 = (
    "query ($paginationInfo: Pagination, $orderByInfo: ProcessInstanceOrderBy)"
    "{ProcessInstances ( where: {and: [{processId: {isNull: false}},"
    " {processId: {in: " + json.dumps(WORKFLOW_IDS) + "}}]}, orderBy: $orderByInfo,"
    " pagination: $paginationInfo) " + Q5_BODY + " }"
)
PAGE = {"paginationInfo": {"limit": 50, "offset": 0}, "orderByInfo": {"start": "ASC"}}
BY_NAME = {"paginationInfo": {}, "orderByInfo": {"name": "ASC"}}
NODES = (
    "{ ProcessDefinitions { id version"
    " nodes { id name type uniqueId metadata { UniqueId state } } } }"
)


def test_a_rebuilt_data_index_answers_the_plugins_queries_as_the_live_one(
    dev_stack_factory: Callable[..., DevStack],
    tmp_path: Path,
    http_peer: HttpPeer,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = _stack_with_runs(dev_stack_factory, tmp_path, http_peer, database_url)
    live = _settled_answers(stack, database_url)

    monkeypatch.setenv("KNFLOW_SERVICE_URL", stack.url("start-workflow"))
    assert cli.main(["index", "rebuild", "--database-url", database_url]) == 0

    rebuilt = _answers(stack, database_url)
    assert {k: rebuilt[k] for k in live if rebuilt[k] != live[k]} == {
        k: live[k] for k in live if rebuilt[k] != live[k]
    }


def _stack_with_runs(
    dev_stack_factory: Callable[..., DevStack],
    tmp_path: Path,
    http_peer: HttpPeer,
    database_url: str,
) -> DevStack:
    folder = tmp_path / "workflows"
    folder.mkdir()
    for name in ("greet-rest", "waiter", "parent", "child"):
        shutil.copy(TEST_DATA / "workflows" / f"{name}.sw.json", folder)
    http_peer.route("POST", "/greet/en", Reply(body={"greeting": "Hello"}))
    http_peer.route("POST", "/greet/fr", Reply(status=500, body={"error": "down"}))
    http_peer.queue("POST", "/greet/de", Reply(status=500, body={}))
    http_peer.route("POST", "/greet/de", Reply(body={"greeting": "Hallo"}))
    stack = dev_stack_factory(folder, env={"KNFLOW_FUNCTION_URL_greet": http_peer.url})
    base = stack.url("start-workflow")
    for workflow_id, body in [
        ("greetrest", {"language": "en"}),
        ("greetrest", {"language": "fr"}),
        ("waiter", {}),
        ("parent", {"n": 2}),
    ]:
        httpx.post(f"{base}/{workflow_id}", json=body, timeout=30)
    again = httpx.post(f"{base}/greetrest", json={"language": "de"}, timeout=30)
    retrigger = f"/management/processes/greetrest/instances/{again.json()['id']}"
    assert httpx.post(f"{base}{retrigger}/retrigger", timeout=30).status_code == 200
    return stack


def _settled_answers(stack: DevStack, database_url: str) -> dict[str, Any]:
    """The live answers, once every event was sent and the Data Index stopped changing."""
    seen: list[dict[str, Any]] = []

    def unchanged(answers: dict[str, Any]) -> bool:
        settled = bool(seen) and answers == seen[-1] and _all_sent(database_url)
        seen.append(answers)
        return settled and len(answers["Q5"]["ProcessInstances"]) == 6

    return eventually(lambda: _answers(stack, database_url), unchanged, timeout=30)


def _all_sent(database_url: str) -> bool:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
        ).fetchone()
    return row is not None and row[0] == 0


def _answers(stack: DevStack, database_url: str) -> dict[str, Any]:
    """Every query shape the plugin sent, and the plugin's queries about these runs."""
    answers = {
        f"recorded-{number}": _graphql(stack, call.query, call.variables)
        for number, call in enumerate(recorded_calls())
    }
    answers["Q4"] = _graphql(stack, Q4, BY_NAME)
    answers["Q5"] = _graphql(stack, Q5, PAGE)
    answers["nodes"] = _graphql(stack, NODES, {})
    for found in answers["Q5"]["ProcessInstances"]:
        answers[f"Q11-{found['id']}"] = _graphql(
            stack, Q11, {"instanceId": found["id"]}
        )
    return answers


def _graphql(stack: DevStack, query: str, variables: dict[str, Any]) -> Any:
    answer = httpx.post(
        f"{stack.url('data-index-sink')}/graphql",
        json={"query": query, "variables": variables},
        timeout=30,
    )
    body = answer.json()
    assert "errors" not in body, body
    return body["data"]
