"""Backstage outages: however long (up to the give-up age), one notification arrives.

Time is the services' clock: the broker redelivers on the back-off of notify's Trigger
(read from eventing/) and the PingSource ticks every minute, while the stand-in is down
— answering 503 like a route without pods, or not listening at all — until the outage
ends. Every step is a real call of the use case against PostgreSQL and a real HTTP
server; only the waiting is skipped.
"""

from __future__ import annotations

import dataclasses
import heapq
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from knflow.config import Settings
from knflow.devstack import manifests
from knflow.errors import ActionError, UnavailableError
from knflow.outbound.http import new_client
from knflow.runtime.notify import delivery as notify
from knflow.runtime.services import Services
from knflow.store import db
from knflow.store.notifications import DeliveryStatus
from tests.backstage import TOKEN, BackstageStandIn
from tests.runtime.notify.deliveries import (
    NOW,
    at,
    delivery_of,
    notification_event,
    ping,
)

EVENTING = Path(__file__).resolve().parents[3] / "eventing"
TICK = timedelta(minutes=1)
"""The PingSource's `* * * * *` (checked below)."""


@pytest.fixture
def services(pool: db.Pool, backstage_api: BackstageStandIn) -> Iterator[Services]:
    settings = Settings(
        backstage_url=backstage_api.url,
        backstage_token=TOKEN,
        action_timeout=timedelta(seconds=5),
    )
    with new_client(settings.action_timeout) as client:
        yield Services(settings=settings, pool=pool, http=client, clock=lambda: NOW)


def _broker_waits(count_from: int) -> list[timedelta]:
    """The waits between redeliveries of notify's Trigger, as the broker reads them."""
    routing = manifests.parse_routing(manifests.read_folder(EVENTING))
    [tick] = routing.ping_sources
    assert tick.schedule == "* * * * *"
    [trigger] = [
        t for t in routing.triggers if t.name == "notify-notification-requested"
    ]
    assert trigger.delivery is not None
    return [
        trigger.delivery.backoff(retry, count_from=count_from)
        for retry in range(trigger.delivery.retry)
    ]


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def _live_through(
    services: Services,
    backstage_api: BackstageStandIn,
    *,
    outage: timedelta,
    refusing: bool,
    waits: list[timedelta],
) -> None:
    """Deliver one event at 0 s through an outage of `outage`, until all is settled."""
    unreachable = dataclasses.replace(
        services.settings, backstage_url=_closed_port_url()
    )
    end = outage + notify.RETRY_LONGEST + 2 * TICK
    steps = [(TICK * n, n, "ping") for n in range(1, end // TICK + 1)]
    steps.append((timedelta(0), 0, "event"))
    heapq.heapify(steps)
    redeliveries = iter(waits)
    while steps:
        elapsed, _, kind = heapq.heappop(steps)
        down = elapsed < outage
        backstage_api.up = not (down and not refusing)
        now = at(services, elapsed)
        if down and refusing:
            now = dataclasses.replace(now, settings=unreachable)
        if kind == "ping":
            notify.handle_event(now, ping())
            continue
        try:
            notify.handle_event(now, notification_event())
        except UnavailableError:
            wait = next(redeliveries, None)
            if wait is not None:
                heapq.heappush(steps, (elapsed + wait, -1, "event"))
        except ActionError:
            pass


@pytest.mark.parametrize(
    ("outage", "refusing", "count_from"),
    [
        (timedelta(seconds=40), False, 0),
        (timedelta(seconds=40), False, 1),
        (timedelta(seconds=40), True, 0),
        (timedelta(minutes=7), False, 0),
        (timedelta(minutes=7), True, 1),
        (timedelta(hours=3), False, 0),
    ],
    ids=[
        "40s-503-retry-loop",
        "40s-503-documented",
        "40s-refused",
        "7min-503",
        "7min-refused",
        "3h-503",
    ],
)
def test_an_outage_shorter_than_the_give_up_age_stores_exactly_one_notification(
    services: Services,
    backstage_api: BackstageStandIn,
    outage: timedelta,
    refusing: bool,
    count_from: int,
) -> None:
    _live_through(
        services,
        backstage_api,
        outage=outage,
        refusing=refusing,
        waits=_broker_waits(count_from),
    )

    assert len(backstage_api.notifications()) == 1
    delivery = delivery_of(services)
    assert delivery.status is DeliveryStatus.SENT
    assert delivery.sent_at is not None
    late = delivery.sent_at - (NOW + outage)
    assert timedelta(0) <= late <= notify.RETRY_LONGEST + TICK


def test_an_outage_past_the_give_up_age_ends_dead_with_nothing_stored(
    services: Services, backstage_api: BackstageStandIn
) -> None:
    settings = dataclasses.replace(
        services.settings, notify_give_up_after=timedelta(minutes=20)
    )
    patient = dataclasses.replace(services, settings=settings)

    _live_through(
        patient,
        backstage_api,
        outage=timedelta(minutes=30),
        refusing=False,
        waits=_broker_waits(0),
    )

    assert backstage_api.notifications() == []
    assert delivery_of(services).status is DeliveryStatus.DEAD
