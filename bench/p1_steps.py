"""P1: durable steps per second in one process.

knflow: a chain of `rest:` calls through the `knflow run` path (register, start, drive the
instance in-process), and a sequential foreach over N items. Anchor: DBOS, one workflow of
N `@DBOS.step()`s making the same call. Floor: a psycopg loop that makes the call and writes
one checkpoint row per step in its own commit (the durability both others give).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

from bench import scratch
from bench.context import Context, Figures, interleave, values
from bench.report import Figure, Row, figure

Params = dict[str, Any]
WARMUP_STEPS = 10
FLOOR_DDL = """
CREATE TABLE IF NOT EXISTS floor_steps (
    run_id uuid NOT NULL, step integer NOT NULL, output jsonb NOT NULL,
    PRIMARY KEY (run_id, step))
"""
FLOOR_CHECKPOINT = """
INSERT INTO floor_steps (run_id, step, output) VALUES (%s, %s, %s)
ON CONFLICT DO NOTHING
"""


def knflow_chain(params: Params) -> dict[str, float]:
    """Run the chain of `steps` calls once (after a short warm-up chain); steps/s."""
    from bench import knflow_inproc, workflows

    steps, echo = int(params["steps"]), params["echo_url"]
    with knflow_inproc.services(params["database_url"]) as services:
        for count in (WARMUP_STEPS, steps):
            knflow_inproc.register(services, workflows.chain(count, echo))
        knflow_inproc.run(services, f"chain{WARMUP_STEPS}", {"n": 0}, timeout=60)
        started = time.perf_counter()
        done = knflow_inproc.run(
            services, f"chain{steps}", {"n": 0}, timeout=params["budget"]
        )
        elapsed = time.perf_counter() - started
    if done.status != "COMPLETED" or done.data.get("n") != steps:
        raise SystemExit(f"chain ended {done.status} with {done.data!r}")
    return {"steps_per_s": steps / elapsed, "seconds": elapsed}


def knflow_foreach(params: Params) -> dict[str, float]:
    """Run a sequential foreach over `items` items, bounded by `budget` seconds; steps/s.

    When the budget runs out first, the rate is the calls the echo service counted over
    the budget, and `completed` is 0.
    """
    from bench import knflow_inproc, workflows

    items, echo = int(params["items"]), params["echo_url"]
    outcome: list[str] = []
    # Left open on purpose: the trial process ends without closing what the thread uses.
    opened = knflow_inproc.services(params["database_url"])
    services = opened.__enter__()
    knflow_inproc.register(services, workflows.foreach(echo))
    knflow_inproc.run(
        services, "foreach", {"items": list(range(WARMUP_STEPS))}, timeout=60
    )

    def drive() -> None:
        done = knflow_inproc.run(
            services, "foreach", {"items": list(range(items))}, timeout=3600
        )
        outcome.append(done.status)

    # The instance runs in a thread because one invocation may run for its whole step
    # budget before `run` looks at its own timeout; the trial process exits without it.
    before = _served(echo)
    started = time.perf_counter()
    worker = threading.Thread(target=drive, daemon=True)
    worker.start()
    worker.join(float(params["budget"]))
    elapsed = time.perf_counter() - started
    calls = _served(echo) - before
    completed = outcome == ["COMPLETED"] and calls >= items
    return {
        "steps_per_s": calls / elapsed,
        "seconds": elapsed,
        "calls": calls,
        "completed": float(completed),
    }


def dbos_chain(params: Params) -> dict[str, float]:
    """Run one DBOS workflow of `steps` steps (after a short warm-up); steps/s."""
    from bench import dbos_side

    steps = int(params["steps"])
    dbos_side.launch(params["database_url"], params["echo_url"])
    try:
        dbos_side.run_chain(WARMUP_STEPS)
        started = time.perf_counter()
        result = dbos_side.run_chain(steps)
        elapsed = time.perf_counter() - started
    finally:
        dbos_side.shutdown()
    if result != steps:
        raise SystemExit(f"DBOS chain returned {result}")
    return {"steps_per_s": steps / elapsed, "seconds": elapsed}


def floor_chain(params: Params) -> dict[str, float]:
    """The lean floor: per step one HTTP call and one autocommit checkpoint INSERT."""
    steps = int(params["steps"])
    with (
        psycopg.connect(params["database_url"], autocommit=True) as conn,
        httpx.Client(base_url=params["echo_url"], timeout=30.0) as client,
    ):
        conn.execute(FLOOR_DDL)
        _floor_run(conn, client, WARMUP_STEPS)
        started = time.perf_counter()
        _floor_run(conn, client, steps)
        elapsed = time.perf_counter() - started
    return {"steps_per_s": steps / elapsed, "seconds": elapsed}


def _floor_run(conn: psycopg.Connection, client: httpx.Client, steps: int) -> None:
    run_id, number = uuid.uuid4(), 0
    for step in range(steps):
        number = int(client.post("/step", json={"n": number}).json()["n"])
        conn.execute(FLOOR_CHECKPOINT, (run_id, step, Jsonb({"n": number})))


def _served(echo_url: str) -> int:
    return int(httpx.get(f"{echo_url}/count").json()["count"])


def run(ctx: Context) -> list[Row]:
    """Chain: knflow, DBOS and the floor interleaved; then the foreach sizes."""
    steps = 200
    budget = ctx.size(full=120, quick=60)
    ctx.log(f"P1 chain of {steps} calls")
    chain = interleave(
        ctx,
        ctx.rounds,
        {
            "knflow": _side(
                ctx, "knflow_chain", migrated=True, steps=steps, budget=budget
            ),
            "dbos": _side(
                ctx, "dbos_chain", migrated=False, steps=steps, budget=budget
            ),
            "floor": _side(
                ctx, "floor_chain", migrated=False, steps=steps, budget=budget
            ),
        },
    )
    knflow_rate = figure(values(chain["knflow"], "steps_per_s"), "steps/s")
    rows = [
        Row(
            measure="P1",
            what=f"durable steps/s in-process, chain of {steps} `rest:` calls (`knflow run` path) vs {steps} `@DBOS.step()`",
            knflow=knflow_rate,
            anchor_name="DBOS",
            anchor=figure(values(chain["dbos"], "steps_per_s"), "steps/s"),
        ),
        Row(
            measure="P1",
            what="same chain vs the floor: psycopg, 1 HTTP call + 1 checkpoint INSERT commit per step",
            knflow=knflow_rate,
            anchor_name="floor",
            anchor=figure(values(chain["floor"], "steps_per_s"), "steps/s"),
        ),
    ]
    chain_ms = figure(
        [1000 / rate for rate in values(chain["knflow"], "steps_per_s") if rate],
        "ms/step",
    )
    for items, rounds in ((200, ctx.rounds), (2000, 1)):
        rows.append(_foreach_row(ctx, items, rounds, chain_ms))
    return rows


def _foreach_row(ctx: Context, items: int, rounds: int, chain_ms: Figure | None) -> Row:
    budget = ctx.size(full=60, quick=30) if items > 200 else 120
    ctx.log(f"P1 sequential foreach over {items} items (budget {budget} s)")
    runs = interleave(
        ctx,
        rounds,
        {
            "knflow": _side(
                ctx, "knflow_foreach", migrated=True, items=items, budget=budget
            )
        },
    )["knflow"]
    notes = []
    partial = [run for run in runs if not run.get("completed")]
    if partial:
        done = ", ".join(str(int(run["calls"])) for run in partial)
        notes.append(
            f"did not finish within {budget} s: {done} of {items} calls done; the rate is over those"
        )
    return Row(
        measure="P1",
        what=f"sequential foreach over {items} items: cost per step vs the chain's",
        knflow=figure(
            [1000 / run["steps_per_s"] for run in runs if run.get("steps_per_s")],
            "ms/step",
        ),
        anchor_name="chain",
        anchor=chain_ms,
        notes=tuple(notes),
    )


def _side(
    ctx: Context, target: str, *, migrated: bool, **params: Any
) -> Callable[[], Figures]:
    def go() -> Figures:
        with scratch.database("p1", migrated=migrated) as url:
            return ctx.trial(
                f"bench.p1_steps:{target}",
                {"database_url": url, "echo_url": ctx.echo_url, **params},
                timeout=float(params["budget"]) + 90,
            )

    return go
