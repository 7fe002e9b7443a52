"""The Data Index learns what the runtime committed, also when commits share a transaction."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from knflow.runtime.services import Services
from knflow.store import db, index, instances
from tests.conftest import TEST_DATA
from tests.runtime import runs


def test_an_event_started_instance_shows_the_data_it_ended_with(
    services: Services, register: Callable[[Path], list[str]], tmp_path: Path
) -> None:
    shutil.copy(TEST_DATA / "workflows" / "review.sw.json", tmp_path)
    register(tmp_path)

    runs.send(services, "org.example.reviewed", {"review": {"score": 5}})
    runs.index_outbox(services)

    with db.transaction(services.pool) as conn:
        (row,) = conn.execute("SELECT id FROM instances").fetchall()
        runtime = instances.get(conn, row[0])
        indexed = index.get_instance(conn, row[0])
    assert runtime is not None
    assert indexed is not None
    assert runtime.data["published"] is True
    assert indexed.variables["workflowdata"] == runtime.data
