"""P4: the Orchestrator plugin's instance list queries over 100k instances, p50, vs direct SQL.

Loads 100k instances (2 nodes each, 10 workflows) into a database of the run, then times,
in fresh processes, each query as the plugin sends it (POST /graphql through the real
`functions/data-index-sink/main.py` app, in process) against hand-written SQL returning
the same rows, alternating the two call by call:

- Q5, the runs list: every workflow, page of 10 by start DESC, with nodes and variables;
- the per-workflow list: one workflow's instances, page of 10 by start DESC;

and, for each, the floor of any HTTP endpoint serving that page: the same SQL answered as
JSON by a bare functions-framework function (`bench/anchors/json_rows`), in process as well.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Final

import psycopg

from bench import procs, scratch
from bench.context import Context, Figures, interleave, values
from bench.report import Row, figure

Params = dict[str, Any]


class Server(StrEnum):
    """What answered a query, as named in the trial's figures (`q5_graphql_ms`, ...)."""

    GRAPHQL = "graphql"
    """knflow's data-index-sink, through POST /graphql."""
    FLOOR = "floor"
    """The bare functions-framework function answering the same SQL as JSON."""


MAIN: Final = procs.ROOT / "functions" / "data-index-sink" / "main.py"
FLOOR: Final = procs.ROOT / "bench" / "anchors" / "json_rows" / "main.py"
FLOOR_NOTE: Final = "this row's first column is the floor, not knflow"
WORKFLOWS: Final = [f"wf{n}" for n in range(10)]
Q5: Final = (
    "query ($paginationInfo: Pagination, $orderByInfo: ProcessInstanceOrderBy,"
    " $ids: [String!]){ProcessInstances ( where: {and: [{processId: {isNull: false}},"
    " {processId: {in: $ids}}]}, orderBy: $orderByInfo, pagination: $paginationInfo)"
    "  {id, version, processName, processId, state, start, end, nodes { id },"
    " variables, executionSummary, parentProcessInstance {id, processName, businessKey}"
    " } }"
)
PER_WORKFLOW: Final = (
    "query FindProcessInstanceQuery($definitionId: String!, $limit: Int!, $offset: Int!) {"
    " ProcessInstances( where: {processId: {equal: $definitionId}} orderBy: {start: DESC}"
    " pagination: {limit: $limit, offset: $offset} ) { id version processName state start end } }"
)
DIRECT_Q5_INSTANCES: Final = """
SELECT id, version, process_name, process_id, state, start, "end", variables,
       parent_process_instance_id
  FROM index_process_instances
 WHERE process_id IS NOT NULL AND process_id = ANY(%(ids)s)
 ORDER BY start DESC, id
 LIMIT 10
"""
DIRECT_Q5_NODES: Final = """
SELECT process_instance_id, id, name, enter, exit, error_message, retrigger
  FROM index_node_instances
 WHERE process_instance_id = ANY(%(ids)s) AND enter IS NOT NULL
 ORDER BY process_instance_id, enter, id
"""
DIRECT_PER_WORKFLOW: Final = """
SELECT id, version, process_name, state, start, "end"
  FROM index_process_instances
 WHERE process_id = %(id)s
 ORDER BY start DESC, id
 LIMIT 10
"""
LOAD_DEFINITIONS: Final = """
INSERT INTO index_process_definitions (id, version, name, endpoint, service_url, source,
                                       updated_at)
SELECT w, '1.0', initcap(w), 'http://runtime:8081/' || w, 'http://runtime:8081',
       '{"id": "' || w || '"}', now()
  FROM unnest(%(ids)s::text[]) AS w
"""
LOAD_INSTANCES: Final = """
INSERT INTO index_process_instances (id, process_id, version, process_name, state,
       state_date, endpoint, service_url, variables, start, "end", last_update)
SELECT 'i-' || n, 'wf' || (n %% 10), '1.0', 'Wf' || (n %% 10), CASE WHEN n %% 7 = 0
       THEN 5 ELSE 2 END, ts, 'http://runtime:8081/wf' || (n %% 10), 'http://runtime:8081',
       jsonb_build_object('workflowdata', jsonb_build_object('n', n),
                          'initiatorEntity', 'user:default/u' || (n %% 50)),
       ts, ts + interval '3 seconds', ts + interval '3 seconds'
  FROM generate_series(1, %(count)s) AS n,
       LATERAL (SELECT timestamptz '2024-01-01' + n * interval '1 minute' AS ts) AS t
"""
LOAD_NODES: Final = """
INSERT INTO index_node_instances (process_instance_id, id, name, type, definition_id,
       node_id, enter, exit)
SELECT i.id, i.id || '-' || k, 'State' || k, 'CompositeContextNode', 'State' || k,
       'State' || k, i.start + k * interval '1 second', i.start + (k + 1) * interval '1 second'
  FROM index_process_instances AS i, generate_series(1, 2) AS k
"""


