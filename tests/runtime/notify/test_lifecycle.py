"""Lifecycle notices: ended instances notify their initiator and workflow extras."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from knflow.config import Settings
from knflow.errors import InputError
from knflow.events import types
from knflow.events.codec import Event
from knflow.outbound.http import new_client
from knflow.runtime.notify import delivery as notify
from knflow.runtime.services import Services
from knflow.store import db, notifications
from knflow.store.notifications import Channel, DeliveryStatus
from tests.peers import HttpPeer, Reply
from tests.runtime.notify.ended_runs import NOW, state_event, store_run

PATH = "/api/notifications/notifications"


@pytest.fixture
def services(pool: db.Pool, http_peer: HttpPeer) -> Iterator[Services]:
    http_peer.route("POST", PATH, Reply(201, []))
    settings = Settings(
        backstage_url=http_peer.url,
        backstage_token="t",
        notify_outcomes=frozenset({"COMPLETED", "ERROR"}),
    )
    with new_client(timedelta(seconds=5)) as client:
        yield Services(settings=settings, pool=pool, http=client, clock=lambda: NOW)


def _arrange(services: Services, **run) -> None:
    with db.transaction(services.pool) as conn:
        store_run(conn, **run)


def _sent(http_peer: HttpPeer) -> list[dict]:
    return [request.json() for request in http_peer.received("POST", PATH)]


def test_completed_run_notifies_its_initiator(
    services: Services, http_peer: HttpPeer
) -> None:
    _arrange(services, variables={"initiatorEntity": "user:default/ana"})

    notify.handle_event(services, state_event())

    assert _sent(http_peer) == [
        {
            "recipients": {"type": "entity", "entityRef": ["user:default/ana"]},
            "payload": {
                "title": "Workflow 'Greeting' completed",
                "description": "Run inst-1 of workflow 'greet' completed.",
                "severity": "normal",
                "topic": "greet",
                "link": f"{http_peer.url}/orchestrator/instances/inst-1",
            },
        }
    ]


def test_failed_run_notice_is_high_and_carries_the_error(
    services: Services, http_peer: HttpPeer
) -> None:
    _arrange(
        services,
        variables={"initiatorEntity": "user:default/ana"},
        status="ERROR",
        error_message="service 'pay' answered 500",
    )

    notify.handle_event(services, state_event(event_type=5, status="ERROR"))

    [sent] = _sent(http_peer)
    assert sent["payload"]["title"] == "Workflow 'Greeting' failed"
    assert sent["payload"]["severity"] == "high"
    assert sent["payload"]["description"].endswith("failed: service 'pay' answered 500")


def test_outcome_outside_the_configured_ones_notifies_nobody(
    services: Services, http_peer: HttpPeer
) -> None:
    _arrange(
        services, variables={"initiatorEntity": "user:default/ana"}, status="ABORTED"
    )

    notify.handle_event(services, state_event(status="ABORTED"))

    assert _sent(http_peer) == []


def test_workflow_metadata_chooses_outcomes_and_adds_recipients(
    services: Services, http_peer: HttpPeer
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

    [sent] = _sent(http_peer)
    assert sent["recipients"]["entityRef"] == ["user:default/ana", "group:default/ops"]
    assert sent["payload"]["title"] == "Workflow 'Greeting' was aborted"


def test_annotation_adds_recipients_when_nobody_started_the_run(
    services: Services, http_peer: HttpPeer
) -> None:
    _arrange(services, annotations=["knflow.dev/notify-recipients=group:default/ops"])

    notify.handle_event(services, state_event())

    [sent] = _sent(http_peer)
    assert sent["recipients"]["entityRef"] == ["group:default/ops"]


def test_run_without_initiator_or_extra_recipients_notifies_nobody(
    services: Services, http_peer: HttpPeer
) -> None:
    _arrange(services)

    notify.handle_event(services, state_event())

    assert _sent(http_peer) == []


def test_unknown_instance_notifies_nobody(
    services: Services, http_peer: HttpPeer
) -> None:
    notify.handle_event(services, state_event("elsewhere"))

    assert _sent(http_peer) == []


def test_redelivered_state_event_notifies_once(
    services: Services, http_peer: HttpPeer
) -> None:
    _arrange(services, variables={"initiatorEntity": ["user:default/ana"]})

    notify.handle_event(services, state_event())
    notify.handle_event(services, state_event())

    assert len(_sent(http_peer)) == 1
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
    assert notify.lifecycle_outcome(data) == outcome
