"""Connections: one pool per process, and the transaction helper every use case goes through."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import timedelta

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg_pool import ConnectionPool, PoolTimeout

from knflow.errors import InputError, KnflowError, UnavailableError
from knflow.store.sql import queries

Connection = psycopg.Connection[tuple[object, ...]]
Pool = ConnectionPool


def open_pool(database_url: str, *, min_size: int = 1, max_size: int = 8) -> Pool:
    """Open a pool to `database_url` (empty: the `PG*` variables) and wait until it is usable.

    Raises:
        UnavailableError: the database did not answer within the timeout.
    """
    pool = ConnectionPool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": True},
        name="knflow",
    )
    _check_url(database_url)
    try:
        pool.open(wait=True, timeout=15)
    except (psycopg.Error, PoolTimeout) as error:
        pool.close()
        raise UnavailableError(f"database is unreachable: {error}") from error
    return pool


@contextmanager
def transaction(pool: Pool) -> Iterator[Connection]:
    """Yield a connection inside one transaction, committed when the block ends normally.

    Raises:
        UnavailableError: the database connection failed.
    """
    try:
        with pool.connection() as conn, conn.transaction():
            yield conn
    except psycopg.OperationalError as error:
        raise _unavailable(error) from error


@contextmanager
def autocommit(pool: Pool) -> Iterator[Connection]:
    """Yield a pooled connection outside any transaction: each statement commits alone.

    For a single read that needs no transaction (the readiness probe), without the round
    trips of BEGIN and COMMIT.

    Raises:
        UnavailableError: the database connection failed.
    """
    try:
        with pool.connection() as conn:
            yield conn
    except psycopg.OperationalError as error:
        raise _unavailable(error) from error


@contextmanager
def pipelined_transaction(
    pool: Pool, *, timeout: timedelta | None = None
) -> Iterator[Connection]:
    """Yield a connection inside one transaction in pipeline mode, committed at the end.

    BEGIN goes out with the first statement, and a statement whose answer is read only
    later goes out with the next one that waits for its own, COMMIT with the pipeline's
    last sync: a step of an instance, or a one-query Data Index request, waits for the
    server fewer times. BEGIN and COMMIT are statements, not `conn.transaction()`, whose
    nested pipeline syncs (and waits) on entering and on leaving. A database error may
    surface at a later statement of the block, or at the commit; it fails the block all
    the same. A transaction a failed statement aborted (the caller may have handled the
    error, as GraphQL does) or an exception ends is rolled back; nothing else is.
    `timeout` bounds every statement of the transaction.

    Raises:
        UnavailableError: the database connection failed.
    """
    statements = queries("db")
    try:
        with pool.connection() as conn:
            try:
                with conn.pipeline():
                    conn.execute(statements["begin_transaction"])
                    if timeout is not None:
                        conn.execute(
                            statements["set_statement_timeout"],
                            {"milliseconds": _milliseconds(timeout)},
                        )
                    yield conn
                    if conn.pgconn.pipeline_status != pq.PipelineStatus.ABORTED:
                        conn.execute(statements["commit_transaction"])
            finally:
                _roll_back(conn)
    except psycopg.OperationalError as error:
        raise _unavailable(error) from error


def bounded_transaction(
    pool: Pool, timeout: timedelta
) -> AbstractContextManager[Connection]:
    """A `pipelined_transaction` whose statements stop at `timeout` (Data Index requests)."""
    return pipelined_transaction(pool, timeout=timeout)


def _milliseconds(timeout: timedelta) -> str:
    return str(max(1, int(timeout.total_seconds() * 1000)))


def _roll_back(conn: Connection) -> None:
    """End a transaction the block left open (it raised, or a statement aborted it).

    A broken connection cannot be rolled back; the pool discards it.
    """
    if conn.closed or conn.info.transaction_status is pq.TransactionStatus.IDLE:
        return
    with suppress(psycopg.Error):
        conn.rollback()


@contextmanager
def connect(database_url: str) -> Iterator[Connection]:
    """Yield one autocommit connection outside any pool (CLI commands, migrations).

    Raises:
        InputError: `database_url` is not a libpq connection string or URL.
        UnavailableError: the database did not answer.
    """
    _check_url(database_url)
    try:
        conn = psycopg.connect(database_url, autocommit=True)
    except psycopg.OperationalError as error:
        raise UnavailableError(f"database is unreachable: {error}") from error
    with conn:
        yield conn


def as_knflow_error(error: BaseException) -> KnflowError | None:
    """Return our error for a database failure caused by a request, else None.

    A cancelled statement (the statement timeout) and a refused value (SQLSTATE class 22,
    "data exception") come from what the request asked; their messages here name the
    limit or the reason and never carry SQL text.
    """
    if isinstance(error, pg_errors.QueryCanceled):
        return UnavailableError(
            "the request ran longer than the statement timeout"
            " (KNFLOW_STATEMENT_TIMEOUT_MS); filter or page it more narrowly"
        )
    if isinstance(error, pg_errors.InFailedSqlTransaction | pg_errors.PipelineAborted):
        return UnavailableError("an earlier statement of this request failed")
    if isinstance(error, psycopg.DataError) and "NUL" in str(error):
        return InputError("a value of the request holds a NUL character (\\u0000)")
    if isinstance(error, psycopg.DataError):
        return InputError("a value of the request is out of range for its field")
    return None


def _unavailable(error: psycopg.OperationalError) -> KnflowError:
    """A cancelled statement names its limit; any other operational failure is an outage."""
    return as_knflow_error(error) or UnavailableError(
        f"database is unavailable: {error}"
    )


def _check_url(database_url: str) -> None:
    try:
        psycopg.conninfo.conninfo_to_dict(database_url)
    except psycopg.ProgrammingError as error:
        raise InputError(
            "DATABASE_URL is neither a postgresql:// URL nor a libpq connection"
            " string (host=... dbname=...); fix it or unset it"
        ) from error