def run(ctx: Context) -> list[Row]:
    """Load once, then time both queries in `rounds` fresh processes."""
    count = 100_000
    calls = ctx.size(full=100, quick=40)
    with scratch.database("p4", migrated=True) as url:
        started = time.monotonic()
        load(url, count)
        ctx.log(f"P4 loaded {count} instances in {time.monotonic() - started:.1f} s")
        params = {"database_url": url, "calls": calls}
        runs = interleave(
            ctx,
            ctx.rounds,
            {
                "queries": lambda: ctx.trial(
                    "bench.p4_data_index:time_queries", params, timeout=300
                )
            },
        )["queries"]
    size = f"over {count // 1000}k instances, p50"
    return [
        _against_sql(
            runs,
            "q5",
            Server.GRAPHQL,
            f"the plugin's runs list (Q5) {size} (POST /graphql, data-index-sink app in process)",
            note=_to_floor(runs, "q5"),
        ),
        _against_sql(
            runs,
            "list",
            Server.GRAPHQL,
            f"the plugin's per-workflow instance list {size}",
            note=_to_floor(runs, "list"),
        ),
        _against_sql(
            runs,
            "q5",
            Server.FLOOR,
            "the floor of Q5: its SQL answered as JSON by a functions-framework function, in process",
            note=FLOOR_NOTE,
        ),
        _against_sql(
            runs,
            "list",
            Server.FLOOR,
            "the floor of the per-workflow list, alike",
            note=FLOOR_NOTE,
        ),
    ]


def _against_sql(
    runs: list[Figures], query: str, server: Server, what: str, *, note: str
) -> Row:
    """The row of `query` as `server` answered it, next to its direct SQL."""
    return Row(
        measure="P4",
        what=what,
        knflow=figure(values(runs, f"{query}_{server}_ms"), "ms"),
        anchor_name="direct SQL",
        anchor=figure(values(runs, f"{query}_sql_ms"), "ms"),
        notes=(note,),
    )


def _to_floor(runs: list[Figures], query: str) -> str:
    """`N× the floor`: knflow's p50 of `query` over the floor's."""
    knflow = _median(runs, f"{query}_{Server.GRAPHQL}_ms")
    return f"{knflow / _median(runs, f'{query}_{Server.FLOOR}_ms'):.2f}× the floor"


def _median(runs: list[Figures], name: str) -> float:
    return statistics.median(value for value in values(runs, name) if value is not None)


def load(url: str, count: int) -> None:
    """Fill the Data Index tables with `count` instances and analyze them."""
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute(LOAD_DEFINITIONS, {"ids": WORKFLOWS})
            conn.execute(LOAD_INSTANCES, {"count": count})
            conn.execute(LOAD_NODES)
        conn.execute("ANALYZE")


def time_queries(params: Params) -> Figures:
    """Trial: p50 of each query through GraphQL and through SQL, alternating call by call."""
    from functions_framework import create_app

    os.environ["DATABASE_URL"] = params["database_url"]
    client = create_app(
        target="handle", source=str(MAIN), signature_type="http"
    ).test_client()
    floor = create_app(
        target="handle", source=str(FLOOR), signature_type="http"
    ).test_client()

    def graphql(query: str, variables: dict[str, Any]) -> Callable[[], None]:
        def call() -> None:
            answer = client.post(
                "/graphql", json={"query": query, "variables": variables}
            )
            body = answer.get_json()
            if (
                answer.status_code != 200
                or "errors" in body
                or not body["data"]["ProcessInstances"]
            ):
                raise SystemExit(f"GraphQL answered {answer.status_code}: {body}")

        return call

    with psycopg.connect(params["database_url"], autocommit=True) as conn:

        def direct_q5() -> None:
            rows = conn.execute(DIRECT_Q5_INSTANCES, {"ids": WORKFLOWS}).fetchall()
            conn.execute(DIRECT_Q5_NODES, {"ids": [row[0] for row in rows]}).fetchall()

        def direct_list() -> None:
            conn.execute(DIRECT_PER_WORKFLOW, {"id": "wf3"}).fetchall()

        def floor_page(body: dict[str, Any]) -> Callable[[], None]:
            def call() -> None:
                answer = floor.post("/", json=body)
                if (
                    answer.status_code != 200
                    or not answer.get_json()["data"]["ProcessInstances"]
                ):
                    raise SystemExit(f"the floor answered {answer.status_code}")

            return call

        q5_variables = {
            "paginationInfo": {"limit": 10, "offset": 0},
            "orderByInfo": {"start": "DESC"},
            "ids": WORKFLOWS,
        }
        list_variables = {"definitionId": "wf3", "limit": 10, "offset": 0}
        calls = {
            f"q5_{Server.GRAPHQL}_ms": graphql(Q5, q5_variables),
            "q5_sql_ms": direct_q5,
            f"list_{Server.GRAPHQL}_ms": graphql(PER_WORKFLOW, list_variables),
            f"q5_{Server.FLOOR}_ms": floor_page({"ids": WORKFLOWS}),
            "list_sql_ms": direct_list,
            f"list_{Server.FLOOR}_ms": floor_page(list_variables),
        }
        return _p50s(calls, int(params["calls"]))


def _p50s(calls: dict[str, Callable[[], None]], count: int) -> Figures:
    for call in calls.values():  # warm-up: imports, schema build, plan cache
        call()
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(count):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            timings[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in timings.items()}
