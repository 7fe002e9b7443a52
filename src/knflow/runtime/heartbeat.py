"""One heartbeat thread per process, renewing whatever is in flight at its own period.

Calls in flight keep their short claims alive by renewing them (`instances.heartbeats`). A
thread per call cost a thread start and join for every call, most of which end long before
their first renewal is due; one thread, started at the first use, serves them all, and a call
that ends before its period costs a set insert and removal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

logger = logging.getLogger(__name__)

IDLE_SECONDS: Final = 30.0
"""How long the thread outlives the last call in flight, by default."""

Renewal = Callable[[], bool]
"""Renew once; False when there is nothing left to renew (stop beating for it)."""


@dataclass(eq=False, slots=True)
class _Beat:
    renew: Renewal
    period: float
    next_at: float


class Heartbeat:
    """Calls each registered renewal every period while its block runs, on one thread."""

    def __init__(self, *, idle_seconds: float = IDLE_SECONDS) -> None:
        self._idle_seconds = idle_seconds
        self._wake = threading.Condition()
        self._beats: set[_Beat] = set()
        self._thread: threading.Thread | None = None
        self._idle_since = time.monotonic()
        self._wakes_at: float | None = None
        """When the waiting thread wakes by itself; None while it is not waiting."""

    @contextmanager
    def beating(self, renew: Renewal, *, every: float) -> Iterator[None]:
        """Call `renew` every `every` seconds until the block ends (first after one period).

        A renewal running when the block ends may still finish after it: renewals must be
        harmless once what they renew is gone.
        """
        beat = _Beat(renew=renew, period=every, next_at=time.monotonic() + every)
        with self._wake:
            self._beats.add(beat)
            self._start_once()
            self._wake_before(beat.next_at)
        try:
            yield
        finally:
            with self._wake:
                self._beats.discard(beat)
                if not self._beats:
                    # Its idle time starts now, not at the beat it waited for.
                    self._idle_since = time.monotonic()
                    self._wake_before(self._idle_since + self._idle_seconds)

    @property
    def running(self) -> bool:
        """Whether the thread is alive (it ends after the idle time with nothing in flight)."""
        with self._wake:
            return self._thread is not None

    def _wake_before(self, moment: float) -> None:
        """Wake the thread when it would sleep past `moment`, and only then.

        Calls one after another (a chain of steps) each register and leave a renewal due
        a period later than the one the thread already waits for: waking it at every
        call would make it compete for the interpreter twice per call for nothing.
        """
        if self._wakes_at is None or moment < self._wakes_at:
            self._wake.notify()

    def _start_once(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="knflow-heartbeat", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while (due := self._due_beats()) is not None:
            for beat in due:
                self._renew(beat)

    def _due_beats(self) -> list[_Beat] | None:
        """Wait until some renewal is due; return those that are, moved to their next time.

        None when nothing was registered for the idle time: the thread ends (and the next
        registration starts another), so an idle process keeps no thread waking.
        """
        with self._wake:
            while True:
                now = time.monotonic()
                due = [beat for beat in self._beats if beat.next_at <= now]
                if due:
                    for beat in due:
                        beat.next_at = now + beat.period
                    return due
                wake_at = self._next_wake()
                if wake_at <= now:
                    self._thread = None
                    return None
                self._wakes_at = wake_at
                self._wake.wait(wake_at - now)
                self._wakes_at = None

    def _next_wake(self) -> float:
        """The next renewal due, or with none in flight the end of the idle time."""
        if self._beats:
            return min(beat.next_at for beat in self._beats)
        return self._idle_since + self._idle_seconds

    def _renew(self, beat: _Beat) -> None:
        try:
            keep = beat.renew()
        except Exception:  # the thread serves every call in flight: it must live on
            logger.exception("heartbeat renewal failed")
            return
        if not keep:
            with self._wake:
                self._beats.discard(beat)
