"""Timer lateness: 100 sleeps of PT2S fired by job-trigger's loop, next to a bare sleep loop.

Registers a workflow whose only wait is a `sleep` state of PT2S, starts it 100 times, and lets
`job_trigger.watch` (what a woken job-trigger runs), in a process of its own, fire the timers. Lateness is the
firer's clock at the claim minus the due time, read from the job rows. The baseline is a
plain `time.sleep` loop waking at the same due times in the same run: the floor of a
sleeping Python process on this machine. Creates and drops its own database.

Usage: python bench/timer_lateness.py [--count N] [--json]
(`DATABASE_URL` names the server; else 127.0.0.1:5432 as user postgres.)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from knflow.config import Settings
from knflow.devstack import postgres
from knflow.outbound.http import new_client
from knflow.runtime.job_trigger import firing
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import registration, starting
from knflow.store import db, migrate
from knflow.workflow import loading

SLEEP = timedelta(seconds=2)
TARGET_P99_MS = 250.0
WORKFLOW = {
    "id": "lateness",
    "version": "1.0",
    "specVersion": "0.8",
    "start": "nap",
    "states": [
        {"name": "nap", "type": "sleep", "duration": "PT2S", "transition": "done"},
        {"name": "done", "type": "inject", "data": {"rested": True}, "end": True},
    ],
}
LATENESS_SQL = """
SELECT extract(epoch FROM updated_at - expiration_time) * 1000
  FROM jobs
 WHERE status = 'EXECUTED'
   AND recipient->>'type' = 'instance'
"""


def main() -> int:
    """Run both measurements and print them (as JSON with `--json`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with scratch_database() as url:
        knflow_ms, due_offsets = measure_knflow(url, args.count)
    baseline_ms = measure_sleep_loop(due_offsets)
    report = {
        "count": args.count,
        "knflow": summary(knflow_ms),
        "baseline_sleep_loop": summary(baseline_ms),
    }
    report["ratio"] = {
        key: round(
            report["knflow"][key] / max(report["baseline_sleep_loop"][key], 0.001), 1
        )
        for key in ("p50_ms", "p99_ms")
    }
    report["p99_under_target"] = report["knflow"]["p99_ms"] < TARGET_P99_MS
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


def measure_knflow(url: str, count: int) -> tuple[list[float], list[float]]:
    """Start `count` sleeping instances and let job-trigger's loop fire their timers.

    The loop runs in its own process, as job-trigger does on a cluster, so that starting
    instances here does not compete with it for the interpreter.
    """
    pool = db.open_pool(url, max_size=4)
    http = new_client(timedelta(seconds=5))
    services = Services(settings=Settings(database_url=url), pool=pool, http=http)
    watcher = multiprocessing.get_context("spawn").Process(
        target=watch_in_process, args=(url, _window(count).total_seconds())
    )
    try:
        _register(services)
        # As on a cluster: the first timer's wake-up hint starts the watching invocation,
        # which then fires every timer due within its window.
        starts = [_start(services)]
        watcher.start()
        _wait_for_watcher(services)
        starts += [_start(services) for _ in range(count - 1)]
        watcher.join()
        offsets = [(s - starts[0]).total_seconds() for s in starts]
        with db.transaction(pool) as conn:
            rows = conn.execute(LATENESS_SQL).fetchall()
    finally:
        http.close()
        pool.close()
    if len(rows) != count:
        raise SystemExit(f"only {len(rows)} of {count} timers fired")
    return [float(r[0]) for r in rows], offsets  # type: ignore[arg-type]


def watch_in_process(url: str, window_seconds: float) -> None:
    """The job-trigger loop of a woken invocation, in a process of its own."""
    pool = db.open_pool(url)
    http = new_client(timedelta(seconds=5))
    services = Services(settings=Settings(database_url=url), pool=pool, http=http)
    try:
        firing.watch(services, window=timedelta(seconds=window_seconds))
    finally:
        http.close()
        pool.close()


def measure_sleep_loop(due_offsets: list[float]) -> list[float]:
    """Wake a bare `time.sleep` loop at the same relative due times; return its lateness."""
    start = time.monotonic() + SLEEP.total_seconds()
    lateness = []
    for offset in sorted(due_offsets):
        due = start + offset
        time.sleep(max(0.0, due - time.monotonic()))
        lateness.append((time.monotonic() - due) * 1000)
    return lateness


def summary(values: list[float]) -> dict[str, float]:
    """p50, p99 and max of `values` (milliseconds)."""
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(ordered[-1], 2),
    }


def render(report: dict[str, Any]) -> str:
    """Format the report as a small table."""
    k, b, r = report["knflow"], report["baseline_sleep_loop"], report["ratio"]
    verdict = "under" if report["p99_under_target"] else "OVER"
    return "\n".join(
        [
            f"timer lateness, {report['count']} sleeps of PT2S",
            f"{'':24}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}",
            f"{'knflow job-trigger':24}{k['p50_ms']:>10}{k['p99_ms']:>10}{k['max_ms']:>10}",
            f"{'bare time.sleep loop':24}{b['p50_ms']:>10}{b['p99_ms']:>10}{b['max_ms']:>10}",
            f"{'ratio knflow/baseline':24}{r['p50_ms']:>10}{r['p99_ms']:>10}",
            f"p99 is {verdict} the {TARGET_P99_MS:.0f} ms target",
        ]
    )


@contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh, migrated database of this run, dropped afterwards."""
    server = os.environ.get("DATABASE_URL") or postgres.MACHINE_SERVER_URL
    name = f"knflow_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(server)
    params["dbname"] = name
    url = make_conninfo(**params)
    try:
        with db.connect(url) as conn:
            migrate.apply_migrations(conn)
        yield url
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


def _register(services: Services) -> None:
    source = loading.load_text(json.dumps(WORKFLOW), name="lateness.sw.json")
    with db.transaction(services.pool) as conn:
        registration.register_source(
            conn, source, settings=services.settings, now=services.clock()
        )


def _wait_for_watcher(services: Services) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with db.transaction(services.pool) as conn:
            if conn.execute("SELECT holder FROM job_watch_leases").fetchone():
                return
        time.sleep(0.05)
    raise SystemExit("the job-trigger loop did not start")


def _start(services: Services) -> datetime:
    request = starting.StartRequest(
        workflow_id="lateness", data={}, variables={}, headers={}
    )
    return starting.start_instance(services, request).started_at.astimezone(UTC)


def _window(count: int) -> timedelta:
    """Long enough to start every instance and fire the last timer, with a margin."""
    return SLEEP + timedelta(seconds=3 + count * 0.05)


if __name__ == "__main__":
    sys.exit(main())
