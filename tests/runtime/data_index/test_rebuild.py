"""`knflow index rebuild`: the projection recomputed from definitions and the outbox."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from knflow import cli
from knflow.config import Settings
from knflow.events import types
from knflow.events.codec import Event
from knflow.outbound.http import new_client
from knflow.runtime.data_index import ingest, rebuild
from knflow.runtime.instances import transaction
from knflow.runtime.instances.creating import NewInstance, create_instance
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import registration
from knflow.store import db, index
from knflow.workflow import loading
from tests.graphql import sample_runs
from tests.graphql.sample_runs import T0

DOCUMENT = {
    "id": "greet",
    "version": "1.0",
    "specVersion": "0.8",
    "name": "Greet",
    "description": "says hi",
    "annotations": ["a"],
    "start": "A",
    "states": [{"name": "A", "type": "inject", "data": {}, "end": True}],
}
SOURCE = json.dumps(DOCUMENT)


@pytest.fixture
def services(pool: ConnectionPool) -> Iterator[Services]:
    settings = Settings(service_url="http://runtime.test:8081")
    with new_client(timedelta(seconds=5)) as http:
        yield Services(settings=settings, pool=pool, http=http, clock=lambda: T0)


def record(
    database_url: str, events: Sequence[Event], *, status: str = "AVAILABLE"
) -> None:
    """Write what the runtime would have: a registered definition and its outbox."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO definitions (workflow_id, version, name, description, source,"
            " checksum, status, registered_at) VALUES ('greet', '1.0', 'Greet', 'says hi',"
            " %s, 'c', %s, %s)",
            (
                Jsonb({"text": SOURCE, "document": DOCUMENT}),
                status,
                T0,
            ),
        )
        for event in events:
            conn.execute(
                "INSERT INTO outbox (event_id, event_type, instance_id, event)"
                " VALUES (%s, %s, %s, %s)",
                (
                    event.id,
                    event.type,
                    event.extensions.get("kogitoprocinstanceid"),
                    Jsonb(event.to_dict()),
                ),
            )


def rows(services: Services) -> dict[str, list[dict[str, Any]]]:
    with db.transaction(services.pool) as conn:
        ids = ["i-1", "i-2", "ghost"]
        return {
            "instances": sorted(
                (asdict(r) for r in index.instances_by_ids(conn, ids)),
                key=lambda r: str(r["id"]),
            ),
            "nodes": [asdict(n) for n in index.nodes_of(conn, ids)],
        }


def test_rebuild_recomputes_the_projection_from_the_outbox(
    database_url: str, services: Services
) -> None:
    events = sample_runs.completed_run("i-1") + sample_runs.failed_run("i-2")
    record(database_url, events)
    ingest.handle_event(services, events[0])
    ingest.handle_event(services, sample_runs.waiting_run("ghost")[0])

    report = rebuild.rebuild(services)

    seen = rows(services)
    assert report.events == len(events)
    assert [(r["id"], r["state"]) for r in seen["instances"]] == [
        ("i-1", 2),
        ("i-2", 5),
    ]
    assert len(seen["nodes"]) == 4


def test_rebuild_announces_every_registered_definition(
    database_url: str, services: Services
) -> None:
    record(database_url, [], status="UNAVAILABLE")

    report = rebuild.rebuild(services)

    with db.transaction(services.pool) as conn:
        found = index.get_definition(conn, "greet", "1.0")
    assert report.definitions == 1
    assert found is not None
    assert found.source == SOURCE
    assert found.endpoint == "http://runtime.test:8081/greet"
    assert found.service_url == "http://runtime.test:8081"
    assert found.metadata["status"] == "unavailable"
    assert found.annotations == ["a"]
    assert [n["name"] for n in found.nodes] == ["Start", "A", "End"]


def test_the_rebuild_announces_a_definition_as_its_registration_did(
    services: Services,
) -> None:
    source = loading.load_text(SOURCE, name="greet.sw.json")
    with db.transaction(services.pool) as conn:
        registration.register_source(conn, source, settings=services.settings, now=T0)
        [stored] = index.runtime_definitions(conn)
        [(live,)] = conn.execute(
            "SELECT event FROM outbox WHERE event_type = %s",
            (types.PROCESS_DEFINITION,),
        ).fetchall()

    rebuilt = rebuild.announce(stored, services.settings.service_url)

    assert rebuilt.data == live["data"]


def test_rebuild_skips_other_and_malformed_outbox_events(
    database_url: str, services: Services
) -> None:
    step = Event(id="s-1", source="/x", type=types.STEP_READY, data={"instance": "i-1"})
    broken = Event(
        id="b-1", source="/x", type=types.PROCESS_INSTANCE_STATE, data={"state": 1}
    )
    record(database_url, [step, broken, *sample_runs.completed_run("i-1")])

    report = rebuild.rebuild(services)

    assert report.skipped == 1
    assert report.events == len(sample_runs.completed_run("i-1"))


def test_the_cli_rebuilds_and_reports(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    record(database_url, sample_runs.completed_run("i-1"))

    code = cli.main(["index", "rebuild", "--database-url", database_url])

    assert code == 0
    assert "1 definition(s), 8 event(s) replayed, 0 skipped" in capsys.readouterr().out


PURE = {
    "id": "pure",
    "version": "1.0",
    "specVersion": "0.8",
    "name": "Pure",
    "start": "A",
    "states": [{"name": "A", "type": "inject", "data": {"done": True}, "end": True}],
}


FAILING = {
    "id": "failing",
    "version": "1.0",
    "specVersion": "0.8",
    "name": "Failing",
    "start": "Greet",
    "functions": [
        {"name": "fail", "type": "expression", "operation": ".missing.deep | error"}
    ],
    "states": [
        {
            "name": "Greet",
            "type": "inject",
            "data": {"greeting": "hi"},
            "transition": "Fail",
        },
        {
            "name": "Fail",
            "type": "operation",
            "actions": [{"functionRef": "fail"}],
            "end": True,
        },
    ],
}


def _run(services: Services, document: dict[str, Any], data: dict[str, Any]) -> str:
    """Register and run an instance as far as it goes in one unit of work."""
    source = loading.load_text(json.dumps(document), name=f"{document['id']}.sw.json")
    with db.transaction(services.pool) as conn:
        registration.register_source(
            conn, source, settings=services.settings, now=services.clock()
        )
    with transaction.unit_of_work(services) as work:
        row = create_instance(work, NewInstance(workflow_id=document["id"], data=data))
    return row.id


def test_rebuild_restores_what_the_runtime_holds_once_its_events_were_purged(
    database_url: str, services: Services
) -> None:
    completed = _run(services, PURE, {"name": "ada"})
    failed = _run(services, FAILING, {})
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM outbox")  # what retention does to sent rows

    report = rebuild.rebuild(services)

    with db.transaction(services.pool) as conn:
        found = {r.id: r for r in index.instances_by_ids(conn, [completed, failed])}
    assert (report.events, report.instances) == (0, 2)
    assert found[completed].state == 2
    assert found[completed].end is not None
    assert found[completed].variables["workflowdata"] == {"name": "ada", "done": True}
    assert found[completed].process_name == "Pure"
    assert found[failed].state == 5
    assert found[failed].error_message
    assert found[failed].error_node_definition_id == "1"  # the Fail state's node
    assert found[failed].variables["workflowdata"] == {"greeting": "hi"}
