"""P3: cold start, from spawning a function's server to its first 2xx on /health/readiness.

Each of knflow's five functions is started the way `knflow dev` and the image start it
(`functions-framework --source functions/<name>/main.py`), with bytecode compiled beforehand
as in the images (`compile_bytecode`), next to two anchors in the same venv: a trivial
function that imports nothing, and the floor, which imports psycopg's pool and answers
readiness after a `SELECT 1`. The candidates are interleaved, the order rotating every round.
"""

from __future__ import annotations

import compileall
import statistics
import time
from pathlib import Path
from typing import Final

from bench import procs, scratch
from bench.context import Context
from bench.report import Row, figure

FUNCTIONS: Final = (
    "start-workflow",
    "step-executor",
    "data-index-sink",
    "job-trigger",
    "notify",
)
ANCHORS: Final = {
    "trivial": procs.ROOT / "bench" / "anchors" / "trivial" / "main.py",
    "floor": procs.ROOT / "bench" / "anchors" / "select_one" / "main.py",
}
READY_PATH: Final = "/health/readiness"
FIRST_REQUESTS: Final = {"start-workflow": "/management/processes"}
"""A real request sent as soon as readiness answered, as Knative's activator forwards the
request that woke a function: its time counts what a cold start defers past readiness."""
START_TIMEOUT: Final = 60.0
ROUNDS_PER_ROUND: Final = 3
"""P3 runs this many rounds for each of the run's: a round costs ~2.5 s, and wall-clock starts
spread widely on a shared 2-core machine (12 interleaved starts of the floor: 244–377 ms). With
three rounds, a full run put start-workflow at 1.09× the floor and job-trigger at 1.29×, though
both answer readiness on the same path."""


def run(ctx: Context) -> list[Row]:
    """Time every candidate's cold start `ROUNDS_PER_ROUND` × the run's rounds, interleaved."""
    sources = {name: procs.ROOT / "functions" / name / "main.py" for name in FUNCTIONS}
    sources.update(ANCHORS)
    times: dict[str, list[float]] = {name: [] for name in sources}
    first: dict[str, list[float]] = {name: [] for name in FIRST_REQUESTS}
    rounds = ctx.rounds * ROUNDS_PER_ROUND
    ctx.log(f"P3 cold start of {len(sources)} functions, {rounds} rounds")
    compile_bytecode()
    with scratch.database("p3", migrated=True) as url:
        for source in sources.values():  # warm the page cache
            cold_start(source, url)
        names = list(sources)
        for round_number in range(rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                ready, answered = cold_start(
                    sources[name], url, then=FIRST_REQUESTS.get(name)
                )
                times[name].append(ready)
                if answered is not None:
                    first[name].append(answered)
            ctx.log(
                f"  round {round_number + 1}: "
                + ", ".join(f"{n} {times[n][-1]:.2f} s" for n in names)
            )
    trivial = figure(times["trivial"], "s")
    floor = statistics.median(times["floor"])
    rows = [
        Row(
            measure="P3",
            what=f"cold start of {name} (spawn → first 2xx on {READY_PATH})",
            knflow=figure(times[name], "s"),
            anchor_name="trivial",
            anchor=trivial,
            notes=(f"{statistics.median(times[name]) / floor:.2f}× the floor",),
        )
        for name in FUNCTIONS
    ]
    rows.extend(
        Row(
            measure="P3",
            what=f"cold start of {name} (spawn → first 2xx on GET {path}, sent once ready)",
            knflow=figure(first[name], "s"),
            anchor_name="trivial",
            anchor=trivial,
            notes=(
                f"{statistics.median(first[name]) / floor:.2f}× the floor",
                "the floor answers its first request with its readiness",
            ),
        )
        for name, path in FIRST_REQUESTS.items()
    )
    rows.append(
        Row(
            measure="P3",
            what="the floor: flask + psycopg pool + functions-framework, readiness after `SELECT 1`",
            knflow=figure(times["floor"], "s"),
            anchor_name="trivial",
            anchor=trivial,
            notes=("this row's first column is the floor, not a knflow function",),
        )
    )
    return rows


def compile_bytecode() -> None:
    """Byte-compile knflow, the functions and the anchors, as each function's image does.

    A first start does not do it when `PYTHONDONTWRITEBYTECODE` is set (as it may be where
    the suite runs): every start would then compile knflow's modules again, a cost no
    deployed function pays (~10 ms before readiness, more past it).
    """
    for folder in ("src/knflow", "functions", "bench/anchors"):
        compileall.compile_dir(procs.ROOT / folder, quiet=1)


def cold_start(
    source: Path, database_url: str, *, then: str | None = None
) -> tuple[float, float | None]:
    """Seconds from spawning the server of `source` to its first 2xx readiness answer.

    With `then`, also the seconds from spawning to a 2xx on `GET then`, sent once ready.
    """
    port = procs.free_port()
    command = [
        str(procs.BIN / "functions-framework"),
        "--source",
        str(source),
        "--target",
        "handle",
        "--signature-type",
        "http",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = {
        "DATABASE_URL": database_url,
        "K_SERVICE": source.parent.name,
        "K_SINK": "http://127.0.0.1:9/unused",
        "PYTHONUNBUFFERED": "1",
    }
    started = time.monotonic()
    with procs.running(command, env=env, grace=5.0) as server:
        ready = procs.wait_http_ok(
            f"http://127.0.0.1:{port}{READY_PATH}",
            timeout=START_TIMEOUT,
            process=server,
            interval=0.005,
        )
        answered = (
            None
            if then is None
            else procs.wait_http_ok(
                f"http://127.0.0.1:{port}{then}",
                timeout=START_TIMEOUT,
                process=server,
                interval=0.005,
            )
        )
    return ready - started, None if answered is None else answered - started
