"""The suite's runner: start the echo service, run each measure, print one table.

Usage: python -m bench [--quick] [--only p1,p3] [--rounds N] [--markdown FILE]

Each measure interleaves knflow's runs with its anchor's and reports medians with their
spread. Databases are the run's own (`knflow_bench_<run>_*`) and are dropped at the end,
also after Ctrl-C or SIGTERM; every process started is stopped with its whole group.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Final

import psycopg

from bench import procs, scratch
from bench.context import Context
from bench.report import Row, render_markdown, render_text

# Each module's `run(ctx)` returns its rows; imported when chosen.
MEASURES: Final = {
    "p1": "bench.p1_steps",
    "p2": "bench.p2_stack",
    "p3": "bench.p3_cold_start",
    "p4": "bench.p4_data_index",
    "p5": "bench.p5_timers",
}


def main() -> int:
    """Run the chosen measures and print the table; exit 1 if a measure could not run."""
    args = _arguments()
    signal.signal(signal.SIGTERM, _interrupt)
    chosen = args.only.split(",") if args.only else list(MEASURES)
    unknown = sorted(set(chosen) - set(MEASURES))
    if unknown:
        sys.stderr.write(
            f"unknown measure(s) {', '.join(unknown)}; choose from {', '.join(MEASURES)}\n"
        )
        return 2
    started = time.monotonic()
    rows: list[Row] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="knflow-bench-") as work_dir:
        port = procs.free_port()
        echo_url = f"http://127.0.0.1:{port}"
        try:
            with procs.running(
                [procs.PYTHON, "-m", "bench.echo_service", str(port)]
            ) as echo:
                procs.wait_http_ok(f"{echo_url}/count", timeout=30, process=echo)
                ctx = Context(
                    quick=args.quick,
                    rounds=args.rounds or (2 if args.quick else 3),
                    echo_url=echo_url,
                    work_dir=Path(work_dir),
                )
                for name in chosen:
                    rows += _run_measure(ctx, name, failed)
        finally:
            dropped = scratch.sweep()
            if dropped:
                sys.stderr.write(f"dropped {len(dropped)} leftover database(s)\n")
    header = _header(time.monotonic() - started, quick=args.quick)
    print(header + "\n\n" + render_text(rows))
    if args.markdown:
        Path(args.markdown).write_text(
            header + "\n\n" + render_markdown(rows) + "\n", encoding="utf-8"
        )
    return 1 if failed else 0


def _run_measure(ctx: Context, name: str, failed: list[str]) -> list[Row]:
    started = time.monotonic()
    try:
        measure: Callable[[Context], list[Row]] = importlib.import_module(
            MEASURES[name]
        ).run
        rows = measure(ctx)
    except Exception as error:  # noqa: BLE001 - one broken measure must not lose the others' rows
        ctx.log(f"{name}: could not run: {type(error).__name__}: {error}")
        failed.append(name)
        return []
    ctx.log(f"{name}: done in {time.monotonic() - started:.0f} s")
    return rows


def _header(seconds: float, *, quick: bool) -> str:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"knflow bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {'quick' if quick else 'full'} run"
        f" in {seconds / 60:.1f} min\nmachine: {_machine()}, load average at the end {load}"
    )


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    with psycopg.connect(scratch.SERVER_URL) as conn:
        server = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    return (
        f"{os.cpu_count()} × {cpu}, {memory:.0f} GiB, Python {platform.python_version()},"
        f" PostgreSQL {server.split()[0]}"
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds, smaller sizes"
    )
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of {','.join(MEASURES)}"
    )
    parser.add_argument(
        "--rounds", type=int, default=0, help="rounds per measure (default 3, quick 2)"
    )
    parser.add_argument(
        "--markdown", default="", help="also write the table as Markdown to this file"
    )
    return parser.parse_args()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
