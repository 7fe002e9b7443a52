"""The transactional outbox: outgoing CloudEvents, written with the change they describe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from knflow.store.db import Connection
from knflow.store.sql import queries
from knflow.workflow.model import Json


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxRow:
    """One event waiting to be (or already) published."""

    id: int
    """Sequence number: publication order."""
    event_id: str
    """The CloudEvent id (deterministic)."""
    event_type: str
    """The CloudEvent type."""
    instance_id: str | None
    """The instance it is about."""
    event: Json
    """The structured-mode CloudEvent."""
    attempts: int
    """Delivery attempts so far."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Backlog:
    """Rows waiting: how many, and the oldest one's time."""

    count: int
    """Rows waiting."""
    oldest_at: datetime | None
    """When the oldest was written (or fell due); None when none waits."""


def enqueue(
    conn: Connection,
    *,
    event_id: str,
    event_type: str,
    instance_id: str | None,
    event: Json,
    now: datetime,
) -> int | None:
    """Add an event; return its row id, or None when that event id is already queued."""
    found = conn.execute(
        queries("outbox")["enqueue_event"],
        {
            "event_id": event_id,
            "event_type": event_type,
            "instance_id": instance_id,
            "event": Jsonb(event),
            "now": now,
        },
    ).fetchone()
    return None if found is None else int(found[0])  # type: ignore[call-overload]


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedEvent:
    """An event to write to the outbox."""

    event_id: str
    """The CloudEvent id (deterministic)."""
    event_type: str
    """The CloudEvent type."""
    instance_id: str | None
    """The instance it is about."""
    event: Json
    """The structured-mode CloudEvent."""


def enqueue_all(
    conn: Connection, queued: list[QueuedEvent], *, first_attempt_at: datetime
) -> Callable[[], dict[str, int]]:
    """Add events in one statement; return how to read the row id of each newly queued one.

    Event ids already queued are skipped (absent from the answer).

    In pipeline mode (`db.pipelined_transaction`) the statement goes out with the commit
    when its answer is read only after it: one wait for the server fewer.
    """
    if not queued:
        return dict
    cursor = conn.execute(
        queries("outbox")["enqueue_events"],
        {
            "queued": Jsonb(
                [
                    {
                        "event_id": q.event_id,
                        "event_type": q.event_type,
                        "instance_id": q.instance_id,
                        "event": q.event,
                    }
                    for q in queued
                ]
            ),
            "next_attempt_at": first_attempt_at,
        },
    )

    def row_ids() -> dict[str, int]:
        rows = cursor.fetchall()
        return {str(event_id): int(row_id) for row_id, event_id in rows}  # type: ignore[call-overload]

    return row_ids


def claim_due(conn: Connection, *, now: datetime, limit: int = 100) -> list[OutboxRow]:
    """Lock up to `limit` due unsent rows for this transaction."""
    with conn.cursor(row_factory=class_row(OutboxRow)) as cursor:
        return cursor.execute(
            queries("outbox")["claim_due"], {"now": now, "limit": limit}
        ).fetchall()


def claim_ids(conn: Connection, ids: list[int]) -> list[OutboxRow]:
    """Lock the given unsent rows (those another publisher holds are skipped)."""
    with conn.cursor(row_factory=class_row(OutboxRow)) as cursor:
        return cursor.execute(queries("outbox")["claim_ids"], {"ids": ids}).fetchall()


def mark_sent(conn: Connection, row_id: int, *, now: datetime) -> None:
    """Record a successful delivery."""
    conn.execute(queries("outbox")["mark_sent"], {"id": row_id, "now": now})


def mark_all_sent(conn: Connection, row_ids: list[int], *, now: datetime) -> None:
    """Record the successful delivery of several rows at once."""
    conn.execute(queries("outbox")["mark_all_sent"], {"ids": row_ids, "now": now})


def mark_failed(
    conn: Connection, row_id: int, *, error: str, next_attempt_at: datetime
) -> None:
    """Record a failed delivery and when to try again."""
    conn.execute(
        queries("outbox")["mark_failed"],
        {"id": row_id, "error": error[:2000], "next_attempt_at": next_attempt_at},
    )


def unsent_count(conn: Connection) -> int:
    """Return how many events wait for publication."""
    found = conn.execute(queries("outbox")["unsent_count"]).fetchone()
    return int(found[0]) if found else 0  # type: ignore[call-overload]


def unsent_backlog(conn: Connection) -> Backlog:
    """Return how many events wait for publication, and since when the oldest waits."""
    with conn.cursor(row_factory=class_row(Backlog)) as cursor:
        found = cursor.execute(queries("outbox")["unsent_backlog"]).fetchone()
    return found or Backlog(count=0, oldest_at=None)


def claim_unsent_of_type(
    conn: Connection, event_type: str, *, limit: int = 100
) -> list[OutboxRow]:
    """Lock unsent rows of one type (local runs consume their own step events)."""
    with conn.cursor(row_factory=class_row(OutboxRow)) as cursor:
        return cursor.execute(
            queries("outbox")["claim_unsent_of_type"],
            {"event_type": event_type, "limit": limit},
        ).fetchall()
