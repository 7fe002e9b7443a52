"""The outbox publisher: events are queued in the transaction that caused them, sent after commit.

A row is marked sent only after the sink answered 2xx; failures are retried with exponential
back-off, so a broker outage delays events but loses none. Without `K_SINK` (a local run)
nothing is sent and rows stay queued for whoever drains them.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Final

from knflow.errors import UnavailableError
from knflow.events import codec
from knflow.events.codec import Event
from knflow.outbound import sink
from knflow.runtime.services import Services
from knflow.store import db, outbox
from knflow.store.db import Connection
from knflow.store.outbox import OutboxRow

logger = logging.getLogger(__name__)

FIRST_RETRY: Final = timedelta(seconds=1)
LONGEST_RETRY: Final = timedelta(minutes=5)


def enqueue(
    conn: Connection, event: Event, *, instance_id: str | None, now: datetime
) -> int | None:
    """Queue `event` in the caller's transaction; return its row id (None if already queued)."""
    return outbox.enqueue(
        conn,
        event_id=event.id,
        event_type=event.type,
        instance_id=instance_id,
        event=event.to_dict(),
        now=now,
    )


def publish_ids(services: Services, ids: list[int]) -> int:
    """Send the given rows now (right after the commit that wrote them); return how many were sent."""
    if not ids or not services.settings.k_sink:
        return 0
    with db.transaction(services.pool) as conn:
        return _send_rows(services, conn, outbox.claim_ids(conn, ids))


def publish_due(services: Services, *, limit: int = 200) -> int:
    """Send every due unsent row (reconcile and retries); return how many were sent."""
    if not services.settings.k_sink:
        return 0
    with db.transaction(services.pool) as conn:
        return _send_rows(
            services, conn, outbox.claim_due(conn, now=services.clock(), limit=limit)
        )


def _send_rows(services: Services, conn: Connection, rows: list[OutboxRow]) -> int:
    sent = 0
    for row in rows:
        headers, body = codec.to_binary_http(codec.from_dict(row.event))
        try:
            sink.post(services.http, services.settings.k_sink, headers, body)
        except UnavailableError as error:
            delay = min(FIRST_RETRY * (2 ** min(row.attempts, 12)), LONGEST_RETRY)
            outbox.mark_failed(
                conn, row.id, error=str(error), next_attempt_at=services.clock() + delay
            )
            logger.warning(
                "event delivery failed",
                extra={"event_id": row.event_id, "attempts": row.attempts + 1},
            )
            continue
        outbox.mark_sent(conn, row.id, now=services.clock())
        sent += 1
    return sent
