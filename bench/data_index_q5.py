"""Benchmark: the plugin's runs list (Q5) through data-index-sink vs direct SQL.

Loads 100k instances (2 nodes each, 10 workflows) into a scratch database it creates
and drops, then times Q5 as the Orchestrator plugin sends it (POST /graphql through the
real `functions/data-index-sink/main.py` app, page of 10 ordered by start DESC) and the
equivalent hand-written SQL on the same rows, and prints both p50s and their ratio.

Usage: python bench/data_index_q5.py [--instances N] [--runs N]
(server: DATABASE_URL, else the machine's PostgreSQL at 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from functions_framework import create_app
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from knflow.devstack.postgres import MACHINE_SERVER_URL
from knflow.store import db, migrate

MAIN = Path(__file__).resolve().parents[1] / "functions" / "data-index-sink" / "main.py"
WORKFLOWS = [f"wf{n}" for n in range(10)]
Q5 = (
    "query ($paginationInfo: Pagination, $orderByInfo: ProcessInstanceOrderBy,"
    " $ids: [String!]){ProcessInstances ( where: {and: [{processId: {isNull: false}},"
    " {processId: {in: $ids}}]}, orderBy: $orderByInfo, pagination: $paginationInfo)"
    "  {id, version, processName, processId, state, start, end, nodes { id },"
    " variables, executionSummary, parentProcessInstance {id, processName, businessKey}"
    " } }"
)
DIRECT_INSTANCES = """
SELECT id, version, process_name, process_id, state, start, "end", variables,
       parent_process_instance_id
  FROM index_process_instances
 WHERE process_id IS NOT NULL AND process_id = ANY(%(ids)s)
 ORDER BY start DESC, id
 LIMIT 10
"""
DIRECT_NODES = """
SELECT process_instance_id, id, name, enter, exit, error_message, retrigger
  FROM index_node_instances
 WHERE process_instance_id = ANY(%(ids)s) AND enter IS NOT NULL
 ORDER BY process_instance_id, enter, id
"""
LOAD_DEFINITIONS = """
INSERT INTO index_process_definitions (id, version, name, endpoint, service_url, source,
                                       updated_at)
SELECT w, '1.0', initcap(w), 'http://runtime:8081/' || w, 'http://runtime:8081',
       '{"id": "' || w || '"}', now()
  FROM unnest(%(ids)s::text[]) AS w
"""
LOAD_INSTANCES = """
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
LOAD_NODES = """
INSERT INTO index_node_instances (process_instance_id, id, name, type, definition_id,
       node_id, enter, exit)
SELECT i.id, i.id || '-' || k, 'State' || k, 'CompositeContextNode', 'State' || k,
       'State' || k, i.start + k * interval '1 second', i.start + (k + 1) * interval '1 second'
  FROM index_process_instances AS i, generate_series(1, 2) AS k
"""


def main() -> None:
    """Create, load, time, print, drop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL") or MACHINE_SERVER_URL
    name = f"knflow_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_dbname(server, name)
    try:
        _load(url, args.instances)
        _report(url, args.runs, args.instances)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


def _load(url: str, count: int) -> None:
    started = time.perf_counter()
    with db.connect(url) as conn:
        migrate.apply_migrations(conn)
        with conn.transaction():
            conn.execute(LOAD_DEFINITIONS, {"ids": WORKFLOWS})
            conn.execute(LOAD_INSTANCES, {"count": count})
            conn.execute(LOAD_NODES)
        conn.execute("ANALYZE")
    print(f"loaded {count} instances in {time.perf_counter() - started:.1f} s")


def _report(url: str, runs: int, count: int) -> None:
    os.environ["DATABASE_URL"] = url
    client = create_app(
        target="handle", source=str(MAIN), signature_type="http"
    ).test_client()
    variables = {
        "paginationInfo": {"limit": 10, "offset": 0},
        "orderByInfo": {"start": "DESC"},
        "ids": WORKFLOWS,
    }

    def graphql() -> None:
        answer = client.post("/graphql", json={"query": Q5, "variables": variables})
        assert answer.status_code == 200
        assert "errors" not in answer.get_json()

    with db.connect(url) as conn:

        def direct() -> None:
            rows = conn.execute(DIRECT_INSTANCES, {"ids": WORKFLOWS}).fetchall()
            conn.execute(DIRECT_NODES, {"ids": [row[0] for row in rows]}).fetchall()

        direct_p50 = _p50(direct, runs)
    graphql_p50 = _p50(graphql, runs)
    print(f"Q5 over {count} instances, page of 10 by start DESC, p50 of {runs} runs:")
    print(f"  GraphQL (POST /graphql, data-index-sink): {graphql_p50 * 1000:8.2f} ms")
    print(f"  direct SQL (same rows, 2 queries):        {direct_p50 * 1000:8.2f} ms")
    print(f"  ratio: {graphql_p50 / direct_p50:.1f}x")


def _p50(action: Callable[[], None], runs: int) -> float:
    action()  # warm-up: imports, schema build, plan cache
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def _with_dbname(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)


if __name__ == "__main__":
    main()
