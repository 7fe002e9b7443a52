"""Database failures a request causes become our errors, with no SQL text in them."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from psycopg_pool import ConnectionPool

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
        db.bounded_transaction(pool, timedelta(milliseconds=50)) as conn,
    ):
        conn.execute("SELECT pg_sleep(2)").fetchone()
    assert isinstance(raised.value.__cause__, psycopg.errors.QueryCanceled)


def test_other_failures_are_left_alone() -> None:
    assert db.as_knflow_error(ValueError("x")) is None


def test_a_bounded_transaction_returns_its_connection_clean(
    database_url: str,
) -> None:
    """Committed, failed or with a failed statement handled inside, the connection goes
    back idle and with the server's own timeout."""
    with db.open_pool(database_url, max_size=1) as single:
        with db.bounded_transaction(single, timedelta(seconds=3)) as conn:
            inside = conn.execute("SHOW statement_timeout").fetchone()
        with pytest.raises(InputError):
            _refused_in_bounded_transaction(single)
        with db.bounded_transaction(single, timedelta(seconds=3)) as conn:
            _handled_refusal(conn)
        with single.connection() as conn:
            status = conn.info.transaction_status
            after = conn.execute("SHOW statement_timeout").fetchone()
    assert inside == ("3s",)
    assert status is psycopg.pq.TransactionStatus.IDLE
    assert after != ("3s",)


def _refused_in_bounded_transaction(pool: ConnectionPool) -> None:
    with db.bounded_transaction(pool, timedelta(seconds=3)) as conn:
        try:
            conn.execute("SELECT 'many'::int").fetchone()
        except psycopg.DataError as error:
            raise InputError("refused") from error


def _handled_refusal(conn: db.Connection) -> None:
    """A failed statement whose error the caller keeps, as GraphQL keeps it in `errors`."""
    with pytest.raises(psycopg.DataError):
        conn.execute("SELECT 'many'::int").fetchone()
