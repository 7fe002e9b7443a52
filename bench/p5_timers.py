"""P5: many `PT5S` timers started at once through the stack; how late do they fire?

knflow: a fresh `knflow dev` whose `sleeper` workflow is one `sleep` state of PT5S; the
instances are started by `POST /sleeper` from 16 client threads as fast as start-workflow
takes them, and job-trigger (woken by the timers' hints, as on a cluster) fires them.
Lateness is the firer's clock at the claim minus the due time, read from the job rows.
Floor: the same number of timer rows, due over the same spread, fired by a plain psycopg
loop (claim what is due with SKIP LOCKED in one UPDATE, nap until the next due, 100 ms at
most: job-trigger's own recheck interval).
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import Any, Final

import httpx
import psycopg

from bench import scratch, stack, workflows
from bench.context import Context, Figures, TrialError, values
from bench.report import Row, figure

Params = dict[str, Any]
DELAY: Final = 5.0
CLIENTS: Final = 16
RECHECK: Final = 0.1
LARGE_START_BUDGET: Final = 300.0
LATENESS_SQL: Final = """
SELECT extract(epoch FROM updated_at - expiration_time) * 1000
  FROM jobs
 WHERE status = 'EXECUTED' AND recipient->>'type' = 'instance'
"""
FLOOR_DDL: Final = """
CREATE TABLE floor_timers (id bigint PRIMARY KEY, due timestamptz NOT NULL, fired_at timestamptz);
CREATE INDEX floor_timers_due_idx ON floor_timers (due) WHERE fired_at IS NULL;
"""
FLOOR_INSERT: Final = """
INSERT INTO floor_timers (id, due)
SELECT n, now() + make_interval(secs => %(delay)s + %(spread)s * n / %(count)s)
  FROM generate_series(0, %(count)s - 1) AS n
"""
FLOOR_FIRE: Final = """
UPDATE floor_timers SET fired_at = clock_timestamp()
 WHERE id IN (SELECT id FROM floor_timers
               WHERE fired_at IS NULL AND due <= clock_timestamp()
               ORDER BY due LIMIT 1000
                 FOR UPDATE SKIP LOCKED)
