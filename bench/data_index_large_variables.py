"""Benchmark: `{ ProcessInstances { id } }` does not grow with the size of the variables.

Loads 1,000 instances with about 1 MB of (incompressible) variables each into one scratch
database and 1,000 instances with tiny variables into another, then times the same query
through the real `functions/data-index-sink/main.py` app against each, interleaved, and
prints both p50s and their ratio. Issue 12's goal: within 2x. Both databases are dropped.

Usage: python bench/data_index_large_variables.py [--instances N] [--kilobytes K] [--runs N]
(server: DATABASE_URL, else the machine's PostgreSQL at 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from flask.testing import FlaskClient
from functions_framework import create_app
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from knflow.devstack.postgres import MACHINE_SERVER_URL
from knflow.store import db, migrate

MAIN = Path(__file__).resolve().parents[1] / "functions" / "data-index-sink" / "main.py"
QUERY = "{ ProcessInstances { id } }"
# One md5 text (32 characters, about 35 bytes in jsonb) per array element; random
# enough that TOAST compression cannot shrink the value.
LOAD_INSTANCES = """
INSERT INTO index_process_instances (id, process_id, version, process_name, state,
       endpoint, variables, start, last_update)
SELECT 'i-' || n, 'wf', '1.0', 'Wf', 2, 'http://runtime:8081/wf',
       jsonb_build_object('workflowdata', jsonb_build_object('blob',
           (SELECT jsonb_agg(md5(n::text || '/' || k::text))
              FROM generate_series(1, %(elements)s) AS k))),
       now(), now()
  FROM generate_series(1, %(count)s) AS n
"""
ELEMENT_BYTES = 35
# The GIN index on variables holds every array element again, doubling the load time;
# this query never uses it, so the bench drops it before loading.
DROP_VARIABLES_INDEX = "DROP INDEX index_process_instances_variables_idx"


def main() -> None:
    """Create, load, time, print, drop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--kilobytes", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL") or MACHINE_SERVER_URL
    large_elements = args.kilobytes * 1024 // ELEMENT_BYTES
    with (
        _scratch(server, "large") as large_url,
        _scratch(server, "tiny") as tiny_url,
    ):
        _load(large_url, args.instances, large_elements)
        _load(tiny_url, args.instances, 1)
        _report(
            {"tiny": _client(tiny_url), "large": _client(large_url)},
            args.runs,
            args.instances,
            args.kilobytes,
        )


@contextmanager
def _scratch(server: str, label: str) -> Iterator[str]:
    name = f"knflow_bench_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(server)
    params["dbname"] = name
    try:
        yield make_conninfo(**params)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


def _load(url: str, count: int, elements: int) -> None:
    started = time.perf_counter()
    with db.connect(url) as conn:
        migrate.apply_migrations(conn)
        conn.execute(DROP_VARIABLES_INDEX)
        conn.execute(LOAD_INSTANCES, {"count": count, "elements": elements})
        conn.execute("VACUUM ANALYZE index_process_instances")
        size = conn.execute(
            "SELECT pg_total_relation_size('index_process_instances')"
        ).fetchone()
    megabytes = (size[0] if size else 0) / 1024 / 1024
    print(
        f"loaded {count} instances ({megabytes:.0f} MB on disk)"
        f" in {time.perf_counter() - started:.1f} s"
    )


def _client(url: str) -> FlaskClient:
    # Each app reads DATABASE_URL when its first request opens the pool.
    os.environ["DATABASE_URL"] = url
    client = create_app(
        target="handle", source=str(MAIN), signature_type="http"
    ).test_client()
    _ask(client)
    return client


def _ask(client: FlaskClient) -> None:
    answer = client.post("/graphql", json={"query": QUERY})
    assert answer.status_code == 200, answer.data[:200]
    assert "errors" not in answer.get_json(), answer.data[:200]


def _report(
    clients: dict[str, FlaskClient], runs: int, count: int, kilobytes: int
) -> None:
    timings: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(runs):  # interleaved, so machine load hits both alike
        for name, client in clients.items():
            started = time.perf_counter()
            _ask(client)
            timings[name].append(time.perf_counter() - started)
    tiny = statistics.median(timings["tiny"])
    large = statistics.median(timings["large"])
    print(f"{QUERY} over {count} instances, p50 of {runs} interleaved runs:")
    print(f"  tiny variables:               {tiny * 1000:8.2f} ms")
    print(f"  {kilobytes} kB of variables each: {large * 1000:8.2f} ms")
    print(f"  ratio: {large / tiny:.2f}x (goal: within 2x)")


if __name__ == "__main__":
    main()
