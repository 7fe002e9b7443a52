"""Ingesting Kogito events: merge rules, idempotency and order-independence."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from knflow.config import Settings
from knflow.errors import InputError
from knflow.events import kogito
from knflow.events.codec import Event
from knflow.events.kogito_ingest import parse_event
from knflow.outbound.http import new_client
from knflow.runtime.data_index import ingest
from knflow.runtime.services import Services
from knflow.store import db, index
from tests.graphql import sample_runs
from tests.graphql.sample_runs import T0, at


@pytest.fixture
def services(pool: ConnectionPool) -> Iterator[Services]:
    with new_client(timedelta(seconds=5)) as http:
        yield Services(settings=Settings(), pool=pool, http=http, clock=lambda: T0)


def ingest_all(services: Services, events: Sequence[Event]) -> None:
    for event in events:
        ingest.handle_event(services, event)


def snapshot(services: Services, instance_id: str) -> dict[str, Any]:
    with db.transaction(services.pool) as conn:
        row = index.get_instance(conn, instance_id)
        nodes = index.nodes_of(conn, [instance_id])
    assert row is not None
    return {"instance": asdict(row), "nodes": [asdict(n) for n in nodes]}


def replay_in_rollback(
    services: Services, events: Sequence[Event], instance_id: str
) -> dict[str, Any]:
    """Apply `events` in one transaction that is rolled back, returning the rows seen."""
    with services.pool.connection() as conn, conn.transaction(force_rollback=True):
        for event in events:
            ingest.apply_changes(conn, parse_event(event, received_at=T0))
        row = index.get_instance(conn, instance_id)
        nodes = index.nodes_of(conn, [instance_id])
    assert row is not None
    return {"instance": asdict(row), "nodes": [asdict(n) for n in nodes]}


def test_a_completed_run_is_indexed_with_its_dates_state_and_variables(
    services: Services,
) -> None:
    ingest_all(services, sample_runs.completed_run("i-1"))

    seen = snapshot(services, "i-1")["instance"]

    assert seen["state"] == 2
    assert seen["start"] == T0
    assert seen["end"] == at(3)
    assert seen["process_name"] == "Greet"
    assert seen["endpoint"] == f"{sample_runs.RUNTIME}/greet"
    assert seen["service_url"] == sample_runs.RUNTIME
    assert seen["variables"] == {
        "workflowdata": {"name": "Ann", "greeting": "Hello Ann"}
    }


def test_node_enter_and_exit_merge_into_one_node(services: Services) -> None:
    ingest_all(services, sample_runs.completed_run("i-1"))

    nodes = snapshot(services, "i-1")["nodes"]

    assert [(n["name"], n["enter"], n["exit"]) for n in nodes] == [
        ("ChooseOnLanguage", at(1), at(2)),
        ("GreetPerson", at(2), at(3)),
    ]


def test_the_same_events_twice_give_the_same_rows(services: Services) -> None:
    events = sample_runs.completed_run("i-1")
    ingest_all(services, events)
    once = snapshot(services, "i-1")

    ingest_all(services, events)

    assert snapshot(services, "i-1") == once


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize(
    "run",
    [sample_runs.completed_run, sample_runs.retriggered_run],
    ids=["completed", "retriggered"],
)
def test_shuffled_events_give_the_same_rows_as_ordered_ones(
    services: Services, seed: int, run: Any
) -> None:
    events = run("i-1")
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)

    expected = replay_in_rollback(services, events, "i-1")

    assert replay_in_rollback(services, shuffled, "i-1") == expected


def test_reversed_events_give_the_same_rows_as_ordered_ones(services: Services) -> None:
    events = sample_runs.retriggered_run("i-1")

    expected = replay_in_rollback(services, events, "i-1")

    assert replay_in_rollback(services, list(reversed(events)), "i-1") == expected


def test_a_late_active_never_overwrites_completed(services: Services) -> None:
    events = sample_runs.completed_run("i-1")
    started = events[0]
    ingest_all(services, [e for e in events if e is not started])

    ingest.handle_event(services, started)

    assert snapshot(services, "i-1")["instance"]["state"] == 2


def test_an_error_sets_error_state_and_marks_the_failed_node(
    services: Services,
) -> None:
    ingest_all(services, sample_runs.failed_run("i-1"))

    seen = snapshot(services, "i-1")
    row = index.IndexedInstance(**seen["instance"])

    assert row.state == 5
    assert row.has_error
    assert row.error_message == "greeting service failed"
    assert row.error_node_instance_id == "i-1-node-2"
    failed = [n for n in seen["nodes"] if n["id"] == "i-1-node-2"]
    assert failed[0]["error_message"] == "greeting service failed"
    assert failed[0]["cancel_type"] == "ERROR"


def test_a_retrigger_clears_the_error_and_the_run_completes(services: Services) -> None:
    ingest_all(services, sample_runs.retriggered_run("i-1"))

    row = index.IndexedInstance(**snapshot(services, "i-1")["instance"])

    assert row.state == 2
    assert not row.has_error
    assert row.retrigger_date == at(4)


def test_an_abandoned_node_is_closed_and_keeps_its_error(services: Services) -> None:
    failed = sample_runs.node("i-1", "GreetPerson", 2, 2)
    aborted = kogito.node_event(
        sample_runs.facts("i-1"),
        failed,
        event_type=kogito.NODE_ABORTED,
        at=at(4),
        seq="8",
    )
    ingest_all(services, [*sample_runs.failed_run("i-1"), aborted])

    [node] = [
        n
        for n in snapshot(services, "i-1")["nodes"]
        if n["id"] == failed.node_instance_id
    ]

    assert (node["enter"], node["exit"]) == (at(2), at(4))
    assert node["error_message"] == "greeting service failed"
    assert node["cancel_type"] == "ERROR"


def test_an_error_before_its_node_event_still_marks_the_node(
    services: Services,
) -> None:
    events = sample_runs.failed_run("i-1")
    error, enter = events[5], events[4]

    ingest_all(services, [events[0], error, enter])

    nodes = snapshot(services, "i-1")["nodes"]
    assert [(n["id"], n["error_message"]) for n in nodes] == [
        ("i-1-node-2", "greeting service failed")
    ]


def test_dotted_variable_names_become_nested_objects(services: Services) -> None:
    facts = sample_runs.facts("i-1")
    from knflow.events import kogito

    ingest_all(
        services,
        [
            kogito.variable_event(facts, "workflowdata", {"a": 1}, at=at(0), seq="1"),
            kogito.variable_event(facts, "workflowdata.b.c", 2, at=at(1), seq="2"),
        ],
    )

    assert snapshot(services, "i-1")["instance"]["variables"] == {
        "workflowdata": {"a": 1, "b": {"c": 2}}
    }


def test_an_older_variable_value_never_replaces_a_newer_one(services: Services) -> None:
    events = sample_runs.completed_run("i-1")
    first_value = events[1]
    ingest_all(services, events)

    ingest.handle_event(services, first_value)

    data = snapshot(services, "i-1")["instance"]["variables"]["workflowdata"]
    assert data == {"name": "Ann", "greeting": "Hello Ann"}


def test_extra_top_level_variables_sit_beside_workflowdata(services: Services) -> None:
    extra = {
        "initiatorEntity": "user:default/ann",
        "targetEntity": "component:default/x",
    }

    ingest_all(services, sample_runs.completed_run("i-1", variables=extra))

    variables = snapshot(services, "i-1")["instance"]["variables"]
    assert set(variables) == {"workflowdata", "initiatorEntity", "targetEntity"}


def test_a_grouped_event_applies_every_inner_event(services: Services) -> None:
    inner = [event.to_dict() for event in sample_runs.completed_run("i-1")]
    grouped = Event(
        id="g-1", source="/greet", type="MultipleProcessInstanceDataEvent", data=inner
    )

    ingest.handle_event(services, grouped)

    assert snapshot(services, "i-1")["instance"]["state"] == 2


def test_a_binary_grouped_event_is_refused_clearly(services: Services) -> None:
    grouped = Event(
        id="g-1",
        source="/greet",
        type="MultipleProcessInstanceDataEvent",
        data="AAEC",
        datacontenttype="application/octet-stream",
    )

    with pytest.raises(InputError, match="binary grouping"):
        ingest.handle_event(services, grouped)


def test_a_legacy_process_instance_event_is_refused_clearly(services: Services) -> None:
    legacy = Event(
        id="l-1", source="/travels", type="ProcessInstanceEvent", data={"id": "x"}
    )

    with pytest.raises(InputError, match="legacy Kogito format"):
        ingest.handle_event(services, legacy)


def test_a_definition_event_keeps_the_metadata_status_it_does_not_mention(
    services: Services,
) -> None:
    ingest.handle_event(
        services, sample_runs.definition(metadata={"status": "unavailable"})
    )

    ingest.handle_event(
        services, sample_runs.definition(metadata={"Description": "v2"}, at=at(5))
    )

    with db.transaction(services.pool) as conn:
        row = index.get_definition(conn, "greet", "1.0")
    assert row is not None
    assert row.metadata == {"status": "unavailable", "Description": "v2"}
    assert row.service_url == sample_runs.RUNTIME


def test_an_older_definition_event_only_fills_gaps(services: Services) -> None:
    ingest.handle_event(services, sample_runs.definition(source="new text", at=at(5)))

    ingest.handle_event(services, sample_runs.definition(source="old text", at=at(1)))

    with db.transaction(services.pool) as conn:
        row = index.get_definition(conn, "greet", "1.0")
    assert row is not None
    assert row.source == "new text"


def test_concurrent_deliveries_about_one_instance_lose_nothing(
    database_url: str, services: Services
) -> None:
    events = sample_runs.completed_run(
        "i-1", variables={"initiatorEntity": "user:default/a"}
    )
    first, second = events[::2], events[1::2]
    import threading

    threads = [
        threading.Thread(target=ingest_all, args=(services, part))
        for part in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    seen = snapshot(services, "i-1")
    assert seen["instance"]["state"] == 2
    assert set(seen["instance"]["variables"]) == {"workflowdata", "initiatorEntity"}
    assert len(seen["nodes"]) == 2
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM index_node_instances").fetchone() == (
            2,
        )
