"""Lifecycle notices: ended instances notify their initiator and workflow extras."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from knflow.config import Settings
from knflow.errors import InputError
from knflow.events import kogito, types
from knflow.events.codec import Event
from knflow.outbound.http import new_client
from knflow.runtime.notify import delivery as notify
from knflow.runtime.notify import lifecycle
from knflow.runtime.services import Services
from knflow.store import db, notifications
from knflow.store.notifications import Channel, DeliveryStatus
from tests.backstage import TOKEN, BackstageStandIn
from tests.runtime.notify.ended_runs import NOW, state_event, store_run


@pytest.fixture
def services(pool: db.Pool, backstage_api: BackstageStandIn) -> Iterator[Services]:
    settings = Settings(
        backstage_url=backstage_api.url,
        backstage_token=TOKEN,
        notify_outcomes=frozenset({"COMPLETED", "ERROR"}),
    )
    with new_client(timedelta(seconds=5)) as client:
        yield Services(settings=settings, pool=pool, http=client, clock=lambda: NOW)


def _arrange(services: Services, **run) -> None:
    with db.transaction(services.pool) as conn:
        store_run(conn, **run)


def _sent(backstage_api: BackstageStandIn) -> list[dict]:
    return [request.json() for request in backstage_api.posts()]


def test_completed_run_notifies_its_initiator(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    _arrange(services, variables={"initiatorEntity": "user:default/ana"})

    notify.handle_event(services, state_event())

    assert _sent(backstage_api) == [
        {
            "recipients": {"type": "entity", "entityRef": ["user:default/ana"]},
            "payload": {
                "title": "Workflow 'Greeting' completed",
                "description": "Run inst-1 of workflow 'greet' completed.",
                "severity": "normal",
                "topic": "greet",
                "link": "/orchestrator/instances/inst-1",
            },
        }
    ]


def test_failed_run_notice_is_high_and_carries_the_error(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    _arrange(
        services,
        variables={"initiatorEntity": "user:default/ana"},
        status="ERROR",
        error_message="service 'pay' answered 500",
    )

    notify.handle_event(services, state_event(event_type=5, status="ERROR"))

    [sent] = _sent(backstage_api)
    assert sent["payload"]["title"] == "Workflow 'Greeting' failed"
    assert sent["payload"]["severity"] == "high"
    assert sent["payload"]["description"].endswith("failed: service 'pay' answered 500")


def test_outcome_outside_the_configured_ones_notifies_nobody(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    _arrange(
        services, variables={"initiatorEntity": "user:default/ana"}, status="ABORTED"
    )

    notify.handle_event(services, state_event(status="ABORTED"))

    assert _sent(backstage_api) == []


def test_workflow_metadata_chooses_outcomes_and_adds_recipients(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    metadata = {
        "knflow.dev/notify-recipients": "group:default/ops, user:default/ana",
        "knflow.dev/notify-outcomes": "aborted",
    }
    _arrange(
        services,
        variables={"initiatorEntity": "user:default/ana"},
        status="ABORTED",
        metadata=metadata,
    )

    notify.handle_event(services, state_event(status="ABORTED"))

    [sent] = _sent(backstage_api)
    assert sent["recipients"]["entityRef"] == ["user:default/ana", "group:default/ops"]
    assert sent["payload"]["title"] == "Workflow 'Greeting' was aborted"


def test_annotation_adds_recipients_when_nobody_started_the_run(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    _arrange(services, annotations=["knflow.dev/notify-recipients=group:default/ops"])

    notify.handle_event(services, state_event())

    [sent] = _sent(backstage_api)
    assert sent["recipients"]["entityRef"] == ["group:default/ops"]


def test_run_without_initiator_or_extra_recipients_notifies_nobody(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    _arrange(services)

    notify.handle_event(services, state_event())

    assert _sent(backstage_api) == []


def test_unknown_instance_notifies_nobody(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    notify.handle_event(services, state_event("elsewhere"))

    assert _sent(backstage_api) == []


def test_redelivered_state_event_notifies_once(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    _arrange(services, variables={"initiatorEntity": ["user:default/ana"]})

    notify.handle_event(services, state_event())
    notify.handle_event(services, state_event())

    assert len(_sent(backstage_api)) == 1
    with db.transaction(services.pool) as conn:
        delivery = notifications.get_delivery(conn, state_event().id, Channel.BACKSTAGE)
    assert delivery is not None
    assert (delivery.status, delivery.instance_id) == (DeliveryStatus.SENT, "inst-1")


def test_state_event_without_object_data_is_refused_and_recorded(
    services: Services,
) -> None:
    event = Event(id="ev-x", source="/x", type=types.PROCESS_INSTANCE_STATE)

    with pytest.raises(InputError, match="must be an object"):
        notify.handle_event(services, event)

    with db.transaction(services.pool) as conn:
        delivery = notifications.get_delivery(conn, "ev-x", Channel.INTAKE)
    assert delivery is not None
    assert delivery.status is DeliveryStatus.REFUSED


def test_run_link_is_relative_so_backstage_resolves_it_on_its_own_base_url(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    _arrange(services, variables={"initiatorEntity": "user:default/ana"})

    notify.handle_event(services, state_event())

    [stored] = backstage_api.notifications()
    assert stored["payload"]["link"] == "/orchestrator/instances/inst-1"
    assert backstage_api.url not in json.dumps(stored)


def test_run_link_uses_the_public_url_when_one_is_configured(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    settings = dataclasses.replace(
        services.settings, backstage_public_url="https://devhub.example.com"
    )
    _arrange(services, variables={"initiatorEntity": "user:default/ana"})

    notify.handle_event(dataclasses.replace(services, settings=settings), state_event())

    [stored] = backstage_api.notifications()
    assert stored["payload"]["link"] == (
        "https://devhub.example.com/orchestrator/instances/inst-1"
    )


def test_long_workflow_name_is_cut_inside_the_title_and_kept_in_the_description(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    name = "Provision " + "x" * 300
    _arrange(services, variables={"initiatorEntity": "user:default/ana"}, name=name)

    notify.handle_event(services, state_event())

    [stored] = backstage_api.notifications()
    title = stored["payload"]["title"]
    assert len(title) == 255
    assert title.startswith("Workflow 'Provision xxx")
    assert title.endswith("x\u2026' completed")
    assert stored["payload"]["description"] == (
        f"Workflow '{name}' completed\n\nRun inst-1 of workflow 'greet' completed."
    )


@pytest.mark.parametrize(
    ("data", "outcome"),
    [
        ({"eventType": 2, "state": 2}, "COMPLETED"),
        ({"eventType": 2, "state": 3}, "ABORTED"),
        ({"eventType": 2, "state": 5}, "ERROR"),
        ({"eventType": 5, "state": 5}, "ERROR"),
        ({"eventType": "2", "state": "2"}, "COMPLETED"),
        ({"eventType": 1, "state": 1}, None),
        ({"eventType": 5, "state": 2}, None),
        ({"eventType": 4, "state": 1}, None),
        ({"eventType": 2, "state": True}, None),
        ({}, None),
    ],
    ids=[
        "completed",
        "aborted",
        "ended-in-error",
        "updated-to-error",
        "strings",
        "started",
        "updated-completed",
        "retriggered",
        "bool-state",
        "empty",
    ],
)
def test_lifecycle_outcome_reads_ended_runs_from_event_type_and_state(
    data: dict, outcome: str | None
) -> None:
    assert lifecycle.lifecycle_outcome(data) == outcome


def test_without_any_channel_a_grouped_event_is_let_go_unread(
    pool: db.Pool, backstage_api: BackstageStandIn
) -> None:
    with db.transaction(pool) as conn:
        store_run(conn, variables={"initiatorEntity": "user:default/ana"})
    grouped = kogito.grouped_event([state_event()], state=2)
    unreadable = dataclasses.replace(grouped, data="not a list of events")
    with new_client(timedelta(seconds=5)) as client:
        bare = Services(settings=Settings(), pool=pool, http=client, clock=lambda: NOW)

        notify.handle_event(bare, grouped)
        notify.handle_event(bare, unreadable)  # nothing to deliver: not even parsed

    with db.transaction(pool) as conn:
        assert notifications.list_deliveries(conn, state_event().id) == []
    assert backstage_api.posts() == []