"""
FLOOR_NEXT: Final = "SELECT extract(epoch FROM min(due) - clock_timestamp()) FROM floor_timers WHERE fired_at IS NULL"
FLOOR_LATENESS: Final = (
    "SELECT extract(epoch FROM fired_at - due) * 1000 FROM floor_timers"
)


def run(ctx: Context) -> list[Row]:
    """1,000 timers per round; 10,000 once in a full run when starting them fits the budget."""
    rows, knflow = _size(ctx, 1000, ctx.size(full=2, quick=1))
    large = 10_000
    if ctx.quick:
        return [*rows, _skipped(large, "not in a quick run")]
    if not knflow:
        return [*rows, _skipped(large, "the 1,000-timer rounds did not run")]
    rate = statistics.median(1000 / run["start_spread_s"] for run in knflow)
    needed = large / rate
    if needed > LARGE_START_BUDGET:
        reason = (
            f"starting them at the measured {rate:.0f} starts/s would take {needed:.0f} s,"
            f" past the {LARGE_START_BUDGET:.0f} s budget"
        )
        return [*rows, _skipped(large, reason)]
    return rows + _size(ctx, large, 1)[0]


def _skipped(count: int, reason: str) -> Row:
    return Row(
        measure="P5",
        what=f"{count:,} `PT5S` timers: lateness p50 / p99",
        knflow=None,
        anchor_name="psycopg floor",
        anchor=None,
        notes=(f"skipped: {reason}",),
    )


def _size(ctx: Context, count: int, rounds: int) -> tuple[list[Row], list[Figures]]:
    ctx.log(f"P5 {count} timers of PT5S, {rounds} round(s)")
    knflow: list[Figures] = []
    floor: list[Figures] = []
    for round_number in range(rounds):
        try:
            figures = _knflow_round(ctx, count)
            knflow.append(figures)
            ctx.log(f"  knflow round {round_number + 1}: {figures}")
            with scratch.database("p5floor", migrated=False) as url:
                params = {
                    "database_url": url,
                    "count": count,
                    "spread": figures["start_spread_s"],
                }
                floor.append(
                    ctx.trial(
                        "bench.p5_timers:floor_timers", params, timeout=DELAY + 300
                    )
                )
            ctx.log(f"  floor round {round_number + 1}: {floor[-1]}")
        except TrialError as error:
            ctx.log(f"  round {round_number + 1}: skipped: {error}")
    spreads = ", ".join(f"{run['start_spread_s']:.1f}" for run in knflow)
    note = (
        f"started through start-workflow in {spreads} s; the floor's timers are due over the same spread",
    )
    return [
        Row(
            measure="P5",
            what=f"{count:,} `PT5S` timers started at once through the stack: lateness p50",
            knflow=figure(values(knflow, "p50_ms"), "ms"),
            anchor_name="psycopg floor",
            anchor=figure(values(floor, "p50_ms"), "ms"),
            notes=note,
        ),
        Row(
            measure="P5",
            what=f"{count:,} timers: lateness p99",
            knflow=figure(values(knflow, "p99_ms"), "ms"),
            anchor_name="psycopg floor",
            anchor=figure(values(floor, "p99_ms"), "ms"),
        ),
    ], knflow


def _knflow_round(ctx: Context, count: int) -> Figures:
    work_dir = Path(ctx.work_dir) / f"timers-{time.monotonic_ns()}"
    with scratch.database("p5", migrated=True) as url:
        try:
            with stack.running(
                [workflows.sleeper("PT5S")], database_url=url, work_dir=work_dir
            ) as dev:
                params = {**dev.as_params(), "database_url": url, "count": count}
                return ctx.trial(
                    "bench.p5_timers:knflow_timers", params, timeout=DELAY + 900
                )
        except RuntimeError as error:
            raise TrialError(str(error)) from error


def knflow_timers(params: Params) -> Figures:
    """Trial: start `count` sleepers from 16 threads, wait for every timer to fire."""
    count, url = int(params["count"]), params["urls"]["start-workflow"] + "/sleeper"
    remaining, lock, failures = iter(range(count)), threading.Lock(), []

    def client() -> None:
        with httpx.Client(timeout=120.0) as http:
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                answer = http.post(url, json={})
                if answer.status_code != 201:
                    failures.append(f"{answer.status_code}: {answer.text[:200]}")
                    return

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spread = time.monotonic() - started
    if failures:
        raise SystemExit(f"POST /sleeper failed: {failures[0]}")
    with psycopg.connect(params["database_url"], autocommit=True) as conn:
        lateness = _wait_fired(conn, LATENESS_SQL, count, timeout=DELAY + spread + 300)
    return {"start_spread_s": spread, **summary(lateness)}


def floor_timers(params: Params) -> Figures:
    """Trial: the psycopg floor firing `count` timer rows due over `spread` seconds."""
    count = int(params["count"])
    with psycopg.connect(params["database_url"], autocommit=True) as conn:
        conn.execute(FLOOR_DDL)
        conn.execute(
            FLOOR_INSERT,
            {"delay": DELAY, "spread": float(params["spread"]), "count": count},
        )
        fired = 0
        while fired < count:
            fired += conn.execute(FLOOR_FIRE).rowcount
            row = conn.execute(FLOOR_NEXT).fetchone()
            wait = float(row[0]) if row and row[0] is not None else 0.0
            time.sleep(min(max(wait, 0.0), RECHECK))
        lateness = [float(row[0]) for row in conn.execute(FLOOR_LATENESS).fetchall()]
    return summary(lateness)


def summary(lateness_ms: list[float]) -> Figures:
    """p50, p99 and max of the lateness values."""
    ordered = sorted(lateness_ms)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": statistics.median(ordered), "p99_ms": p99, "max_ms": ordered[-1]}


def _wait_fired(
    conn: psycopg.Connection, query: str, count: int, *, timeout: float
) -> list[float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lateness = [float(row[0]) for row in conn.execute(query).fetchall()]
        if len(lateness) >= count:
            return lateness
        time.sleep(0.5)
    raise SystemExit(f"only {len(lateness)} of {count} timers fired in {timeout:.0f} s")
