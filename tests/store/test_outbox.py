"""The outbox's backlog query, against a real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from psycopg_pool import ConnectionPool

from knflow.store import db, outbox

T0 = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


def _enqueue(pool: ConnectionPool, event_id: str) -> int | None:
    with db.transaction(pool) as conn:
        return outbox.enqueue(
            conn,
            event_id=event_id,
            event_type="tests.happened",
            instance_id=None,
            event={"id": event_id},
            now=T0,
        )


def test_unsent_backlog_counts_unsent_rows_and_dates_the_oldest(
    pool: ConnectionPool,
) -> None:
    _enqueue(pool, "e1")
    _enqueue(pool, "e2")
    sent = _enqueue(pool, "e3")
    assert sent is not None
    with db.transaction(pool) as conn:
        outbox.mark_sent(conn, sent, now=T0)
        backlog = outbox.unsent_backlog(conn)
    assert backlog.count == 2
    assert backlog.oldest_at is not None


def test_unsent_backlog_of_an_empty_outbox_has_no_oldest_row(
    pool: ConnectionPool,
) -> None:
    with db.transaction(pool) as conn:
        backlog = outbox.unsent_backlog(conn)
    assert (backlog.count, backlog.oldest_at) == (0, None)


def test_marking_events_sent_does_not_store_their_payloads_again(
    pool: ConnectionPool,
) -> None:
    """A sent row's new version points at the payload written with the event (migration 18).

    Ten events shaped like grouped process events (a few kB of JSON that PostgreSQL
    compresses to about 1 kB): kept in the rows, the mark-sent UPDATE would copy every
    compressed payload into a new row version, four pages' worth; kept aside in the TOAST
    table, they are written once, and the twenty row versions fit in one page.
    """
    written = [_enqueue_payload(pool, f"big-{n}", _grouped_events(n)) for n in range(10)]
    with db.transaction(pool) as conn:
        outbox.mark_all_sent(conn, [row for row in written if row is not None], now=T0)
        pages = conn.execute(
            "SELECT pg_relation_size('outbox', 'main') / current_setting('block_size')::int"
        ).fetchone()
        sent = conn.execute(
            "SELECT count(*) FILTER (WHERE sent_at IS NOT NULL),"
            "       (SELECT event FROM outbox WHERE event_id = 'big-3')"
            "  FROM outbox"
        ).fetchone()
    assert sent == (10, {"id": "big-3", "data": _grouped_events(3)})
    assert pages == (1,)


def _grouped_events(seed: int) -> list[dict[str, object]]:
    """Twelve node events of one instance: unique ids in a repeated structure."""
    instance_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"instance-{seed}"))
    return [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"event-{seed}-{n}")),
            "type": "ProcessInstanceNodeDataEvent",
            "source": "http://knflow.test/three",
            "data": {
                "nodeName": f"s{n}",
                "nodeType": "CompositeContextNode",
                "processInstanceId": instance_id,
                "nodeInstanceId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"node-{seed}-{n}")),
                "eventDate": T0.isoformat(),
                "eventUser": None,
            },
        }
        for n in range(12)
    ]


def _enqueue_payload(
    pool: ConnectionPool, event_id: str, events: list[dict[str, object]]
) -> int | None:
    with db.transaction(pool) as conn:
        return outbox.enqueue(
            conn,
            event_id=event_id,
            event_type="MultipleProcessInstanceDataEvent",
            instance_id=None,
            event={"id": event_id, "data": events},
            now=T0,
        )
