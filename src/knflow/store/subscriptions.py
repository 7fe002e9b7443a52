"""Event subscriptions of waiting instances, and received events kept until a wait claims them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from knflow.store.db import Connection
from knflow.store.sql import queries
from knflow.workflow.model import Json

LOCK_CLASS_NEW_WAITS: Final = 7_340_620
"""Advisory lock class of waits being begun, by event type (see `await_new_waits`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    """A thread waiting for one event definition."""

    instance_id: str
    """Waiting instance."""
    thread_id: str
    """Waiting thread."""
    wait_key: str
    """The wait's key (what the event completes)."""
    event_ref: str
    """Event definition name."""
    event_type: str
    """CloudEvent type."""
    event_source: str | None
    """Required source, when the definition names one."""
    correlation: Json
    """Context attribute values the event must carry."""
    business_key: str | None
    """The instance's business key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Backlogged:
    """An event nobody was waiting for when it arrived."""

    id: int
    """Row id."""
    event: Json
    """The structured CloudEvent."""


def replace_for_instance(
    conn: Connection,
    instance_id: str,
    subscriptions: list[Subscription],
    *,
    now: datetime,
) -> None:
    """Make `subscriptions` the instance's only subscriptions.

    The transaction holds its new waits' event types (`await_new_waits`) until it ends.
    """
    q = queries("subscriptions")
    if subscriptions:
        conn.execute(
            q["hold_new_waits"],
            {
                "class": LOCK_CLASS_NEW_WAITS,
                "event_types": sorted({s.event_type for s in subscriptions}),
            },
        )
    conn.execute(q["delete_instance_subscriptions"], {"instance_id": instance_id})
    for s in subscriptions:
        conn.execute(
            q["insert_subscription"],
            {
                "instance_id": s.instance_id,
                "thread_id": s.thread_id,
                "wait_key": s.wait_key,
                "event_ref": s.event_ref,
                "event_type": s.event_type,
                "event_source": s.event_source,
                "correlation": Jsonb(s.correlation),
                "business_key": s.business_key,
                "now": now,
            },
        )


def await_new_waits(conn: Connection, event_type: str) -> None:
    """Wait until every transaction that began waiting for `event_type` has ended.

    The barrier between an event kept unconsumed and a wait begun meanwhile: that wait's
    transaction looked at the backlog before the event was committed, and a look at the
    subscriptions made before the wait was committed misses it too. After this returns (and
    its transaction ended), a wait begun earlier is visible, and one begun later will find
    the event in the backlog. Hold nothing else in the transaction: the waits it waits for
    may be waiting for rows.
    """
    conn.execute(
        queries("subscriptions")["await_new_waits"],
        {"class": LOCK_CLASS_NEW_WAITS, "event_type": event_type},
    )


def for_type(conn: Connection, event_type: str) -> list[Subscription]:
    """Return the subscriptions to one event type, oldest first."""
    with conn.cursor(row_factory=class_row(Subscription)) as cursor:
        return cursor.execute(
            queries("subscriptions")["subscriptions_for_type"],
            {"event_type": event_type},
        ).fetchall()


def record_received(
    conn: Connection,
    *,
    event_id: str,
    event_source: str,
    event_type: str,
    event: Json,
    now: datetime,
) -> int | None:
    """Remember an event; return its row id, or None when it was received before (a redelivery)."""
    found = conn.execute(
        queries("subscriptions")["record_received"],
        {
            "event_id": event_id,
            "event_source": event_source,
            "event_type": event_type,
            "event": Jsonb(event),
            "now": now,
        },
    ).fetchone()
    return None if found is None else int(found[0])  # type: ignore[call-overload]


def mark_consumed(
    conn: Connection, row_id: int, *, consumed_by: str, now: datetime
) -> None:
    """Record which instance took an event."""
    conn.execute(
        queries("subscriptions")["mark_consumed"],
        {"id": row_id, "consumed_by": consumed_by, "now": now},
    )


def lock_if_unconsumed(conn: Connection, row_id: int) -> bool:
    """Lock a kept event no wait took yet; False when it was taken.

    Waits for a transaction that holds it: "being taken" is not "taken" (it may end
    without taking it). Lock the instance that takes it first, as every taker does.
    """
    found = conn.execute(
        queries("subscriptions")["lock_if_unconsumed"], {"id": row_id}
    ).fetchone()
    return found is not None


def unconsumed(
    conn: Connection, types: list[str], *, since: datetime
) -> list[Backlogged]:
    """Return events of `types` received since `since` that no wait took yet (not locked)."""
    with conn.cursor(row_factory=class_row(Backlogged)) as cursor:
        return cursor.execute(
            queries("subscriptions")["unconsumed_of_types"],
            {"types": types, "since": since},
        ).fetchall()
