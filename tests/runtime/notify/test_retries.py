"""Retries of notify: back-off, the ping's re-drive, the give-up age, bad credentials."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from knflow.config import Settings
from knflow.errors import ActionError, UnavailableError
from knflow.outbound.http import new_client
from knflow.runtime.notify import delivery as notify
from knflow.runtime.services import Services
from knflow.store import db, notifications
from knflow.store.notifications import Channel, DeliveryStatus, SendOutcome
from tests.backstage import TOKEN, BackstageStandIn
from tests.runtime.notify.deliveries import (
    BODY,
    NOW,
    at,
    delivery_of,
    notification_event,
    ping,
)

GIVE_UP = timedelta(hours=2)


@pytest.fixture
def services(pool: db.Pool, backstage_api: BackstageStandIn) -> Iterator[Services]:
    settings = Settings(
        backstage_url=backstage_api.url,
        backstage_token=TOKEN,
        action_timeout=timedelta(seconds=5),
        notify_give_up_after=GIVE_UP,
    )
    with new_client(settings.action_timeout) as client:
        yield Services(settings=settings, pool=pool, http=client, clock=lambda: NOW)


def _fail_first_delivery(services: Services, backstage_api: BackstageStandIn) -> None:
    backstage_api.up = False
    with pytest.raises(UnavailableError):
        notify.handle_event(services, notification_event())
    backstage_api.up = True


def _with_token(services: Services, token: str) -> Services:
    settings = dataclasses.replace(services.settings, backstage_token=token)
    return dataclasses.replace(services, settings=settings)


@pytest.mark.parametrize(
    ("attempt", "seconds"),
    [(1, 1), (2, 2), (3, 4), (10, 512), (11, 600), (400, 600)],
    ids=["first", "second", "third", "tenth", "capped", "far-beyond"],
)
def test_back_off_doubles_from_a_second_up_to_ten_minutes(
    attempt: int, seconds: int
) -> None:
    assert notify.retry_delay(attempt) == timedelta(seconds=seconds)


def test_ping_resends_a_failed_delivery_whose_back_off_passed(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    _fail_first_delivery(services, backstage_api)

    notify.handle_event(at(services, 1), ping())

    [_, resent] = backstage_api.posts()
    assert resent.json() == BODY
    delivery = delivery_of(services)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)


def test_ping_leaves_a_failed_delivery_inside_its_back_off(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    _fail_first_delivery(services, backstage_api)

    notify.handle_event(at(services, 0.5), ping())

    assert len(backstage_api.posts()) == 1
    assert delivery_of(services).attempts == 1


def test_ping_resends_a_delivery_whose_sender_died_mid_send(
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
            retry_at=NOW,
        )
        notifications.start_attempt(
            conn, "ev-1", Channel.BACKSTAGE, now=NOW, lease_until=NOW
        )

    notify.handle_event(services, ping())

    assert len(backstage_api.notifications()) == 1
    assert delivery_of(services).attempts == 2


def test_ping_sends_a_logged_delivery_that_was_never_claimed(
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
            retry_at=NOW + timedelta(seconds=15),
        )

    notify.handle_event(at(services, 15), ping())

    assert len(backstage_api.notifications()) == 1
    assert delivery_of(services).status is DeliveryStatus.SENT


def test_during_an_outage_a_ping_tries_one_notification_not_all(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    backstage_api.up = False
    for n in range(5):
        with pytest.raises(UnavailableError):
            notify.handle_event(services, notification_event(event_id=f"ev-{n}"))

    notify.handle_event(at(services, 60), ping())
    backstage_api.up = True
    notify.handle_event(at(services, 120), ping())

    assert len(backstage_api.posts()) == 5 + 1 + 5
    assert len(backstage_api.notifications()) == 5


def test_a_failure_past_the_give_up_age_is_dead_and_permanent(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    _fail_first_delivery(services, backstage_api)
    backstage_api.up = False

    with pytest.raises(ActionError, match="gave up after 2 attempts over 2:00:00"):
        notify.handle_event(at(services, GIVE_UP), notification_event())

    delivery = delivery_of(services)
    assert (delivery.status, delivery.outcome) == (
        DeliveryStatus.DEAD,
        SendOutcome.UNAVAILABLE,
    )


def test_ping_gives_up_on_deliveries_at_the_give_up_age_without_sending(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    _fail_first_delivery(services, backstage_api)

    notify.handle_event(at(services, GIVE_UP), ping())
    notify.handle_event(at(services, GIVE_UP), notification_event())

    assert len(backstage_api.posts()) == 1
    assert delivery_of(services).status is DeliveryStatus.DEAD


def test_ping_before_the_give_up_age_still_sends(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    _fail_first_delivery(services, backstage_api)

    notify.handle_event(at(services, GIVE_UP - timedelta(seconds=1)), ping())

    assert delivery_of(services).status is DeliveryStatus.SENT


@pytest.mark.parametrize(
    ("token", "status"),
    [("wrong-token", 401), ("catalog-only-token", 403)],
    ids=["unknown-401", "restricted-403"],
)
def test_refused_credentials_keep_the_notification_until_the_token_is_fixed(
    services: Services,
    backstage_api: BackstageStandIn,
    caplog: pytest.LogCaptureFixture,
    token: str,
    status: int,
) -> None:
    backstage_api.restricted_tokens.add("catalog-only-token")
    with pytest.raises(UnavailableError, match="BACKSTAGE_NOTIFICATIONS_TOKEN"):
        notify.handle_event(_with_token(services, token), notification_event())
    refused = delivery_of(services)

    notify.handle_event(at(services, 1), ping())

    assert (refused.status, refused.outcome) == (
        DeliveryStatus.FAILED,
        SendOutcome.UNAUTHORIZED,
    )
    assert f"({status}:" in (refused.last_error or "")
    [logged] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged.getMessage() == "notification refused: credentials are wrong"
    assert len(backstage_api.notifications()) == 1
