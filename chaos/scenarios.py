"""The faults: one function killed with SIGKILL at a time, delivery faults, a PostgreSQL restart.

Each injector waits for its moment (calls in flight, instances asleep), injects the fault and
returns the moment from which recovery is measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from chaos.observe import wait_until

if TYPE_CHECKING:
    from chaos.runner import Run

OUTAGE_SECONDS: Final = 3.0
"""How long PostgreSQL stays down in the restart scenario."""
WAIT_FOR_MOMENT: Final = 60.0

Inject = Callable[["Run"], float]


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One fault and how it is judged."""

    name: str
    """Its name in the table."""
    inject: Inject | None = None
    """Injects the fault once the run is under way; None: the faults last the whole run."""
    options: tuple[str, ...] = ()
    """More `knflow dev` arguments (the broker's delivery faults)."""
    cuts_calls: bool = False
    """The fault may cut a call off in flight: that call may be made again."""
    cuts_notifications: bool = False
    """The fault may cut a notification off in flight: it may be sent again."""


def kill_when(function_name: str, step: str, count: int) -> Inject:
    """Kill a function with SIGKILL once `count` calls of `step` arrived."""

    def inject(run: Run) -> float:
        _wait_for_calls(run, step, count)
        moment = time.monotonic()
        run.stack.kill(function_name)
        return moment

    return inject


def restart_postgres(run: Run) -> float:
    """Crash PostgreSQL (immediate stop) while calls run, start it again after an outage."""
    _wait_for_calls(run, "first", 3)
    run.server.stop(immediate=True)
    time.sleep(OUTAGE_SECONDS)  # the outage itself, not a wait for something
    run.server.start()
    return time.monotonic()


def _wait_for_calls(run: Run, step: str, count: int) -> None:
    wait_until(
        lambda: sum(a.step == step for a in run.arrivals) >= count,
        deadline=time.monotonic() + WAIT_FOR_MOMENT,
    )


HINTS: Final = "knflow.step.ready|knflow.job.scheduled"

SCENARIOS: Final = (
    Scenario(name="no fault"),
    Scenario(
        name="kill -9 start-workflow",
        inject=kill_when("start-workflow", "first", 3),
        cuts_calls=True,
    ),
    Scenario(
        name="kill -9 step-executor",
        inject=kill_when("step-executor", "b", 3),
        cuts_calls=True,
    ),
    Scenario(name="kill -9 job-trigger", inject=kill_when("job-trigger", "b", 6)),
    Scenario(
        name="kill -9 data-index-sink", inject=kill_when("data-index-sink", "first", 3)
    ),
    Scenario(
        name="kill -9 notify",
        inject=kill_when("notify", "b", 6),
        cuts_notifications=True,
    ),
    Scenario(
        name="duplicated, shuffled deliveries",
        options=("--faults", "duplicate=0.5,delay=0.3"),
    ),
    Scenario(
        name="dropped step and timer hints",
        options=("--faults", f"drop=0.3,types={HINTS}"),
    ),
    Scenario(
        name="PostgreSQL restart",
        inject=restart_postgres,
        cuts_calls=True,
        cuts_notifications=True,
    ),
)
