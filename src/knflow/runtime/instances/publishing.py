"""The outbox publisher: events are written in the transaction that caused them, sent after commit.

A unit of work writes all its events with one statement and hands them, in memory, to this
module after its commit: they are posted without being read back, and marked sent together.
Inside an HTTP request (`deferring`), the Data Index's events wait until the answer was sent,
so no caller waits for them. A row is marked sent only after the sink answered 2xx; a failed one is
retried with exponential back-off by the reconcile (`publish_due`), as is a row whose writer
died before publishing it. Without `K_SINK` (a local run) nothing is sent and rows stay
queued for whoever drains them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from knflow.errors import UnavailableError
from knflow.events import codec, types
from knflow.events.codec import Event
from knflow.outbound import sink
from knflow.runtime.services import Services
from knflow.store import db, outbox
from knflow.store.db import Connection
from knflow.store.outbox import QueuedEvent

logger = logging.getLogger(__name__)

FIRST_RETRY: Final = timedelta(seconds=1)
LONGEST_RETRY: Final = timedelta(minutes=5)
DEFERRABLE_TYPES: Final = types.DATA_INDEX_TYPES
"""What may wait for the answer: the Data Index's events. Step events, wake-ups and produced
events go at once, since the answer itself may wait for the work they start elsewhere."""
WRITER_GRACE: Final = timedelta(seconds=10)
"""How long the reconcile leaves a fresh row to the process that wrote it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outgoing:
    """An event written to the outbox, to publish after its commit."""

    row_id: int
    """Its outbox row."""
    event: Event
    """The event itself (published from memory, never read back)."""


@dataclass(slots=True)
class Deferred:
    """What one HTTP request publishes, sent once its answer is on its way."""

    outgoing: list[Outgoing] = field(default_factory=list)
    """Events waiting for the answer."""


_DEFERRED: ContextVar[Deferred | None] = ContextVar("knflow_deferred", default=None)


def enqueue(
    conn: Connection, event: Event, *, instance_id: str | None, now: datetime
) -> int | None:
    """Queue one event in the caller's transaction, due at once; return its row id.

    For changes made outside a unit of work (registration, schedules), which are published
    by `publish_due`. None means the event id was queued before.
    """
    return outbox.enqueue(
        conn,
        event_id=event.id,
        event_type=event.type,
        instance_id=instance_id,
        event=event.to_dict(),
        now=now,
    )


def write_all(
    conn: Connection, events: Sequence[tuple[Event, str | None]], *, now: datetime
) -> list[Outgoing]:
    """Write `(event, instance id)` pairs in one statement; return those newly queued."""
    queued = [
        QueuedEvent(
            event_id=event.id,
            event_type=event.type,
            instance_id=instance_id,
            event=event.to_dict(),
        )
        for event, instance_id in events
    ]
    row_ids = outbox.enqueue_all(conn, queued, first_attempt_at=now + WRITER_GRACE)
    return [
        Outgoing(row_id=row_ids[event.id], event=event)
        for event, _ in events
        if event.id in row_ids
    ]


@contextmanager
def deferring() -> Iterator[Deferred]:
    """Collect what is published inside the block instead of sending it (`send` it later)."""
    deferred = Deferred()
    token = _DEFERRED.set(deferred)
    try:
        yield deferred
    finally:
        _DEFERRED.reset(token)


def publish(services: Services, outgoing: Sequence[Outgoing]) -> int:
    """Send events just committed; inside `deferring`, keep Data Index events for after the answer.

    Returns how many were sent now.
    """
    deferred = _DEFERRED.get()
    if deferred is None:
        return send(services, outgoing)
    urgent = [item for item in outgoing if item.event.type not in DEFERRABLE_TYPES]
    deferred.outgoing.extend(
        item for item in outgoing if item.event.type in DEFERRABLE_TYPES
    )
    return send(services, urgent)


def send(services: Services, outgoing: Sequence[Outgoing]) -> int:
    """Post each event to the sink, then record the outcomes in one transaction."""
    if not outgoing or not services.settings.k_sink:
        return 0
    sent: list[int] = []
    failed: list[tuple[Outgoing, UnavailableError]] = []
    credentials = _broker_credentials(services.settings.eventing_token_file)
    for item in outgoing:
        headers, body = codec.to_binary_http(item.event)
        try:
            sink.post(
                services.http,
                services.settings.k_sink,
                {**headers, **credentials},
                body,
            )
        except UnavailableError as error:
            failed.append((item, error))
            continue
        sent.append(item.row_id)
        services.metrics.events_published.labels(item.event.type).inc()
    with db.transaction(services.pool) as conn:
        if sent:
            outbox.mark_all_sent(conn, sent, now=services.clock())
        for item, failure in failed:
            services.metrics.events_failed.labels(item.event.type).inc()
            _record_failure(services, conn, item.row_id, item.event.id, failure, 0)
    return len(sent)


def publish_due(services: Services, *, limit: int = 200) -> int:
    """Send every due unsent row (reconcile, retries, registrations); return how many were sent."""
    if not services.settings.k_sink:
        return 0
    sent = 0
    credentials = _broker_credentials(services.settings.eventing_token_file)
    with db.transaction(services.pool) as conn:
        for row in outbox.claim_due(conn, now=services.clock(), limit=limit):
            headers, body = codec.to_binary_http(codec.from_dict(row.event))
            try:
                sink.post(
                    services.http,
                    services.settings.k_sink,
                    {**headers, **credentials},
                    body,
                )
            except UnavailableError as error:
                services.metrics.events_failed.labels(row.event_type).inc()
                _record_failure(
                    services, conn, row.id, row.event_id, error, row.attempts
                )
                continue
            services.metrics.events_published.labels(row.event_type).inc()
            outbox.mark_sent(conn, row.id, now=services.clock())
            sent += 1
    return sent


def _record_failure(
    services: Services,
    conn: Connection,
    row_id: int,
    event_id: str,
    error: UnavailableError,
    attempts: int,
) -> None:
    delay = min(FIRST_RETRY * (2 ** min(attempts, 12)), LONGEST_RETRY)
    outbox.mark_failed(
        conn, row_id, error=str(error), next_attempt_at=services.clock() + delay
    )
    logger.warning(
        "event delivery failed", extra={"event_id": event_id, "attempts": attempts + 1}
    )


def _broker_credentials(token_file: str) -> dict[str, str]:
    """The projected service-account token the broker checks in Eventing OIDC mode.

    Read at each batch: the kubelet rotates the file before the token expires.
    """
    if not token_file:
        return {}
    try:
        token = Path(token_file).read_text(encoding="utf-8").strip()
    except OSError:
        logger.warning("eventing token file unreadable", extra={"path": token_file})
        return {}
    return {"authorization": f"Bearer {token}"}
