"""Instance rows: inserts, locks and updates are never read back, and what fails fails its unit.

A second insert of an id fails it; so do a lock or an update at a revision the row left, which
the server checks.
"""

from __future__ import annotations

import dataclasses

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from knflow.errors import ConflictError
from knflow.store import db, instances
from knflow.store.instances import InstanceRow
from tests.store.rows import T0, instance_row, register_workflow


def _registered(pool: ConnectionPool) -> None:
    with db.transaction(pool) as conn:
        register_workflow(conn)


def _insert_both(pool: ConnectionPool, rows: list[InstanceRow]) -> None:
    """Insert `rows` in one pipelined unit, reading nothing back."""
    with db.pipelined_transaction(pool) as conn:
        for row in rows:
            instances.insert(conn, row)


def _row(instance_id: str, *, data: dict[str, int]) -> InstanceRow:
    return instance_row(instance_id, data=data)


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


@pytest.fixture
def stored(pool: ConnectionPool) -> InstanceRow:
    """An active instance at revision 0, and a scratch table a unit of work writes to."""
    _registered(pool)
    row = _row("i1", data={})
    with db.transaction(pool) as conn:
        instances.insert(conn, row)
        conn.execute("CREATE TABLE scratch (id integer PRIMARY KEY)")
    return row


def test_an_update_at_the_read_revision_writes_the_next_one(
    pool: ConnectionPool, stored: InstanceRow
) -> None:
    with db.pipelined_transaction(pool) as conn:
        written = instances.update(conn, dataclasses.replace(stored, data={"a": 1}))

    assert written == 1
    assert (_revision(pool), _data(pool)) == (1, {"a": 1})


def test_a_stale_pipelined_update_commits_nothing_of_its_transaction(
    pool: ConnectionPool, stored: InstanceRow
) -> None:
    stale = dataclasses.replace(stored, revision=5, data={"a": 1})
    with pytest.raises(ConflictError, match=r"instance 'i1' changed .*revision 5"):
        _update_then_write(pool, stale)

    assert (_revision(pool), _data(pool), _scratch(pool)) == (0, {}, [])


def test_a_stale_update_fails_at_its_statement_outside_a_pipeline(
    pool: ConnectionPool, stored: InstanceRow
) -> None:
    stale = dataclasses.replace(stored, revision=5)
    with pytest.raises(ConflictError, match="changed concurrently"):
        _write_then_update(pool, stale)

    assert (_revision(pool), _scratch(pool)) == (0, [])


def test_a_lock_at_a_stale_revision_commits_nothing_of_its_transaction(
    pool: ConnectionPool, stored: InstanceRow
) -> None:
    with pytest.raises(ConflictError, match=r"instance 'i1' changed .*revision 5"):
        _lock_at_then_write(pool, dataclasses.replace(stored, revision=5))

    assert _scratch(pool) == []


def test_a_lock_at_the_stored_revision_lets_the_transaction_commit(
    pool: ConnectionPool, stored: InstanceRow
) -> None:
    _lock_at_then_write(pool, stored)

    assert _scratch(pool) == [1]


def test_a_claim_renewal_bumps_the_revision(
    pool: ConnectionPool, stored: InstanceRow
) -> None:
    wait = {"key": "k", "claimed_until": T0.isoformat()}
    with db.transaction(pool) as conn:
        instances.update(
            conn,
            dataclasses.replace(stored, execution={"threads": {"t": {"wait": wait}}}),
        )
        renewed = instances.renew_call_claim(
            conn,
            "i1",
            thread_id="t",
            key="k",
            held_until=T0,
            claimed_until=T0.replace(hour=11),
        )

    assert (renewed, _revision(pool)) == (True, 2)


def _lock_at_then_write(pool: ConnectionPool, row: InstanceRow) -> None:
    with db.pipelined_transaction(pool) as conn:
        instances.lock_at(conn, row)
        conn.execute("INSERT INTO scratch VALUES (1)")


def _update_then_write(pool: ConnectionPool, row: InstanceRow) -> None:
    """Update, then write more without reading any answer, as a unit of work does."""
    with db.pipelined_transaction(pool) as conn:
        instances.update(conn, row)
        conn.execute("INSERT INTO scratch VALUES (1)")


def _write_then_update(pool: ConnectionPool, row: InstanceRow) -> None:
    with db.transaction(pool) as conn:
        conn.execute("INSERT INTO scratch VALUES (1)")
        instances.update(conn, row)


def _revision(pool: ConnectionPool) -> int:
    with db.transaction(pool) as conn:
        found = instances.get(conn, "i1")
    assert found is not None
    return found.revision


def _data(pool: ConnectionPool) -> object:
    with db.transaction(pool) as conn:
        found = instances.get(conn, "i1")
    assert found is not None
    return found.data


def _scratch(pool: ConnectionPool) -> list[int]:
    with db.transaction(pool) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM scratch")]
