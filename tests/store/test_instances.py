"""Instance rows: an insert is never read back, and a second insert of an id fails its unit."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from knflow.engine.outcome import InstanceStatus
from knflow.store import db, definitions, instances
from knflow.store.definitions import StoredDefinition
from knflow.store.instances import InstanceRow

T0 = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


def _registered(pool: ConnectionPool) -> None:
    with db.transaction(pool) as conn:
        definitions.upsert(
            conn,
            StoredDefinition(
                workflow_id="wf",
                version="1.0",
                name="wf",
                description=None,
                source={},
                checksum="x",
                status="AVAILABLE",
                registered_at=T0,
            ),
        )


def _insert_both(pool: ConnectionPool, rows: list[InstanceRow]) -> None:
    """Insert `rows` in one pipelined unit, reading nothing back."""
    with db.pipelined_transaction(pool) as conn:
        for row in rows:
            instances.insert(conn, row)


def _row(instance_id: str, *, data: dict[str, int]) -> InstanceRow:
    return InstanceRow(
        id=instance_id,
        workflow_id="wf",
        workflow_version="1.0",
        status=InstanceStatus.ACTIVE,
        revision=0,
        data=data,
        variables={},
        execution={"threads": {}},
        waiting=False,
        headers={},
        business_key=None,
        parent_instance_id=None,
        parent_thread_id=None,
        parent_key=None,
        root_instance_id=None,
        root_workflow_id=None,
        error_state=None,
        error_node=None,
        error_message=None,
        started_at=T0,
        updated_at=T0,
        ended_at=None,
    )


def test_an_insert_in_a_pipelined_unit_is_committed_without_a_read(
    pool: ConnectionPool,
) -> None:
    _registered(pool)
    with db.pipelined_transaction(pool) as conn:
        instances.insert(conn, _row("i-1", data={"n": 1}))

    with db.transaction(pool) as conn:
        stored = instances.get(conn, "i-1")
    assert stored is not None
    assert stored.data == {"n": 1}


def test_inserting_an_existing_id_fails_the_unit_and_changes_nothing(
    pool: ConnectionPool,
) -> None:
    _registered(pool)
    with db.pipelined_transaction(pool) as conn:
        instances.insert(conn, _row("i-1", data={"n": 1}))

    again = [_row("i-2", data={"n": 2}), _row("i-1", data={"n": 3})]
    with pytest.raises(psycopg.errors.UniqueViolation):
        _insert_both(pool, again)

    with db.transaction(pool) as conn:
        first, second = instances.get(conn, "i-1"), instances.get(conn, "i-2")
    assert first is not None
    assert first.data == {"n": 1}
    assert second is None
