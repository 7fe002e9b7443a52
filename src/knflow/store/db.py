"""Connections: one pool per process, and the transaction helper every use case goes through."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from knflow.errors import UnavailableError

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
        raise UnavailableError(f"database is unavailable: {error}") from error


@contextmanager
def connect(database_url: str) -> Iterator[Connection]:
    """Yield one autocommit connection outside any pool (CLI commands, migrations)."""
    try:
        conn = psycopg.connect(database_url, autocommit=True)
    except psycopg.OperationalError as error:
        raise UnavailableError(f"database is unreachable: {error}") from error
    with conn:
        yield conn
