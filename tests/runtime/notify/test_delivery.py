"""The notify use case: requests, the delivery log, redeliveries and refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from knflow.config import Settings
from knflow.errors import ActionError, InputError, UnavailableError
from knflow.outbound.http import new_client
from knflow.runtime.notify import delivery as notify
from knflow.runtime.services import Services
from knflow.store import db, notifications
from knflow.store.notifications import Channel, DeliveryStatus, SendOutcome
from tests.backstage import PATH, TOKEN, BackstageStandIn
from tests.peers import HttpPeer, Reply
from tests.runtime.notify.deliveries import (
    BODY,
    NOW,
    at,
    delivery_of,
    notification_event,
)


@pytest.fixture
def services(pool: db.Pool, backstage_api: BackstageStandIn) -> Iterator[Services]:
    settings = Settings(
        backstage_url=backstage_api.url,
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
    return Services(
        settings=settings, pool=services.pool, http=services.http, clock=lambda: NOW
    )


def test_requested_notification_is_posted_once_with_token_and_exact_body(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    notify.handle_event(services, notification_event())

    [request] = backstage_api.posts()
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json() == BODY
    delivery = delivery_of(services)
    assert (delivery.status, delivery.attempts, delivery.sent_at) == (
        DeliveryStatus.SENT,
        1,
        NOW,
    )
    assert (delivery.outcome, delivery.recipient_count) == (SendOutcome.SENT, 1)
    assert (delivery.instance_id, delivery.workflow_id) == ("inst-1", "greet")


def test_redelivered_event_sends_nothing_again(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    notify.handle_event(services, notification_event())

    notify.handle_event(services, notification_event())

    assert len(backstage_api.notifications()) == 1


def test_failed_sends_are_retried_by_redeliveries_that_come_after_the_back_off(
    services: Services, http_peer: HttpPeer, backstage_api: BackstageStandIn
) -> None:
    http_peer.queue("POST", PATH, Reply(503), Reply(503))

    for second in (0, 1):
        with pytest.raises(UnavailableError, match="answered 503"):
            notify.handle_event(at(services, second), notification_event())
    notify.handle_event(at(services, 3), notification_event())

    assert len(backstage_api.posts()) == 3
    assert len(backstage_api.notifications()) == 1
    delivery = delivery_of(services)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 3)


def test_redelivery_inside_the_back_off_neither_sends_nor_counts(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    backstage_api.up = False
    with pytest.raises(UnavailableError):
        notify.handle_event(services, notification_event())
    backstage_api.up = True

    with pytest.raises(UnavailableError, match="next try is due"):
        notify.handle_event(at(services, 0.9), notification_event())

    assert len(backstage_api.posts()) == 1
    delivery = delivery_of(services)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    assert delivery.retry_at == NOW + notify.RETRY_FIRST


def test_backstage_refusal_is_recorded_and_never_retried(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    data = {**BODY, "payload": {"title": "t", "link": "javascript:alert(1)"}}

    with pytest.raises(ActionError, match="Invalid link provided") as raised:
        notify.handle_event(services, notification_event(data))
    notify.handle_event(at(services, 3600), notification_event(data))

    assert raised.value.retryable is False
    assert len(backstage_api.posts()) == 1
    delivery = delivery_of(services)
    assert (delivery.status, delivery.outcome) == (
        DeliveryStatus.REJECTED,
        SendOutcome.REJECTED,
    )
    assert "Invalid link provided" in (delivery.last_error or "")


def test_bad_notification_data_is_refused_and_recorded(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    data = {"recipients": {"type": "broadcast"}, "payload": {"description": "x"}}

    with pytest.raises(InputError, match=r"'ev-1' is refused: .*has no title"):
        notify.handle_event(services, notification_event(data))

    assert backstage_api.posts() == []
    delivery = delivery_of(services, Channel.INTAKE)
    assert (delivery.status, delivery.body) == (DeliveryStatus.REFUSED, data)
    assert delivery.last_error == "notification payload has no title"


def test_webhook_gets_the_notification_and_its_ids(
    services: Services, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/hook", Reply(200))
    both = _with_webhook(services, http_peer.url + "/hook")

    notify.handle_event(both, notification_event())

    [request] = http_peer.received("POST", "/hook")
    assert request.json() == {
        **BODY,
        "text": "Approval needed",
        "eventId": "ev-1",
        "instanceId": "inst-1",
        "workflowId": "greet",
    }


def test_redelivery_retries_only_the_channel_that_failed(
    services: Services, http_peer: HttpPeer, backstage_api: BackstageStandIn
) -> None:
    http_peer.route("POST", "/hook", Reply(200))
    both = _with_webhook(services, http_peer.url + "/hook")
    http_peer.queue("POST", PATH, Reply(503))
    with pytest.raises(UnavailableError):
        notify.handle_event(both, notification_event())

    notify.handle_event(at(both, 1), notification_event())

    assert len(backstage_api.posts()) == 2
    assert len(http_peer.received("POST", "/hook")) == 1


def test_delivery_while_another_holds_the_claim_is_retryable_and_sends_nothing(
    services: Services, backstage_api: BackstageStandIn
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
            retry_at=NOW + timedelta(minutes=1),
        )
        notifications.start_attempt(
            conn,
            "ev-1",
            Channel.BACKSTAGE,
            now=NOW,
            lease_until=NOW + timedelta(minutes=1),
        )

    with pytest.raises(UnavailableError, match="being sent to backstage"):
        notify.handle_event(services, notification_event())

    assert backstage_api.posts() == []


def test_without_any_channel_the_notification_is_dropped(
    pool: db.Pool, http_peer: HttpPeer
) -> None:
    with new_client(timedelta(seconds=5)) as client:
        bare = Services(settings=Settings(), pool=pool, http=client)

        notify.handle_event(bare, notification_event())

    with db.transaction(pool) as conn:
        assert notifications.list_deliveries(conn, "ev-1") == []
    assert http_peer.requests == []


def test_unknown_event_type_is_refused(services: Services) -> None:
    with pytest.raises(InputError, match="does not handle events of type 'other'"):
        notify.handle_event(services, notification_event(type_="other"))
