"""Notification events, the services at a moment, and the delivery log's rows."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from knflow.events import types
from knflow.events.codec import Event
from knflow.runtime.services import Services
from knflow.store import db, notifications
from knflow.store.notifications import Channel, Delivery
from tests.runtime.notify.ended_runs import NOW

BODY = {
    "recipients": {"type": "entity", "entityRef": ["user:default/ana"]},
    "payload": {"title": "Approval needed", "link": "https://backstage/x"},
}

__all__ = ["BODY", "NOW", "at", "delivery_of", "notification_event", "ping"]


def notification_event(
    data=BODY, event_id: str = "ev-1", type_: str = types.NOTIFICATION_REQUESTED
) -> Event:
    """A `knflow.notification.requested` event about instance inst-1 of greet."""
    extensions = {"kogitoprocinstanceid": "inst-1", "kogitoprocid": "greet"}
    return Event(
        id=event_id, source="/test", type=type_, data=data, extensions=extensions
    )


def ping() -> Event:
    """The PingSource tick."""
    return Event(id="ping-1", source="/ping", type=types.PING, data={"reason": "tick"})


def at(services: Services, elapsed: float | timedelta) -> Services:
    """`services` whose clock reads NOW + `elapsed` (seconds, or a timedelta)."""
    if not isinstance(elapsed, timedelta):
        elapsed = timedelta(seconds=elapsed)
    moment = NOW + elapsed
    return dataclasses.replace(services, clock=lambda: moment)


def delivery_of(
    services: Services, channel: Channel = Channel.BACKSTAGE, event_id: str = "ev-1"
) -> Delivery:
    """The log row of `event_id` on `channel`; fails when there is none."""
    with db.transaction(services.pool) as conn:
        found = notifications.get_delivery(conn, event_id, channel)
    assert found is not None, f"no delivery of {event_id} on {channel}"
    return found
