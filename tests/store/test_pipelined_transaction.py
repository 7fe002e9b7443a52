"""The pipelined transaction of units of work: all or nothing, and fewer waits for the server."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

from knflow.store import db


def _scratch_table(pool: ConnectionPool) -> None:
    with db.transaction(pool) as conn:
        conn.execute("CREATE TABLE scratch (id integer PRIMARY KEY)")


def _ids(pool: ConnectionPool) -> list[int]:
    with db.transaction(pool) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM scratch ORDER BY id")]


def _write(pool: ConnectionPool, ids: list[int], *, then_fail: bool = False) -> None:
    """Insert `ids` without reading any answer, in one pipelined transaction."""
    with db.pipelined_transaction(pool) as conn:
        for row_id in ids:
            conn.execute("INSERT INTO scratch VALUES (%s)", (row_id,))
        if then_fail:
            raise RuntimeError("the step failed")


def test_what_the_block_wrote_is_committed_with_answers_read_after(
    pool: ConnectionPool,
) -> None:
    _scratch_table(pool)
    with db.pipelined_transaction(pool) as conn:
        first = conn.execute("INSERT INTO scratch VALUES (1) RETURNING id")
        conn.execute("INSERT INTO scratch VALUES (2)")

    assert first.fetchone() == (1,)
    assert _ids(pool) == [1, 2]


def test_a_block_that_raises_writes_nothing_and_leaves_the_connection_idle(
    pool: ConnectionPool,
) -> None:
    _scratch_table(pool)
    with pytest.raises(RuntimeError):
        _write(pool, [1], then_fail=True)

    assert _ids(pool) == []
    with pool.connection() as conn:
        assert conn.info.transaction_status is TransactionStatus.IDLE


def test_a_statement_failing_unread_fails_the_block_at_its_end(
    pool: ConnectionPool,
) -> None:
    _scratch_table(pool)
    with pytest.raises(psycopg.errors.UniqueViolation):
        _write(pool, [1, 1])

    assert _ids(pool) == []
