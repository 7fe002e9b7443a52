"""The server's check of a start made on a process's copy of the latest definition (0021)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from psycopg_pool import ConnectionPool

from knflow.errors import DefinitionChangedError
from knflow.store import db, definitions
from knflow.store.definitions import StoredDefinition
from tests.store.rows import WORKFLOW

SERVED = replace(WORKFLOW, checksum="a")


def _scratch_table(pool: ConnectionPool) -> None:
    with db.transaction(pool) as conn:
        conn.execute("CREATE TABLE scratch (id integer PRIMARY KEY)")
        definitions.upsert(conn, SERVED)


def _start_on(pool: ConnectionPool, copy: StoredDefinition) -> None:
    """Write a row as a start would, checked against `copy`, reading nothing back."""
    with db.pipelined_transaction(pool) as conn:
        definitions.expect_latest(conn, copy)
        conn.execute("INSERT INTO scratch VALUES (1)")


def _written(pool: ConnectionPool) -> int:
    with db.transaction(pool) as conn:
        row = conn.execute("SELECT count(*) FROM scratch").fetchone()
    return int(row[0]) if row else 0


def test_a_start_on_the_latest_definition_commits(pool: ConnectionPool) -> None:
    _scratch_table(pool)

    _start_on(pool, SERVED)

    assert _written(pool) == 1


@pytest.mark.parametrize(
    "copy",
    [
        replace(SERVED, checksum="b"),  # registered again with other content
        replace(SERVED, version="0.9"),  # another version is served
        replace(SERVED, workflow_id="gone"),  # no longer registered
    ],
    ids=["content", "version", "withdrawn"],
)
def test_a_start_on_a_copy_that_is_no_longer_the_latest_keeps_nothing(
    pool: ConnectionPool, copy: StoredDefinition
) -> None:
    _scratch_table(pool)

    with pytest.raises(DefinitionChangedError, match="changed since this process read"):
        _start_on(pool, copy)

    assert _written(pool) == 0
