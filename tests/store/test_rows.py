"""frozen_row builds the rows class_row would, faster."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from psycopg.rows import class_row
from psycopg_pool import ConnectionPool

from knflow.store.rows import frozen_row, row_maker


@dataclass(frozen=True, slots=True, kw_only=True)
class _Row:
    id: str
    name: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Accented:
    id: str
    année: int | None = None


@dataclass(frozen=True, kw_only=True)
class _Unslotted:
    id: str


SELECTS = (
    "SELECT 'a' AS id, 'x' AS name, ARRAY['t'] AS tags",
    "SELECT 'a' AS id",
    "SELECT 'a' AS id, NULL::text AS name",
    "SELECT 'a' AS id WHERE FALSE",
)


@pytest.mark.parametrize("statement", SELECTS)
def test_rows_are_those_of_class_row(pool: ConnectionPool, statement: str) -> None:
    with pool.connection() as conn:
        expected = conn.cursor(row_factory=class_row(_Row)).execute(statement)
        found = conn.cursor(row_factory=frozen_row(_Row)).execute(statement)
        assert found.fetchall() == expected.fetchall()


def test_column_names_are_read_in_the_connection_encoding(pool: ConnectionPool) -> None:
    statement = "SELECT 'a' AS id, 2024 AS \"année\""
    with pool.connection() as conn:
        rows = conn.cursor(row_factory=frozen_row(_Accented)).execute(statement)
        assert rows.fetchall() == [_Accented(id="a", année=2024)]


def test_a_statement_without_columns_is_answered_as_class_row_answers(
    pool: ConnectionPool,
) -> None:
    with pool.connection() as conn:
        with pytest.raises(TypeError):
            conn.cursor(row_factory=class_row(_Row)).execute("SELECT").fetchall()
        with pytest.raises(TypeError):
            conn.cursor(row_factory=frozen_row(_Row)).execute("SELECT").fetchall()
        cursor = conn.cursor(row_factory=frozen_row(_Row))
        assert cursor.execute("SET application_name = 'rows'").rowcount == -1


def test_a_default_factory_gives_each_row_its_own_value(pool: ConnectionPool) -> None:
    with pool.connection() as conn:
        rows = (
            conn.cursor(row_factory=frozen_row(_Row))
            .execute("SELECT n::text AS id FROM generate_series(1, 2) AS n")
            .fetchall()
        )
    assert rows[0].tags == []
    assert rows[0].tags is not rows[1].tags


@pytest.mark.parametrize(
    "statement", ["SELECT 'x' AS name", "SELECT 'a' AS id, 1 AS other"]
)
def test_rows_the_class_refuses_are_refused(
    pool: ConnectionPool, statement: str
) -> None:
    with pool.connection() as conn, pytest.raises(TypeError):
        conn.cursor(row_factory=frozen_row(_Row)).execute(statement).fetchall()


def test_only_frozen_dataclasses_with_slots_are_taken() -> None:
    with pytest.raises(TypeError, match="frozen dataclass with slots"):
        frozen_row(_Unslotted)


def test_row_maker_builds_of_values_what_frozen_row_builds_of_a_row(
    pool: ConnectionPool,
) -> None:
    with pool.connection() as conn:
        [read] = (
            conn.cursor(row_factory=frozen_row(_Row))
            .execute("SELECT 'a' AS id, 'x' AS name")
            .fetchall()
        )

    assert row_maker(_Row, ("id", "name"))(["a", "x"]) == read
    assert row_maker(_Row, ("id",))(["a"]).tags == []
    with pytest.raises(TypeError, match="cannot be built"):
        row_maker(_Row, ("name",))
    with pytest.raises(TypeError, match="frozen dataclass with slots"):
        row_maker(_Unslotted, ("id",))
