"""CPU spent by the processes a measure is about: process trees and PostgreSQL backends.

A sampler thread reads /proc every `interval` seconds and keeps, per process, the first and
the last CPU value it saw; the total is the sum of the differences (a process born during the
window counts from zero). The server's backends are found through `pg_stat_activity` by
database, so other databases on the shared server are not counted; the server's own
auxiliary processes (WAL writer, checkpointer) are shared by every database and left out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from types import TracebackType

import psycopg

from bench import procs

BACKENDS_SQL = "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%(names)s)"


class CpuMeter:
    """Sum the CPU of process trees and of the backends of some databases over a window."""

    def __init__(
        self,
        *,
        roots: Callable[[], Iterable[int]] = tuple,
        server_url: str | None = None,
        databases: Iterable[str] = (),
        exclude: Iterable[int] = (),
        interval: float = 0.2,
    ) -> None:
        self._roots = roots
        self._server_url = server_url
        self._databases = list(databases)
        self._interval = interval
        self._exclude = set(exclude)
        self._lock = threading.Lock()
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._connection: psycopg.Connection | None = None

    def __enter__(self) -> CpuMeter:
        if self._server_url and self._databases:
            self._connection = psycopg.connect(self._server_url, autocommit=True)
        self._sample(baseline=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._thread.join()
        self._sample(baseline=False)
        if self._connection is not None:
            self._connection.close()

    @property
    def seconds(self) -> float:
        """CPU seconds spent so far in the window (as of the last sample)."""
        with self._lock:
            return sum(
                self._last[pid] - self._first.get(pid, 0.0) for pid in self._last
            )

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            self._sample(baseline=False)

    def _sample(self, *, baseline: bool) -> None:
        for pid in self._pids() - self._exclude:
            value = procs.cpu_seconds(pid)
            if value is None:
                continue
            with self._lock:
                if baseline:
                    self._first[pid] = value
                self._last[pid] = value

    def _pids(self) -> set[int]:
        pids = {member for root in self._roots() for member in procs.tree(root)}
        if self._connection is not None:
            rows = self._connection.execute(
                BACKENDS_SQL, {"names": self._databases}
            ).fetchall()
            pids.update(int(row[0]) for row in rows)
        return pids
