"""The notification delivery log: one row per (CloudEvent id, channel).

It records what was sent where, how often it was tried and how it ended, so that a
redelivered event sends nothing twice. It sends nothing and never commits:
`runtime.notify` owns the transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, cast

from psycopg.types.json import Jsonb

from knflow.store.db import Connection
from knflow.store.sql import queries
from knflow.workflow.model import Json


class Channel(StrEnum):
    """Where a notification goes; `INTAKE` holds events refused before any channel."""

    BACKSTAGE = "backstage"
    WEBHOOK = "webhook"
    INTAKE = "intake"


class DeliveryStatus(StrEnum):
    """Where a delivery stands."""

    PENDING = "PENDING"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    DEAD = "DEAD"
    REJECTED = "REJECTED"
    REFUSED = "REFUSED"


class SendOutcome(StrEnum):
    """How one send ended: what an operator (or a metric of notify) counts per attempt."""

    SENT = "SENT"
    """The channel took the notification."""
    NO_RECIPIENTS = "NO_RECIPIENTS"
    """Backstage took it, but its entity refs resolved to no user who gets it."""
    UNAVAILABLE = "UNAVAILABLE"
    """No answer, a timeout, 408, 429 or 5xx: the channel is down or busy."""
    UNAUTHORIZED = "UNAUTHORIZED"
    """401 or 403: knflow's token or the channel's access rules are wrong."""
    REJECTED = "REJECTED"
    """Another 4xx: the channel refused this notification for good."""


FINAL_STATUSES: Final = frozenset(
    {
        DeliveryStatus.SENT,
        DeliveryStatus.DEAD,
        DeliveryStatus.REJECTED,
        DeliveryStatus.REFUSED,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One event's delivery on one channel."""

    event_id: str
    """The CloudEvent id; with `channel` the key."""
    channel: Channel
    """The channel."""
    event_type: str
    """The CloudEvent type that asked for the notification."""
    instance_id: str | None
    """The workflow instance the notification is about, when known."""
    workflow_id: str | None
    """The workflow the notification is about, when known."""
    body: Json
    """The JSON body sent on the channel (for a refused event: its data)."""
    status: DeliveryStatus
    """Where the delivery stands."""
    attempts: int
    """Sends started so far."""
    last_error: str | None
    """Why the last attempt failed, or why the event was refused."""
    lease_until: datetime | None
    """While `SENDING`: when the claim expires and another delivery may try again."""
    created_at: datetime
    """When the event was first seen."""
    updated_at: datetime
    """When the row last changed."""
    sent_at: datetime | None
    """When the channel accepted the notification."""
    retry_at: datetime | None
    """While `PENDING` or `FAILED`: when the next attempt may start."""
    outcome: SendOutcome | None
    """How the last attempt ended; None before the first one ends."""
    recipient_count: int | None
    """How many notifications Backstage created (users reached; 1 for a broadcast)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EndedInstance:
    """What a lifecycle notice says of an instance, read from the runtime's tables."""

    instance_id: str
    """The instance."""
    workflow_id: str
    """Its definition's id."""
    workflow_name: str | None
    """Its definition's name, when the definition is stored."""
    initiator: Json
    """The `initiatorEntity` start variable: an entity ref, a list of them, or None."""
    error_message: str | None
    """Why the instance failed, for ERROR."""
    metadata: Json
    """The definition's `metadata` object, or None."""
    annotations: Json
    """The definition's `annotations` list, or None."""


def insert_delivery(
    conn: Connection,
    *,
    event_id: str,
    channel: Channel,
    event_type: str,
    instance_id: str | None,
    workflow_id: str | None,
    body: Json,
    now: datetime,
    retry_at: datetime,
) -> None:
    """Create the `PENDING` row of `event_id` on `channel` unless it exists already.

    `retry_at` is when the re-drive takes the row over if no delivery claims it by then.
    """
    conn.execute(
        queries("notifications")["insert_delivery"],
        {
            "event_id": event_id,
            "channel": channel.value,
            "event_type": event_type,
            "instance_id": instance_id,
            "workflow_id": workflow_id,
            "body": Jsonb(body),
            "now": now,
            "retry_at": retry_at,
        },
    )


def start_attempt(
    conn: Connection,
    event_id: str,
    channel: Channel,
    *,
    now: datetime,
    lease_until: datetime,
) -> Delivery | None:
    """Claim the row for one send and count the attempt.

    Returns None when the row is finished, waits for its `retry_at`, or another delivery
    holds a live claim (read it with `get_delivery` to tell which); none of these counts
    as an attempt. A claim whose lease ran out is taken over: its holder may have crashed
    after sending, so a notification can go out once more.
    """
    row = conn.execute(
        queries("notifications")["start_attempt"],
        {
            "event_id": event_id,
            "channel": channel.value,
            "now": now,
            "lease_until": lease_until,
        },
    ).fetchone()
    return None if row is None else _from_row(row)


