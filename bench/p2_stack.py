"""P2, P6 and storage: knflow as `knflow dev` runs it, next to DBOS and a `SELECT 1` function.

Each round starts a fresh stack on a database of its own and, in it:
- P6: `POST /pure3` (three pure states) one at a time, alternating call by call with a
  functions-framework function doing `SELECT 1`; p50 of each;
- P2: 200 instances of three `rest:` calls, `POST /three` from 8 client threads; instances/s
  over the POSTs, and CPU per instance of the stack's processes (functions, broker) plus the
  database's PostgreSQL backends, until the Data Index shows every instance completed and
  the stack is idle again;
- storage: table bytes, rows and WAL bytes per completed instance, before/after P2.
DBOS runs the same three-call workflow from 8 threads in one process, on its own database,
measured the same way. The knflow and DBOS rounds alternate, swapping order every round.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import httpx
import psycopg

from bench import procs, scratch, stack, storage, workflows
from bench.context import Context, Figures, TrialError, interleave, values
from bench.cpu import CpuMeter
from bench.report import Row, figure

Params = dict[str, Any]
THREADS: Final = 8
CALLS: Final = 3
SELECT_ONE: Final = procs.ROOT / "bench" / "anchors" / "select_one" / "main.py"
COMPLETED_SQL: Final = "SELECT count(*) FROM index_process_instances WHERE process_id = %(id)s AND state = 2"
IDLE_CPU: Final = 0.03  # CPU seconds per second below which the stack counts as idle
SETTLE_TIMEOUT: Final = 120.0


def run(ctx: Context) -> list[Row]:
    """Alternate knflow stack rounds and DBOS rounds; return the P2, P6 and storage rows."""
    instances = ctx.size(full=200, quick=100)
    calls = ctx.size(full=100, quick=50)
    ctx.log(
        f"P2/P6/storage: {instances} instances × {CALLS} calls, {THREADS} threads; {calls} POSTs for P6"
    )
    results = interleave(
        ctx,
        ctx.rounds,
        {
            "knflow": lambda: _knflow_round(ctx, instances, calls),
            "dbos": lambda: _dbos_round(ctx, instances),
        },
    )
    return _rows(results["knflow"], results["dbos"], instances)


def _rows(knflow: list[Figures], dbos: list[Figures], instances: int) -> list[Row]:
    wal_notes = (
        "WAL: records touching the database's blocks (pg_walinspect), commit records left out",
    )
    return [
        Row(
            measure="P2",
            what=f"{instances} instances × {CALLS} calls through `knflow dev`, {THREADS} client threads: instances/s",
            knflow=figure(values(knflow, "instances_per_s"), "inst/s"),
            anchor_name="DBOS",
            anchor=figure(values(dbos, "instances_per_s"), "inst/s"),
        ),
        Row(
            measure="P2",
            what="CPU per instance (functions + broker + the database's PostgreSQL backends)",
            knflow=figure(values(knflow, "cpu_ms_per_instance"), "ms"),
            anchor_name="DBOS",
            anchor=figure(values(dbos, "cpu_ms_per_instance"), "ms"),
        ),
        Row(
            measure="P6",
            what="`POST /{id}` of a 3-state pure workflow, p50",
            knflow=figure(values(knflow, "post_p50_ms"), "ms"),
            anchor_name="SELECT 1 fn",
            anchor=figure(values(knflow, "select_one_p50_ms"), "ms"),
        ),
        Row(
            measure="storage",
            what=f"PostgreSQL table bytes per completed {CALLS}-call instance",
            knflow=figure(values(knflow, "table_kb_per_instance"), "kB"),
            anchor_name="DBOS",
            anchor=figure(values(dbos, "table_kb_per_instance"), "kB"),
        ),
        Row(
            measure="storage",
            what="rows per completed instance",
            knflow=figure(values(knflow, "rows_per_instance"), "rows"),
            anchor_name="DBOS",
            anchor=figure(values(dbos, "rows_per_instance"), "rows"),
        ),
        Row(
            measure="storage",
            what="WAL bytes per completed instance",
            knflow=figure(values(knflow, "wal_kb_per_instance"), "kB"),
            anchor_name="DBOS",
            anchor=figure(values(dbos, "wal_kb_per_instance"), "kB"),
            notes=wal_notes,
        ),
    ]


def _knflow_round(ctx: Context, instances: int, calls: int) -> Figures:
    definitions = [
        workflows.chain(CALLS, ctx.echo_url) | {"id": "three"},
        workflows.pure_three(),
    ]
    work_dir = Path(ctx.work_dir) / f"stack-{time.monotonic_ns()}"
    with scratch.database("p2", migrated=True) as url:
        try:
            with stack.running(definitions, database_url=url, work_dir=work_dir) as dev:
                anchor_port = procs.free_port()
                with procs.running(
                    _function_command(SELECT_ONE, anchor_port),
                    env={"DATABASE_URL": url},
                ) as anchor:
                    anchor_url = f"http://127.0.0.1:{anchor_port}"
                    procs.wait_http_ok(f"{anchor_url}/", timeout=60, process=anchor)
                    params = {
                        **dev.as_params(),
                        "database_url": url,
                        "calls": calls,
                        "anchor_url": anchor_url,
                    }
                    latency = ctx.trial(
                        "bench.p2_stack:start_latency", params, timeout=300
                    )
                params = {
                    **dev.as_params(),
                    "database_url": url,
                    "instances": instances,
                }
                throughput = ctx.trial(
                    "bench.p2_stack:knflow_throughput", params, timeout=600
                )
        except RuntimeError as error:
            raise TrialError(str(error)) from error
    return latency | throughput


def _dbos_round(ctx: Context, instances: int) -> Figures:
    with scratch.database("p2dbos", migrated=False) as url:
        params = {"database_url": url, "echo_url": ctx.echo_url, "instances": instances}
        return ctx.trial("bench.p2_stack:dbos_throughput", params, timeout=600)


def start_latency(params: Params) -> Figures:
    """Trial: alternate `POST /pure3` and a `SELECT 1` function call; p50 of each."""
    start_url = params["urls"]["start-workflow"] + "/pure3"
    knflow_ms, anchor_ms = [], []
    with httpx.Client(timeout=60.0) as client:
        for index in range(int(params["calls"]) + 5):
            started = time.perf_counter()
            answer = client.post(start_url, json={})
            middle = time.perf_counter()
            client.post(params["anchor_url"] + "/", json={}).raise_for_status()
            ended = time.perf_counter()
            if answer.status_code != 201 or not answer.json()["workflowdata"].get(
                "done"
            ):
                raise SystemExit(
                    f"POST /pure3 answered {answer.status_code}: {answer.text[:200]}"
                )
            if index >= 5:  # the first calls warm both servers up
                knflow_ms.append((middle - started) * 1000)
                anchor_ms.append((ended - middle) * 1000)
    return {
        "post_p50_ms": statistics.median(knflow_ms),
        "select_one_p50_ms": statistics.median(anchor_ms),
    }


def knflow_throughput(params: Params) -> Figures:
    """Trial: warm up, then POST the three-call workflow from 8 threads; measure until idle."""
    count, start_url = (
        int(params["instances"]),
        params["urls"]["start-workflow"] + "/three",
    )
    with httpx.Client(
        timeout=120.0, limits=httpx.Limits(max_connections=THREADS)
    ) as client:

        def start() -> None:
            answer = client.post(start_url, json={"n": 0})
            if (
                answer.status_code != 201
                or answer.json()["workflowdata"].get("n") != CALLS
            ):
                raise SystemExit(
                    f"POST /three answered {answer.status_code}: {answer.text[:200]}"
                )

        _in_threads(start, THREADS)  # one call per thread: every function warmed up
        with psycopg.connect(params["database_url"], autocommit=True) as monitor:
            _settle(monitor, "three", THREADS, lambda: None)
            return _measured(
                monitor,
                params["database_url"],
                lambda: _in_threads(start, count),
                roots=[int(params["stack_pid"])],
                settle=lambda meter: _settle(monitor, "three", THREADS + count, meter),
                count=count,
            )


def dbos_throughput(params: Params) -> Figures:
    """Trial: the same workflow with DBOS from 8 threads in this process, measured alike."""
    from bench import dbos_side

    count = int(params["instances"])
    dbos_side.launch(params["database_url"], params["echo_url"])
    try:
        _in_threads(lambda: _check(dbos_side.run_chain(CALLS)), THREADS)
        with psycopg.connect(params["database_url"], autocommit=True) as monitor:
            return _measured(
                monitor,
                params["database_url"],
                lambda: _in_threads(lambda: _check(dbos_side.run_chain(CALLS)), count),
                roots=[os.getpid()],
                settle=lambda meter: None,
                count=count,
            )
    finally:
        dbos_side.shutdown()


def _measured(
    monitor: psycopg.Connection,
    url: str,
    work: Callable[[], float],
    *,
    roots: list[int],
    settle: Callable[[CpuMeter], None],
    count: int,
) -> Figures:
    storage.prepare_wal_inspection(monitor)
    before = storage.snapshot(monitor)
    backend = monitor.info.backend_pid
    meter = CpuMeter(
        roots=lambda: roots,
        server_url=scratch.SERVER_URL,
        databases=[monitor.info.dbname],
        exclude=[backend],
    )
    with meter:
        elapsed = work()
        settle(meter)
    after = storage.snapshot(monitor)
    wal = storage.wal_bytes(monitor, before, after)
    figures = {
        "instances_per_s": count / elapsed,
        "cpu_ms_per_instance": meter.seconds * 1000 / count,
        "table_kb_per_instance": (after.table_bytes - before.table_bytes)
        / count
        / 1000,
        "rows_per_instance": (after.rows - before.rows) / count,
    }
    if wal is not None:
        figures["wal_kb_per_instance"] = wal / count / 1000
    return figures


def _in_threads(action: Callable[[], None], total: int) -> float:
    """Run `action` `total` times spread over THREADS threads; return the wall seconds."""
    remaining = iter(range(total))
    lock, errors = threading.Lock(), []

    def worker() -> None:
        while True:
            with lock:
                if next(remaining, None) is None:
                    return
            try:
                action()
            except BaseException as error:  # noqa: BLE001 - reported after the join
                errors.append(error)
                return

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def _settle(
    monitor: psycopg.Connection, workflow_id: str, expected: int, meter: Any
) -> None:
    """Wait until the Data Index has every instance completed and the stack is idle."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        row = monitor.execute(COMPLETED_SQL, {"id": workflow_id}).fetchone()
        if row and int(row[0]) >= expected:
            break
        time.sleep(0.2)
    else:
        raise SystemExit(
            f"the Data Index did not show {expected} completed instances in time"
        )
    if isinstance(meter, CpuMeter):
        _wait_idle(meter, deadline)


def _wait_idle(meter: CpuMeter, deadline: float) -> None:
    last = meter.seconds
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = meter.seconds
        if now - last < IDLE_CPU:
            return
        last = now


def _check(result: int) -> None:
    if result != CALLS:
        raise SystemExit(f"DBOS workflow returned {result}")


def _function_command(source: Path, port: int) -> list[str]:
    return [
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
