"""Database failures a request causes become our errors, with no SQL text in them."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from psycopg_pool import ConnectionPool, PoolClosed

from knflow.errors import InputError, UnavailableError
from knflow.store import db


def test_a_refused_value_is_an_input_error(pool: ConnectionPool) -> None:
    with pytest.raises(psycopg.DataError) as raised, db.transaction(pool) as conn:
        conn.execute("SELECT 'many'::int")
    translated = db.as_knflow_error(raised.value)
    assert isinstance(translated, InputError)
    assert "SELECT" not in str(translated)


def test_a_statement_past_the_timeout_is_cancelled_naming_the_setting(
    pool: ConnectionPool,
) -> None:
    with (
        pytest.raises(UnavailableError, match="KNFLOW_STATEMENT_TIMEOUT_MS") as raised,
        db.bounded_reads(pool, timedelta(milliseconds=50)) as conn,
    ):
        conn.execute("SELECT pg_sleep(2)").fetchone()
    assert isinstance(raised.value.__cause__, psycopg.errors.QueryCanceled)


def test_every_statement_of_bounded_reads_is_bounded(pool: ConnectionPool) -> None:
    """A request's later statements too, on a connection back from an earlier request."""
    with db.bounded_reads(pool, timedelta(milliseconds=50)) as conn:
        conn.execute("SELECT 1").fetchone()
    with db.bounded_reads(pool, timedelta(milliseconds=50)) as conn:
        conn.execute("SELECT 1").fetchone()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(2)").fetchone()
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_other_failures_are_left_alone() -> None:
    assert db.as_knflow_error(ValueError("x")) is None


def test_bounded_reads_leave_the_pool_with_the_server_timeout(
    database_url: str,
) -> None:
    """Only the companion pool's sessions carry the timeout; each of its reads is in no
    transaction, and a failed statement leaves its connection idle."""
    with db.open_pool(database_url, max_size=1) as single:
        with db.bounded_reads(single, timedelta(seconds=3)) as conn:
            inside = conn.execute("SHOW statement_timeout").fetchone()
            status = conn.info.transaction_status
        with pytest.raises(InputError):
            _refused_in_bounded_reads(single)
        with db.bounded_reads(single, timedelta(seconds=3)) as conn:
            after_refusal = conn.info.transaction_status
        with single.connection() as conn:
            outside = conn.execute("SHOW statement_timeout").fetchone()
    assert inside == ("3s",)
    assert status is after_refusal is psycopg.pq.TransactionStatus.IDLE
    assert outside != ("3s",)


@pytest.mark.parametrize("used", [True, False])
def test_bounded_reads_close_with_their_pool(database_url: str, used: bool) -> None:
    with db.open_pool(database_url, max_size=1) as single:
        if used:
            with db.bounded_reads(single, timedelta(seconds=3)) as conn:
                conn.execute("SELECT 1")
    with (
        pytest.raises(UnavailableError, match="closed") as raised,
        db.bounded_reads(single, timedelta(seconds=3)),
    ):
        pass
    assert isinstance(raised.value.__cause__, PoolClosed)


def _refused_in_bounded_reads(pool: ConnectionPool) -> None:
    with db.bounded_reads(pool, timedelta(seconds=3)) as conn:
        try:
            conn.execute("SELECT 'many'::int").fetchone()
        except psycopg.DataError as error:
            raise InputError("refused") from error
