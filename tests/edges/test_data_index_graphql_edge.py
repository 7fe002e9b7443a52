"""data-index-sink's GraphQL edge: every request bounded in depth, aliases, cost and time.

Each refusal is a GraphQL error naming the limit and its setting, answered quickly; no
answer carries a traceback, SQL text or exception class.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.edges.refusals import assert_no_leak, assert_refused, assert_up, nested
from tests.stack import DevStack

STATEMENT_TIMEOUT_MS = 1000


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """A short statement timeout, so that an expensive filter reaches it quickly."""
    return {"KNFLOW_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS)}


@pytest.fixture(scope="module")
def index(stack: DevStack) -> Iterator[str]:
    """data-index-sink's base URL; after the module, it must still be up."""
    url = stack.url("data-index-sink")
    yield url
    assert_up(url)


def _query(index: str, query: str, variables: Any = None) -> httpx.Response:
    body = {"query": query, "variables": variables}
    return httpx.post(f"{index}/graphql", json=body, timeout=60)


def _error(answer: httpx.Response, *words: str) -> str:
    return assert_refused(answer, 200, *words)


def test_a_thousand_aliases_are_refused_at_once_naming_a_limit(index: str) -> None:
    fields = " ".join(f"a{n}: ProcessInstances {{ id }}" for n in range(1000))
    started = time.monotonic()
    answer = _query(index, "{ " + fields + " }")
    _error(answer, "KNFLOW_GRAPHQL_MAX_TOKENS")
    assert "data" not in answer.json()
    assert time.monotonic() - started < 10


def test_more_aliases_than_the_limit_are_refused_naming_it(index: str) -> None:
    fields = " ".join(f"a{n}: ProcessInstances {{ id }}" for n in range(300))
    answer = _query(index, "{ " + fields + " }")
    _error(answer, "300 aliases", "KNFLOW_GRAPHQL_MAX_ALIASES")
    assert "data" not in answer.json()


def test_a_fragment_bomb_is_refused_by_its_cost(index: str) -> None:
    fragments = ["fragment F0 on ProcessInstance { id processId }"]
    for level in range(1, 20):
        spreads = " ".join(f"...F{level - 1}" for _ in range(2))
        fragments.append(f"fragment F{level} on ProcessInstance {{ {spreads} }}")
    query = "{ ProcessInstances { ...F19 } } " + " ".join(fragments)
    _error(_query(index, query), "KNFLOW_GRAPHQL_MAX_COST")


def test_a_query_deeper_than_the_limit_is_refused_naming_it(index: str) -> None:
    nested_fields = "parentProcessInstance { " * 20 + "id" + " }" * 20
    answer = _query(index, "{ ProcessInstances { " + nested_fields + " } }")
    _error(answer, "KNFLOW_GRAPHQL_MAX_DEPTH")


def test_a_query_nested_ten_thousand_levels_is_a_syntax_error(index: str) -> None:
    query = "{" + "a{" * 10_000 + "b" + "}" * 10_000 + "}"
    answer = _query(index, query)
    assert answer.status_code == 200
    assert_no_leak(answer.text)
    assert answer.json()["errors"][0]["extensions"]["classification"] == "InvalidSyntax"


def test_a_query_with_too_many_tokens_is_refused_naming_the_limit(index: str) -> None:
    query = "{ ProcessInstances { " + "id " * 6000 + "} }"
    _error(_query(index, query), "KNFLOW_GRAPHQL_MAX_TOKENS")


def test_deep_variables_are_400_naming_the_depth_limit(index: str) -> None:
    body = (
        '{"query": "{ ProcessInstances { id } }", "variables": {"v": '
        + nested(10_000)
        + "}}"
    )
    answer = httpx.post(
        f"{index}/graphql",
        content=body,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert_refused(answer, 400, "KNFLOW_MAX_JSON_DEPTH")


def test_deep_variables_in_a_get_are_400(index: str) -> None:
    params = {"query": "{ ProcessInstances { id } }", "variables": nested(10_000)}
    answer = httpx.get(f"{index}/graphql", params=params, timeout=30)
    assert_refused(answer, 400, "KNFLOW_MAX_JSON_DEPTH")


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ('{ ProcessInstances(where: {id: {equal: "a\\u0000"}}) { id } }', None),
        ('{ ProcessInstances(where: {businessKey: {like: "\\u0000*"}}) { id } }', None),
        (
            '{ ProcessInstances(where: {variables: {a: {equal: "\\u0000"}}}) { id } }',
            None,
        ),
    ],
    ids=["inline-equal", "inline-like", "json-filter"],
)
def test_a_nul_character_in_a_filter_value_is_refused_naming_it(
    index: str, query: str, variables: Any
) -> None:
    _error(_query(index, query, variables), "NUL")


def test_a_nul_character_in_variables_is_400_naming_where(index: str) -> None:
    query = "query ($v: [String!]) { Jobs(where: {id: {in: $v}}) { id } }"
    answer = _query(index, query, {"v": ["ok", "x\u0000"]})
    assert_refused(answer, 400, "NUL", "/variables/v/1")


def test_a_nul_character_in_a_mutation_id_is_refused(index: str) -> None:
    answer = _query(index, 'mutation { ProcessInstanceAbort(id: "a\\u0000") }')
    _error(answer, "NUL")


def test_a_graphql_body_over_the_size_limit_is_413(index: str) -> None:
    query = "{ ProcessInstances { id } }" + " " * (11 * 1024 * 1024)
    answer = httpx.post(
        f"{index}/graphql",
        content=json.dumps({"query": query}),
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert_refused(answer, 413, "KNFLOW_MAX_BODY_BYTES")


@pytest.mark.parametrize(
    "body", [b"[]", b'"q"', b'{"query": 5}', b'{"query": "{ a }", "variables": [1]}']
)
def test_a_graphql_body_of_the_wrong_shape_is_400(index: str, body: bytes) -> None:
    answer = httpx.post(
        f"{index}/graphql",
        content=body,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert_refused(answer, 400)


def test_the_plugin_shaped_list_query_is_within_every_limit(index: str) -> None:
    query = (
        "query ($paginationInfo: Pagination, $orderByInfo: ProcessInstanceOrderBy)"
        "{ProcessInstances(where: {processId: {isNull: false}}, orderBy: $orderByInfo,"
        " pagination: $paginationInfo) {id, version, processName, processId, state,"
        " start, end, nodes { id }, variables, executionSummary,"
        " parentProcessInstance {id, processName, businessKey} } }"
    )
    variables = {
        "paginationInfo": {"limit": 10, "offset": 0},
        "orderByInfo": {"start": "DESC"},
    }
    assert "errors" not in _query(index, query, variables).json()


def test_a_query_past_the_statement_timeout_is_refused_naming_it(
    index: str, module_database_url: str
) -> None:
    with psycopg.connect(module_database_url) as conn:
        conn.execute(
            "INSERT INTO index_process_instances (id, process_id, endpoint, variables,"
            " last_update) SELECT 'slow-' || n, 'slow', '',"
            " jsonb_build_object('t', jsonb_build_array(n)), now()"
            " FROM generate_series(1, 60000) AS n"
        )
    query = "query ($v: [String]) { ProcessInstances(where: {variables: {t: {containsAny: $v}}}) { id } }"
    started = time.monotonic()
    answer = _query(index, query, {"v": [str(n) for n in range(5000)]})
    _error(answer, "KNFLOW_STATEMENT_TIMEOUT_MS")
    assert time.monotonic() - started < 10 * STATEMENT_TIMEOUT_MS / 1000
