"""Connections: one pool per process, and the transaction helper every use case goes through."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from functools import partial
from typing import Final

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from knflow.errors import (
    ConflictError,
    DefinitionChangedError,
    InputError,
    KnflowError,
    UnavailableError,
)
from knflow.store.sql import queries

Connection = psycopg.Connection[tuple[object, ...]]
Pool = ConnectionPool

ROW_CHANGED: Final = "KN409"
"""SQLSTATE a statement raises when a row changed since it was read (migration 0019)."""
DEFINITION_CHANGED: Final = "KN412"
"""SQLSTATE a start's check raises when its workflow was registered again (migration 0021)."""
_CHECK_ERRORS: Final[dict[str, type[ConflictError]]] = {
    ROW_CHANGED: ConflictError,
    DEFINITION_CHANGED: DefinitionChangedError,
}


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
        ConflictError: a statement found a row changed since it was read (`ROW_CHANGED`),
            or a start's workflow registered again (`DefinitionChangedError`).
    """
    with _translated_errors(), pool.connection() as conn, conn.transaction():
        yield conn


@contextmanager
def autocommit(pool: Pool) -> Iterator[Connection]:
    """Yield a pooled connection outside any transaction: each statement commits alone.

    For a single read that needs no transaction (the readiness probe), without the round
    trips of BEGIN and COMMIT.

    Raises:
        UnavailableError: the database connection failed.
    """
    with _translated_errors(), pool.connection() as conn:
        yield conn


@contextmanager
def pipelined_transaction(pool: Pool) -> Iterator[Connection]:
    """Yield a connection inside one transaction in pipeline mode, committed at the end.

    BEGIN goes out with the first statement, and a statement whose answer is read only
    later goes out with the next one that waits for its own, COMMIT with the pipeline's
    last sync: a step of an instance waits for the server fewer times. BEGIN and COMMIT
    are statements, not `conn.transaction()`, whose nested pipeline syncs (and waits) on
    entering and on leaving. A database error may surface at a later statement of the
    block, or at the commit; it fails the block all the same. A transaction a failed
    statement aborted (the caller may have handled the error) or an exception ends is
    rolled back; nothing else is.

    Raises:
        UnavailableError: the database connection failed.
        ConflictError: a statement found a row changed since it was read (`ROW_CHANGED`),
            or a start's workflow registered again (`DefinitionChangedError`).
    """
    statements = queries("db")
    with _translated_errors(), pool.connection() as conn:
        try:
            with conn.pipeline():
                conn.execute(statements["begin_transaction"])
                yield conn
                if conn.pgconn.pipeline_status != pq.PipelineStatus.ABORTED:
                    conn.execute(statements["commit_transaction"])
        finally:
            _roll_back(conn)


@contextmanager
def bounded_reads(pool: Pool, timeout: timedelta) -> Iterator[Connection]:
    """Yield an autocommit connection whose every statement stops at `timeout`.

    For Data Index requests, which only read (its mutations call out over HTTP). The
    connection comes from a companion pool of `pool`'s database whose sessions carry the
    timeout, set once as each connects: a one-query request is one statement and one wait
    for the server, without the BEGIN, SET LOCAL and COMMIT of a bounded transaction
    (which waited twice). Each statement is its own transaction; at READ COMMITTED a
    transaction would take a snapshot per statement all the same, so a request sees what
    it saw before. A failed statement no longer fails the request's later ones.

    Raises:
        UnavailableError: the database connection failed, or a statement ran past `timeout`.
    """
    with _translated_errors(), _bounded_pool(pool, timeout).connection() as conn:
        yield conn


_BOUNDED_POOLS: Final[weakref.WeakKeyDictionary[Pool, dict[timedelta, Pool]]] = (
    weakref.WeakKeyDictionary()
)
_BOUNDED_LOCK: Final = threading.Lock()


def _bounded_pool(pool: Pool, timeout: timedelta) -> Pool:
    """The companion of `pool` whose sessions carry `timeout`, opened at its first use.

    It lives as long as `pool`: closed once `pool` is closed (at the next request) or
    collected. Its sizes are `pool`'s.

    Raises:
        PoolClosed: `pool` is closed.
    """
    with _BOUNDED_LOCK:
        companions = _BOUNDED_POOLS.setdefault(pool, {})
        if pool.closed:
            for companion in companions.values():
                companion.close()
            raise PoolClosed(f"the pool {pool.name!r} is already closed")
        found = companions.get(timeout)
        if found is not None:
            return found
        companion = ConnectionPool(
            pool.conninfo,
            min_size=pool.min_size,
            max_size=pool.max_size,
            open=False,
            kwargs=pool.kwargs,
            configure=partial(_set_session_timeout, timeout),
            name=f"{pool.name}-bounded",
        )
        companion.open()
        weakref.finalize(pool, companion.close)
        companions[timeout] = companion
        return companion


def _set_session_timeout(timeout: timedelta, conn: Connection) -> None:
    """Give a new connection's session the statement timeout (the pool's `configure`)."""
    conn.execute(
        queries("db")["set_session_statement_timeout"],
        {"milliseconds": _milliseconds(timeout)},
    )


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


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Raise knflow's errors for a lost connection and for a failed server-side check.

    Raises:
        UnavailableError: the database connection failed.
        ConflictError: a check of `_CHECK_ERRORS` failed.
    """
    try:
        yield
    except psycopg.OperationalError as error:
        raise _unavailable(error) from error
    except psycopg.DatabaseError as error:
        if error.sqlstate not in _CHECK_ERRORS:
            raise
        raise _conflict(error) from error


def _conflict(error: psycopg.DatabaseError) -> ConflictError:
    """A failed server-side check (`_CHECK_ERRORS`) is a conflict; its message names it."""
    kind = _CHECK_ERRORS[error.sqlstate or ""]
    return kind(error.diag.message_primary or "stored state changed concurrently")


def _check_url(database_url: str) -> None:
    try:
        psycopg.conninfo.conninfo_to_dict(database_url)
    except psycopg.ProgrammingError as error:
        raise InputError(
            "DATABASE_URL is neither a postgresql:// URL nor a libpq connection"
            " string (host=... dbname=...); fix it or unset it"
        ) from error
