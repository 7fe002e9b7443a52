"""Work handed from request threads to one background thread, which takes all that waits at once.

An HTTP function publishes what a request committed after its answer. Done on the request's
own thread, that work held the thread, and with it the caller's keep-alive connection, until
the broker answered and the rows were marked sent; and each request paid its own POST and
UPDATE. Handed off, the answer is free at once, and a burst of requests is published as one
batch: merged deliveries per instance, one UPDATE for all.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Final, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

IDLE_SECONDS: Final = 30.0
"""How long the thread outlives the last batch, by default."""
EXIT_GRACE_SECONDS: Final = 5.0
"""How long a process that exits waits for what was handed off."""


class Handoff(Generic[T]):
    """Runs `drain` on one background thread with everything submitted since its last run."""

    def __init__(
        self,
        drain: Callable[[list[T]], None],
        *,
        name: str,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self._drain = drain
        self._name = name
        self._idle_seconds = idle_seconds
        self._wake = threading.Condition()
        self._waiting: list[T] = []
        self._busy = False
        self._thread: threading.Thread | None = None
        atexit.register(self.flush, EXIT_GRACE_SECONDS)

    def submit(self, items: Iterable[T]) -> None:
        """Queue `items` for the next batch (in order, after what was submitted before)."""
        with self._wake:
            self._waiting.extend(items)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=self._name, daemon=True
                )
                self._thread.start()
            self._wake.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until everything submitted was drained; False if `timeout` ran out first."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while self._waiting or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None:
                    return False
                self._wake.wait(left)
            return True

    @property
    def running(self) -> bool:
        """Whether the thread is alive (it ends after the idle time with nothing to do)."""
        with self._wake:
            return self._thread is not None

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._drain(batch)
            except Exception:  # the thread serves every later request: it must live on
                logger.exception("background work failed", extra={"worker": self._name})
            finally:
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()

    def _next_batch(self) -> list[T] | None:
        """Everything waiting, once there is some; None after the idle time (the thread ends)."""
        with self._wake:
            while not self._waiting:
                if not self._wake.wait(self._idle_seconds) and not self._waiting:
                    self._thread = None
                    return None
            batch, self._waiting = self._waiting, []
            self._busy = True
            return batch
