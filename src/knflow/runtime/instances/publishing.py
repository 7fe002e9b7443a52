"""The outbox publisher: events are written in the transaction that caused them, sent after commit.

A unit of work writes all its events with one statement and hands them, in memory, to this
module after its commit: they are posted without being read back, and marked sent together.
Inside an HTTP request (`deferral.deferring`), the Data Index's events wait until the answer was sent,
so no caller waits for them. A row is marked sent only after the sink answered 2xx; a failed one is
retried with exponential back-off by the reconcile (`publish_due`), as is a row whose writer
died before publishing it. Without `K_SINK` (a local run) nothing is sent and rows stay
queued for whoever drains them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from knflow.errors import UnavailableError
from knflow.events import codec, kogito, types
from knflow.events.codec import Event
from knflow.outbound import sink
from knflow.runtime.instances import deferral
from knflow.runtime.instances.deferral import Outgoing
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
MOST_MERGED: Final = 32
"""Most grouped events of one instance merged into one delivery."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST to the sink: an event and the outbox rows it stands for."""

    event: Event
    """What is posted."""
    row_ids: tuple[int, ...]
    """The rows marked sent when the sink takes it."""


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
) -> Callable[[], list[Outgoing]]:
    """Write `(event, instance id)` pairs in one statement; return how to read those queued.

    Read it after the commit, and in pipeline mode the statement waits for no answer
    before it (`outbox.enqueue_all`).
    """
    queued = [
        QueuedEvent(
            event_id=event.id,
            event_type=event.type,
            instance_id=instance_id,
            event=event.to_dict(),
        )
        for event, instance_id in events
    ]
    read_ids = outbox.enqueue_all(conn, queued, first_attempt_at=now + WRITER_GRACE)

    def written() -> list[Outgoing]:
        row_ids = read_ids()
        return [
            Outgoing(row_id=row_ids[event.id], event=event)
            for event, _ in events
            if event.id in row_ids
        ]

    return written


def publish(services: Services, outgoing: Sequence[Outgoing]) -> int:
    """Send events just committed; inside `deferring`, keep Data Index events for after the answer.

    Returns how many were sent now.
    """
    deferred = deferral.current()
    if deferred is None:
        return send(services, outgoing)
    urgent = [item for item in outgoing if item.event.type not in DEFERRABLE_TYPES]
    deferred.outgoing.extend(
        item for item in outgoing if item.event.type in DEFERRABLE_TYPES
    )
    return send(services, urgent)


def send(services: Services, outgoing: Sequence[Outgoing]) -> int:
    """Post the events to the sink, then record the outcomes in one transaction.

    The grouped process events of one instance go out merged (`deliveries`); returns how
    many outbox rows were sent. Never fails for the database: the events were committed
    before, and rows not marked sent are sent again by the reconcile.
    """
    if not outgoing or not services.settings.k_sink:
        return 0
    sent: list[int] = []
    failed: list[tuple[int, Event, UnavailableError]] = []
    credentials = _broker_credentials(services.settings.eventing_token_file)
    for delivery in deliveries(outgoing):
        headers, body = codec.to_binary_http(delivery.event)
        try:
            sink.post(
                services.http,
                services.settings.k_sink,
                {**headers, **credentials},
                body,
            )
        except UnavailableError as error:
            failed += [(row_id, delivery.event, error) for row_id in delivery.row_ids]
            continue
        sent += delivery.row_ids
        services.metrics.events_published.labels(delivery.event.type).inc()
    try:
        _record_outcomes(services, sent, failed)
    except UnavailableError as error:
        # The rows stay due: the reconcile sends them again, and receivers de-duplicate
        # by event id.
        logger.warning(
            "recording published events failed", extra={"reason": str(error)}
        )
    return len(sent)


def deliveries(outgoing: Sequence[Outgoing]) -> list[Delivery]:
    """One delivery per event, except the grouped process events of one instance: merged.

    A request that commits an instance several times (its start, then each call) would
    otherwise cost the broker and the Data Index one delivery per commit. Merged events
    stand where the instance's first one stood; a failed delivery leaves every row it
    stands for to the reconcile, which sends them one by one.
    """
    slots: list[list[Outgoing]] = []
    open_groups: dict[str, list[Outgoing]] = {}
    for item in outgoing:
        instance_id = item.event.extensions.get("kogitoprocinstanceid")
        if item.event.type != types.PROCESS_INSTANCE_MULTIPLE or not instance_id:
            slots.append([item])
            continue
        group = open_groups.get(instance_id)
        if group is None or len(group) >= MOST_MERGED:
            group = open_groups[instance_id] = []
            slots.append(group)
        group.append(item)
    return [
        Delivery(
            event=kogito.merged_groups([item.event for item in slot]),
            row_ids=tuple(item.row_id for item in slot),
        )
        for slot in slots
    ]


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


def _record_outcomes(
    services: Services,
    sent: list[int],
    failed: Sequence[tuple[int, Event, UnavailableError]],
) -> None:
    """Mark what was delivered sent, and what failed due again later, in one wait.

    The statements only write: pipelined, BEGIN, they and COMMIT go out together.
    """
    with db.pipelined_transaction(services.pool) as conn:
        if sent:
            outbox.mark_all_sent(conn, sent, now=services.clock())
        for row_id, event, failure in failed:
            services.metrics.events_failed.labels(event.type).inc()
            _record_failure(services, conn, row_id, event.id, failure, 0)


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
