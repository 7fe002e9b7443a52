"""The active-instance limit holds when several processes start and end instances at once.

Each "process" is its own Services with its own connection pool and definition cache, as
start-workflow and step-executor replicas are; a watcher counts the committed ACTIVE rows.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from knflow.engine.outcome import InstanceStatus
from knflow.runtime.catalog import DefinitionCache
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import registration
from knflow.store import db
from tests.conftest import TEST_DATA
from tests.runtime import runs
from tests.waiting import eventually

PROCESSES = 4
STARTS = 16
LIMIT = 2


@pytest.fixture
def replicas(
    services: Services, database_url: str, tmp_path: Path
) -> Iterator[list[Services]]:
    """Four process-like Services on one database, with `gated` registered."""
    (tmp_path / "gated.sw.json").write_text(
        (TEST_DATA / "workflows" / "flow" / "gated.sw.json").read_text()
    )
    registration.register_folder(services, tmp_path)
    pools = [db.open_pool(database_url, max_size=3) for _ in range(PROCESSES)]
    yield [
        dataclasses.replace(services, pool=pool, definitions=DefinitionCache())
        for pool in pools
    ]
    for pool in pools:
        pool.close()


class ActiveWatcher:
    """Counts the committed ACTIVE instances of `gated` until stopped; keeps the highest."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.highest = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch)

    def _watch(self) -> None:
        while not self.stop.is_set():
            with self.services.pool.connection() as conn:
                found = conn.execute(
                    "SELECT count(*) FROM instances"
                    " WHERE workflow_id = 'gated' AND status = 'ACTIVE'"
                ).fetchone()
            self.highest = max(self.highest, int(found[0]) if found else 0)


def _statuses(services: Services) -> dict[str, int]:
    with services.pool.connection() as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM instances GROUP BY status"
        ).fetchall()
    return {str(status): int(count) for status, count in rows}


def test_concurrent_starts_and_ends_never_exceed_the_limit(
    services: Services, replicas: list[Services]
) -> None:
    watcher = ActiveWatcher(services)
    watcher.thread.start()
    try:
        with ThreadPoolExecutor(max_workers=2 * PROCESSES) as pool:
            ids = list(
                pool.map(
                    lambda n: runs.start(replicas[n % PROCESSES], "gated", {"n": n}),
                    range(STARTS),
                )
            )
            assert _statuses(services) == {"ACTIVE": LIMIT, "PENDING": STARTS - LIMIT}
            # A release sent to a queued instance waits in the backlog until it starts.
            list(
                pool.map(
                    lambda n: runs.send(
                        replicas[n % PROCESSES],
                        "org.example.release",
                        {},
                        kogitoprocrefid=ids[n],
                    ),
                    range(STARTS),
                )
            )
        eventually(lambda: _statuses(services), lambda s: s == {"COMPLETED": STARTS})
    finally:
        watcher.stop.set()
        watcher.thread.join()
    assert watcher.highest == LIMIT
    assert InstanceStatus.PENDING.value not in _statuses(services)
