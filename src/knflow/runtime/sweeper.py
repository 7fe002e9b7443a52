"""When this process looks for stalled work: soon after it started or worked, and after an outage.

A sweep (the reconcile's re-drive and re-publish, `instances.recovery.sweep`) runs on one
background thread, only when something asked for it: the process started, handled work, or saw
the database fail. It repeats while work is in flight anywhere (instances that could run, unsent
events), at the time the sweep says the oldest of them could next need help, and stops when
nothing is in flight: a cluster with nothing to do runs nothing, and scale to zero holds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Final

from knflow.errors import KnflowError, UnavailableError

logger = logging.getLogger(__name__)

FIRST_PROBE: Final = timedelta(seconds=1)
"""After a database failure, the first look; then doubling up to `LONGEST_PROBE`."""
LONGEST_PROBE: Final = timedelta(seconds=8)
LONGEST_DELAY: Final = timedelta(seconds=30)
"""Longest pause between sweeps while work is in flight."""


Sweep = Callable[[], timedelta | None]
"""Re-drive what stalled; return when to look again (None: nothing in flight, stop)."""


class Sweeper:
    """Runs `sweep` on one thread when asked; inert until `start` (tests, the CLI)."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._sweep: Sweep | None = None
        self._delay = timedelta(0)
        self._probe = FIRST_PROBE
        self._due: float | None = None
        self._thread: threading.Thread | None = None

    def start(self, sweep: Sweep, *, delay: timedelta) -> None:
        """Sweep with `sweep`, `delay` after each request for one; a zero delay turns it off."""
        with self._wake:
            if delay <= timedelta(0):
                return
            self._sweep = sweep
            self._delay = delay

    def soon(self) -> None:
        """Ask for a sweep after the delay (the process started, or handled work)."""
        with self._wake:
            self._arm(self._delay)

    def database_lost(self) -> None:
        """Ask for sweeps until the database answers again, then one that finds what stalled."""
        with self._wake:
            self._arm(self._probe)

    @property
    def is_armed(self) -> bool:
        """Tell whether a sweep is due (the thread is idle otherwise)."""
        with self._wake:
            return self._due is not None

    def _arm(self, delay: timedelta) -> None:
        if self._sweep is None:
            return
        due = time.monotonic() + delay.total_seconds()
        if self._due is None or due < self._due:
            self._due = due
            self._wake.notify()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="knflow-sweeper", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            sweep = self._wait_until_due()
            self._after(self._outcome(sweep))

    def _wait_until_due(self) -> Sweep:
        with self._wake:
            while self._due is None or self._due > time.monotonic():
                timeout = None if self._due is None else self._due - time.monotonic()
                self._wake.wait(timeout)  # blocked, not polling, while nothing is due
            self._due = None
            assert self._sweep is not None, "armed only after start"
            return self._sweep

    def _outcome(self, sweep: Sweep) -> timedelta | UnavailableError | None:
        """Run one sweep: when to look again, or the database's failure."""
        try:
            return sweep()
        except UnavailableError as error:
            logger.info("sweep postponed", extra={"reason": str(error)})
            return error
        except KnflowError:
            logger.exception("sweep failed")
            return LONGEST_DELAY

    def _after(self, outcome: timedelta | UnavailableError | None) -> None:
        with self._wake:
            if isinstance(outcome, UnavailableError):
                self._probe = min(self._probe * 2, LONGEST_PROBE)
                self._arm(self._probe)
                return
            self._probe = FIRST_PROBE
            if outcome is not None:
                self._arm(min(max(outcome, self._delay), LONGEST_DELAY))