def finish_attempt(
    conn: Connection,
    event_id: str,
    channel: Channel,
    *,
    attempt: int,
    status: DeliveryStatus,
    outcome: SendOutcome,
    last_error: str | None,
    now: datetime,
    retry_at: datetime | None = None,
    recipient_count: int | None = None,
) -> bool:
    """Record how attempt number `attempt` ended; False when it lost the claim.

    `retry_at` is set for a `FAILED` row: the next attempt waits until then.
    """
    cursor = conn.execute(
        queries("notifications")["finish_attempt"],
        {
            "event_id": event_id,
            "channel": channel.value,
            "attempt": attempt,
            "status": status.value,
            "outcome": outcome.value,
            "last_error": last_error,
            "retry_at": retry_at,
            "recipient_count": recipient_count,
            "now": now,
        },
    )
    return cursor.rowcount == 1


def record_refusal(
    conn: Connection,
    *,
    event_id: str,
    event_type: str,
    instance_id: str | None,
    workflow_id: str | None,
    data: Json,
    reason: str,
    now: datetime,
) -> None:
    """Log a refused event (bad data) on the `intake` channel; the first one stays."""
    conn.execute(
        queries("notifications")["record_refusal"],
        {
            "event_id": event_id,
            "event_type": event_type,
            "instance_id": instance_id,
            "workflow_id": workflow_id,
            "body": Jsonb(data),
            "reason": reason,
            "now": now,
        },
    )


def get_delivery(conn: Connection, event_id: str, channel: Channel) -> Delivery | None:
    """Return the row of `event_id` on `channel`, if any."""
    row = conn.execute(
        queries("notifications")["get_delivery"],
        {"event_id": event_id, "channel": channel.value},
    ).fetchone()
    return None if row is None else _from_row(row)


def list_deliveries(conn: Connection, event_id: str) -> list[Delivery]:
    """Return every row of `event_id`, ordered by channel."""
    rows = conn.execute(
        queries("notifications")["list_deliveries"], {"event_id": event_id}
    ).fetchall()
    return [_from_row(row) for row in rows]


def expire_deliveries(
    conn: Connection, *, created_before: datetime, now: datetime
) -> list[Delivery]:
    """Mark `DEAD` every unsent, unclaimed row first seen at or before `created_before`."""
    rows = conn.execute(
        queries("notifications")["expire_deliveries"],
        {"created_before": created_before, "now": now},
    ).fetchall()
    return [_from_row(row) for row in rows]


def list_stalled(conn: Connection, *, now: datetime, limit: int) -> list[Delivery]:
    """Return up to `limit` due rows no event will finish, longest waiting first.

    Due: a `PENDING` or `FAILED` row whose `retry_at` has come, or a claim whose lease
    ran out (its holder died).
    """
    rows = conn.execute(
        queries("notifications")["list_stalled"], {"now": now, "limit": limit}
    ).fetchall()
    return [_from_row(row) for row in rows]


def find_ended_instance(conn: Connection, instance_id: str) -> EndedInstance | None:
    """Return the initiator, error and definition settings of an existing instance."""
    row = conn.execute(
        queries("notifications")["find_ended_instance"], {"instance_id": instance_id}
    ).fetchone()
    if row is None:
        return None
    found_id, workflow_id, name, initiator, error_message, metadata, annotations = cast(
        tuple[Any, ...], row
    )
    return EndedInstance(
        instance_id=found_id,
        workflow_id=workflow_id,
        workflow_name=name,
        initiator=initiator,
        error_message=error_message,
        metadata=metadata,
        annotations=annotations,
    )


def _from_row(row: tuple[Any, ...]) -> Delivery:
    (
        event_id,
        channel,
        event_type,
        instance_id,
        workflow_id,
        body,
        status,
        attempts,
        last_error,
        lease_until,
        created_at,
        updated_at,
        sent_at,
        retry_at,
        outcome,
        recipient_count,
    ) = row
    return Delivery(
        event_id=event_id,
        channel=Channel(channel),
        event_type=event_type,
        instance_id=instance_id,
        workflow_id=workflow_id,
        body=body,
        status=DeliveryStatus(status),
        attempts=attempts,
        last_error=last_error,
        lease_until=lease_until,
        created_at=created_at,
        updated_at=updated_at,
        sent_at=sent_at,
        retry_at=retry_at,
        outcome=None if outcome is None else SendOutcome(outcome),
        recipient_count=recipient_count,
    )
