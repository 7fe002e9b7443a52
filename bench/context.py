"""What every measure gets from the runner: sizes, rounds, the echo service, trials, a log.

A trial is one side of a measure run in a fresh process (`bench.trial`) with a time limit;
`interleave` runs knflow's trial and the anchor's alternately, swapping which goes first each
round, so that a noisy neighbour hurts both sides alike.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import procs
from bench.trial import RESULT_MARK

Figures = dict[str, float]


class TrialError(RuntimeError):
    """A trial failed or ran out of time; the message says which and why."""


@dataclass(slots=True, kw_only=True)
class Context:
    """The run's settings and shared services."""

    quick: bool
    rounds: int
    echo_url: str
    work_dir: Path
    log: Callable[[str], None] = field(
        default=lambda line: print(line, file=sys.stderr, flush=True)
    )

    def size(self, *, full: int, quick: int) -> int:
        """A size or count for this run: the quick one with `--quick`."""
        return quick if self.quick else full

    def trial(
        self, target: str, params: Mapping[str, Any], *, timeout: float
    ) -> Figures:
        """Run `module:function` in a fresh process with `params`; return its figures.

        Raises:
            TrialError: it exited non-zero, printed no result, or ran past `timeout`.
        """
        log_file = self.work_dir / f"{target.replace(':', '.')}.log"
        command = [procs.PYTHON, "-m", "bench.trial", target, json.dumps(dict(params))]
        process = subprocess.Popen(
            command,
            cwd=procs.ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as expired:
            raise TrialError(
                f"{target} ran past its {timeout:.0f} s limit"
            ) from expired
        finally:
            procs.stop(process, grace=2.0)
        text = output.decode(errors="replace")
        with log_file.open("a", encoding="utf-8") as log:
            log.write(text)
        for line in text.splitlines():
            if line.startswith("note: "):
                self.log(f"  {target}: {line}")
        for line in reversed(text.splitlines()):
            if line.startswith(RESULT_MARK):
                figures: Figures = json.loads(line[len(RESULT_MARK) :])
                return figures
        tail = "\n".join(text.splitlines()[-15:])
        raise TrialError(
            f"{target} exited {process.returncode} without a result:\n{tail}"
        )


def interleave(
    ctx: Context, rounds: int, sides: Mapping[str, Callable[[], Figures]]
) -> dict[str, list[Figures]]:
    """Run each side once per round, rotating the order; a failed run is logged and skipped."""
    results: dict[str, list[Figures]] = {name: [] for name in sides}
    names = list(sides)
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.monotonic()
            try:
                figures = sides[name]()
            except TrialError as error:
                ctx.log(f"  {name} round {round_number + 1}: skipped: {error}")
                continue
            results[name].append(figures)
            ctx.log(
                f"  {name} round {round_number + 1}: {_brief(figures)}"
                f" ({time.monotonic() - started:.1f} s)"
            )
    return results


def values(runs: list[Figures], key: str) -> list[float | None]:
    """One figure from each run (None where a run lacks it)."""
    return [run.get(key) for run in runs]


def _brief(figures: Figures) -> str:
    return ", ".join(f"{key}={value:.4g}" for key, value in figures.items())
