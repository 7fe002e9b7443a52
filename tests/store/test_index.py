"""The Data Index projection repository and its dynamic queries, on a real database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from psycopg_pool import ConnectionPool

from knflow.errors import InputError
from knflow.store import db, index, index_query
from knflow.store.db import Connection
from knflow.store.index import (
    IndexedDefinition,
    IndexedInstance,
    IndexedJob,
    IndexedNode,
)
from knflow.store.index_query import AllOf, FieldTest, JsonTest, NotOf, Order, Related

T0 = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def conn(pool: ConnectionPool) -> Iterator[Connection]:
    with db.transaction(pool) as connection:
        for n in range(3):
            index.save_instance(
                connection,
                IndexedInstance(
                    id=f"i-{n}",
                    process_id="greet" if n < 2 else "other",
                    state=n,
                    start=T0 + timedelta(minutes=n),
                    last_update=T0,
                    roles=["r", f"x{n}"],
                    variables={"workflowdata": {"n": n}, "tags": ["a", f"t{n}"]},
                    variable_dates={},
                    parent_process_instance_id="i-0" if n else None,
                ),
            )
            index.save_node(
                connection,
                IndexedNode(
                    process_instance_id=f"i-{n}", id=f"n-{n}", name=f"S{n}", enter=T0
                ),
            )
        index.save_node(connection, IndexedNode(process_instance_id="i-0", id="hidden"))
        yield connection


def select(
    conn: Connection, where: index_query.Condition | None, *order: Order
) -> list[str]:
    rows = index_query.select_instances(conn, where, order, limit=None, offset=0)
    return [row.id for row in rows]


def test_instance_rows_round_trip(conn: Connection) -> None:
    row = index.get_instance(conn, "i-1")

    assert row is not None
    assert row.roles == ["r", "x1"]
    assert row.variables["workflowdata"] == {"n": 1}
    assert index.get_instance(conn, "nope") is None


def test_nodes_without_enter_are_not_listed(conn: Connection) -> None:
    assert [n.id for n in index.nodes_of(conn, ["i-0"])] == ["n-0"]
    assert index.get_node(conn, "i-0", "hidden") is not None


def test_lookup_by_ids(conn: Connection) -> None:
    assert sorted(r.id for r in index.instances_by_ids(conn, ["i-2", "i-0"])) == [
        "i-0",
        "i-2",
    ]


def test_definitions_and_jobs_round_trip(conn: Connection) -> None:
    index.save_definition(
        conn,
        IndexedDefinition(id="greet", version="1", metadata={"a": 1}, updated_at=T0),
    )
    index.save_job(conn, IndexedJob(id="j", status="SCHEDULED", priority=3))

    assert index.get_definition(conn, "greet", "1").metadata == {"a": 1}  # type: ignore[union-attr]
    assert [d.version for d in index.definitions_by_ids(conn, ["greet"])] == ["1"]
    assert index.get_job(conn, "j").priority == 3  # type: ignore[union-attr]


def test_clear_projection_deletes_every_row(conn: Connection) -> None:
    index.clear_projection(conn)

    assert index.instances_by_ids(conn, ["i-0", "i-1", "i-2"]) == []
    assert index.nodes_of(conn, ["i-0"]) == []


def test_ordering_descending_with_id_ties(conn: Connection) -> None:
    assert select(conn, None, Order("processId", descending=True)) == [
        "i-2",
        "i-0",
        "i-1",
    ]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (FieldTest("state", "in", [0, 2]), ["i-0", "i-2"]),
        (FieldTest("roles", "containsAny", ["x1", "x2"]), ["i-1", "i-2"]),
        (FieldTest("roles", "containsAll", ["r", "x0"]), ["i-0"]),
        (FieldTest("roles", "isNull", True), []),
        (JsonTest("variables", ("tags",), "contains", "t1"), ["i-1"]),
        (JsonTest("variables", ("tags",), "containsAny", ["t0", "t2"]), ["i-0", "i-2"]),
        (
            JsonTest("variables", ("workflowdata", "n"), "between", (1, 2)),
            ["i-1", "i-2"],
        ),
        (JsonTest("variables", ("workflowdata", "n"), "lessThan", 1), ["i-0"]),
        (NotOf(FieldTest("parentProcessInstanceId", "equal", "i-0")), ["i-0"]),
        (Related("nodes", FieldTest("name", "like", "S*")), ["i-0", "i-1", "i-2"]),
        (AllOf(()), ["i-0", "i-1", "i-2"]),
    ],
    ids=repr,
)
def test_conditions(
    conn: Connection, where: index_query.Condition, expected: list[str]
) -> None:
    assert select(conn, where) == expected


def test_counts_follow_the_same_conditions(conn: Connection) -> None:
    assert (
        index_query.count(conn, "instances", FieldTest("processId", "equal", "greet"))
        == 2
    )


def test_unknown_fields_and_operators_are_refused(conn: Connection) -> None:
    with pytest.raises(InputError, match="cannot be used"):
        select(conn, FieldTest("secret; DROP", "equal", 1))
    with pytest.raises(InputError, match="does not apply"):
        select(conn, FieldTest("start", "like", "x"))


def test_parameters_never_become_sql(conn: Connection) -> None:
    where = FieldTest("processId", "equal", "greet' OR '1'='1")

    assert select(conn, where) == []


def test_a_list_query_reads_only_the_columns_asked_for(conn: Connection) -> None:
    [row] = index_query.select_instances(
        conn,
        FieldTest("id", "equal", "i-1"),
        (),
        limit=None,
        offset=0,
        columns=("id", "process_id", "last_update", "state"),
    )

    assert (row.id, row.process_id, row.state) == ("i-1", "greet", 1)
    assert row.variables is None
    assert row.roles == ()


def test_a_nul_character_in_a_filter_value_is_refused_before_sql(
    conn: Connection,
) -> None:
    with pytest.raises(InputError, match="NUL"):
        select(conn, FieldTest("businessKey", "in", ["ok", "a\x00"]))


def test_a_page_brings_the_nodes_nodes_of_reads(conn: Connection) -> None:
    rich = IndexedNode(
        process_instance_id="i-1",
        id="n-rich",
        name="Rich",
        type="ActionNode",
        definition_id="d",
        node_id="nd",
        enter=T0 + timedelta(seconds=1, microseconds=123456),
        exit=T0 + timedelta(seconds=2),
        sla_due_date=T0 + timedelta(days=1),
        retrigger=True,
        error_message="boom",
        error_date=T0 + timedelta(seconds=3),
        cancel_type="ABORTED",
        input_args={"a": [1, 2.5, None, True], "big": 12345678901234567890},
        output_args=["x", {"y": "ü"}],
    )
    index.save_node(conn, rich)
    order = (Order("start", descending=True),)
    columns = ("id", "process_id", "last_update", "start")

    page = index_query.select_instance_page(
        conn, None, order, limit=2, offset=0, columns=columns, with_nodes=True
    )

    plain = index_query.select_instances(
        conn, None, order, limit=2, offset=0, columns=columns
    )
    assert page.instances == plain
    assert [row.id for row in plain] == ["i-2", "i-1"]
    assert page.nodes == {row.id: index.nodes_of(conn, [row.id]) for row in plain}
    assert page.nodes is not None
    assert page.nodes["i-1"] == [index.get_node(conn, "i-1", "n-1"), rich]


def test_a_page_without_nodes_reads_none(conn: Connection) -> None:
    page = index_query.select_instance_page(
        conn,
        FieldTest("id", "equal", "i-0"),
        (),
        limit=None,
        offset=0,
        columns=("id", "process_id", "last_update"),
        with_nodes=False,
    )

    assert [row.id for row in page.instances] == ["i-0"]
    assert page.nodes is None


def test_a_page_of_instances_without_entered_nodes_gives_each_an_empty_list(
    conn: Connection,
) -> None:
    page = index_query.select_instance_page(
        conn,
        FieldTest("id", "in", ["i-0", "i-2"]),
        (),
        limit=None,
        offset=0,
        columns=("id", "process_id", "last_update"),
        with_nodes=True,
    )
    conn.execute("DELETE FROM index_node_instances WHERE process_instance_id = 'i-2'")
    emptied = index_query.select_instance_page(
        conn,
        FieldTest("id", "equal", "i-2"),
        (),
        limit=None,
        offset=0,
        columns=("id", "process_id", "last_update"),
        with_nodes=True,
    )

    assert page.nodes is not None
    assert [node.id for node in page.nodes["i-0"]] == ["n-0"]  # "hidden" has no enter
    assert emptied.nodes == {"i-2": []}
