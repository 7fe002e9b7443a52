"""The notify use case: requests, the delivery log, retries and refusals."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from knflow.config import Settings
from knflow.errors import ActionError, InputError, UnavailableError
from knflow.events import types
from knflow.events.codec import Event
from knflow.outbound.http import new_client
from knflow.runtime.notify import delivery as notify
from knflow.runtime.services import Services
from knflow.store import db, notifications
from knflow.store.notifications import Channel, DeliveryStatus
from tests.peers import HttpPeer, Reply

PATH = "/api/notifications/notifications"
TOKEN = "t0ken"
BODY = {
    "recipients": {"type": "entity", "entityRef": ["user:default/ana"]},
    "payload": {"title": "Approval needed", "link": "https://backstage/x"},
}
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def services(pool: db.Pool, http_peer: HttpPeer) -> Iterator[Services]:
    http_peer.route("POST", PATH, Reply(201, [{"id": "n1"}]))
    http_peer.route("POST", "/hook", Reply(200))
    settings = Settings(
        backstage_url=http_peer.url,
        backstage_token=TOKEN,
        action_timeout=timedelta(seconds=5),
    )
    with new_client(settings.action_timeout) as client:
        yield Services(settings=settings, pool=pool, http=client, clock=lambda: NOW)


def _with_webhook(services: Services, url: str) -> Services:
    settings = Settings(
        backstage_url=services.settings.backstage_url,
        backstage_token=TOKEN,
        notify_webhook_url=url,
    )
    return Services(settings=settings, pool=services.pool, http=services.http)


def _event(
    data=BODY, event_id: str = "ev-1", type_: str = types.NOTIFICATION_REQUESTED
):
    extensions = {"kogitoprocinstanceid": "inst-1", "kogitoprocid": "greet"}
    return Event(
        id=event_id, source="/test", type=type_, data=data, extensions=extensions
    )


def _delivery(
    services: Services, channel: Channel = Channel.BACKSTAGE, event_id="ev-1"
):
    with db.transaction(services.pool) as conn:
        return notifications.get_delivery(conn, event_id, channel)


def test_requested_notification_is_posted_once_with_token_and_exact_body(
    services: Services, http_peer: HttpPeer
) -> None:
    notify.handle_event(services, _event())

    [request] = http_peer.received("POST", PATH)
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json() == BODY
    delivery = _delivery(services)
    assert delivery is not None
    assert (delivery.status, delivery.attempts, delivery.sent_at) == (
        DeliveryStatus.SENT,
        1,
        NOW,
    )
    assert (delivery.instance_id, delivery.workflow_id) == ("inst-1", "greet")


def test_redelivered_event_sends_nothing_again(
    services: Services, http_peer: HttpPeer
) -> None:
    notify.handle_event(services, _event())

    notify.handle_event(services, _event())

    assert len(http_peer.received("POST", PATH)) == 1


def test_failed_send_is_retryable_and_counted_then_sent_on_redelivery(
    services: Services, http_peer: HttpPeer
) -> None:
    http_peer.queue("POST", PATH, Reply(503), Reply(503))

    for _ in range(2):
        with pytest.raises(UnavailableError, match="answered 503"):
            notify.handle_event(services, _event())
    notify.handle_event(services, _event())

    assert len(http_peer.received("POST", PATH)) == 3
    delivery = _delivery(services)
    assert delivery is not None
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 3)


def test_send_failing_max_attempts_times_is_dead_and_permanent(
    services: Services, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", PATH, Reply(502))
    for _ in range(notify.MAX_ATTEMPTS - 1):
        with pytest.raises(UnavailableError):
            notify.handle_event(services, _event())

    with pytest.raises(ActionError, match="gave up after 5 attempts") as raised:
        notify.handle_event(services, _event())

    assert raised.value.retryable is False
    delivery = _delivery(services)
    assert delivery is not None
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DEAD, 5)


def test_backstage_refusal_is_recorded_and_never_retried(
    services: Services, http_peer: HttpPeer
) -> None:
    refusal = {"error": {"name": "InputError", "message": "Invalid link"}}
    http_peer.route("POST", PATH, Reply(400, refusal))

    with pytest.raises(ActionError, match="Invalid link") as raised:
        notify.handle_event(services, _event())
    notify.handle_event(services, _event())

    assert raised.value.retryable is False
    assert len(http_peer.received("POST", PATH)) == 1
    delivery = _delivery(services)
    assert delivery is not None
    assert delivery.status is DeliveryStatus.REJECTED
    assert "Invalid link" in (delivery.last_error or "")


def test_bad_notification_data_is_refused_and_recorded(
    services: Services, http_peer: HttpPeer
) -> None:
    data = {"recipients": {"type": "broadcast"}, "payload": {"description": "x"}}

    with pytest.raises(InputError, match=r"'ev-1' is refused: .*has no title"):
        notify.handle_event(services, _event(data))

    assert http_peer.received("POST", PATH) == []
    delivery = _delivery(services, Channel.INTAKE)
    assert delivery is not None
    assert (delivery.status, delivery.body) == (DeliveryStatus.REFUSED, data)
    assert delivery.last_error == "notification payload has no title"


def test_webhook_gets_the_notification_and_its_ids(
    services: Services, http_peer: HttpPeer
) -> None:
    both = _with_webhook(services, http_peer.url + "/hook")

    notify.handle_event(both, _event())

    [request] = http_peer.received("POST", "/hook")
    assert request.json() == {
        **BODY,
        "text": "Approval needed",
        "eventId": "ev-1",
        "instanceId": "inst-1",
        "workflowId": "greet",
    }


def test_redelivery_retries_only_the_channel_that_failed(
    services: Services, http_peer: HttpPeer
) -> None:
    both = _with_webhook(services, http_peer.url + "/hook")
    http_peer.queue("POST", PATH, Reply(503))
    with pytest.raises(UnavailableError):
        notify.handle_event(both, _event())

    notify.handle_event(both, _event())

    assert len(http_peer.received("POST", PATH)) == 2
    assert len(http_peer.received("POST", "/hook")) == 1


def test_delivery_while_another_holds_the_claim_is_retryable_and_sends_nothing(
    services: Services, http_peer: HttpPeer
) -> None:
    with db.transaction(services.pool) as conn:
        notifications.insert_delivery(
            conn,
            event_id="ev-1",
            channel=Channel.BACKSTAGE,
            event_type="x",
            instance_id=None,
            workflow_id=None,
            body=BODY,
            now=NOW,
        )
        notifications.start_attempt(
            conn,
            "ev-1",
            Channel.BACKSTAGE,
            now=NOW,
            lease_until=NOW + timedelta(minutes=1),
        )

    with pytest.raises(UnavailableError, match="being sent to backstage"):
        notify.handle_event(services, _event())

    assert http_peer.received("POST", PATH) == []


def test_without_any_channel_the_notification_is_dropped(
    pool: db.Pool, http_peer: HttpPeer
) -> None:
    with new_client(timedelta(seconds=5)) as client:
        bare = Services(settings=Settings(), pool=pool, http=client)

        notify.handle_event(bare, _event())

    assert _delivery(bare) is None
    assert http_peer.requests == []


def test_unknown_event_type_is_refused(services: Services) -> None:
    with pytest.raises(InputError, match="does not handle events of type 'other'"):
        notify.handle_event(services, _event(type_="other"))


def _ping() -> Event:
    return Event(id="ping-1", source="/ping", type=types.PING, data={"reason": "tick"})


def _at(services: Services, moment: datetime) -> Services:
    return dataclasses.replace(services, clock=lambda: moment)


def test_ping_resends_a_failed_delivery_whose_back_off_passed(
    services: Services, http_peer: HttpPeer
) -> None:
    http_peer.queue("POST", PATH, Reply(503))
    with pytest.raises(UnavailableError):
        notify.handle_event(services, _event())

    notify.handle_event(_at(services, NOW + timedelta(seconds=30)), _ping())

    [_, resent] = http_peer.received("POST", PATH)
    assert resent.json() == BODY
    delivery = _delivery(services)
    assert delivery is not None
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)


def test_ping_leaves_a_failed_delivery_inside_its_back_off(
    services: Services, http_peer: HttpPeer
) -> None:
    http_peer.queue("POST", PATH, Reply(503))
    with pytest.raises(UnavailableError):
        notify.handle_event(services, _event())

    notify.handle_event(_at(services, NOW + timedelta(seconds=29)), _ping())

    assert len(http_peer.received("POST", PATH)) == 1


def test_ping_resends_a_delivery_whose_sender_died_mid_send(
    services: Services, http_peer: HttpPeer
) -> None:
    with db.transaction(services.pool) as conn:
        notifications.insert_delivery(
            conn,
            event_id="ev-1",
            channel=Channel.BACKSTAGE,
            event_type="x",
            instance_id=None,
            workflow_id=None,
            body=BODY,
            now=NOW,
        )
        notifications.start_attempt(
            conn, "ev-1", Channel.BACKSTAGE, now=NOW, lease_until=NOW
        )

    notify.handle_event(services, _ping())

    assert len(http_peer.received("POST", PATH)) == 1
    delivery = _delivery(services)
    assert delivery is not None
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
