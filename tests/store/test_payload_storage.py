"""Event payloads are written once: the rows that change after they are written point at them.

Marking an outbox row sent or a received event consumed is an UPDATE that cannot be HOT (the
column it sets is indexed), so PostgreSQL writes a whole new row version. Migration 18 keeps
payloads of more than a few hundred bytes (compressed) out of line, so the new version
carries a pointer instead of a second copy of the payload.

Each test writes ten payloads shaped like grouped process events (a few kB of JSON that
PostgreSQL compresses to about 1 kB), changes every row, and counts the table's pages: the
twenty row versions fit in one page; with the payloads in the rows, they take four.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from psycopg_pool import ConnectionPool

from knflow.store import db, outbox, subscriptions
from knflow.store.db import Connection

T0 = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
EVENTS = 10


def test_marking_events_sent_does_not_store_their_payloads_again(
    pool: ConnectionPool,
) -> None:
    written = []
    for n in range(EVENTS):
        with db.transaction(pool) as conn:
            written.append(
                outbox.enqueue(
                    conn,
                    event_id=f"group-{n}",
                    event_type="MultipleProcessInstanceDataEvent",
                    instance_id=None,
                    event=_grouped_event(n),
                    now=T0,
                )
            )
    with db.transaction(pool) as conn:
        outbox.mark_all_sent(conn, [row for row in written if row is not None], now=T0)
        sent = conn.execute(
            "SELECT count(*) FILTER (WHERE sent_at IS NOT NULL),"
            "       (SELECT event FROM outbox WHERE event_id = 'group-3')"
            "  FROM outbox"
        ).fetchone()
        pages = _pages(conn, "outbox")
    assert sent == (EVENTS, _grouped_event(3))
    assert pages == 1


def test_marking_received_events_consumed_does_not_store_their_payloads_again(
    pool: ConnectionPool,
) -> None:
    received = []
    for n in range(EVENTS):
        with db.transaction(pool) as conn:
            received.append(
                subscriptions.record_received(
                    conn,
                    event_id=f"group-{n}",
                    event_source="http://knflow.test/three",
                    event_type="tests.happened",
                    event=_grouped_event(n),
                    now=T0,
                )
            )
    with db.transaction(pool) as conn:
        for row_id in received:
            assert row_id is not None
            subscriptions.mark_consumed(conn, row_id, consumed_by="i-1", now=T0)
        consumed = conn.execute(
            "SELECT count(*) FILTER (WHERE consumed_at IS NOT NULL),"
            "       (SELECT event FROM received_events WHERE event_id = 'group-3')"
            "  FROM received_events"
        ).fetchone()
        pages = _pages(conn, "received_events")
    assert consumed == (EVENTS, _grouped_event(3))
    assert pages == 1


def _pages(conn: Connection, table: str) -> int:
    """Pages of the table's own rows (its TOAST table and indexes not counted)."""
    found = conn.execute(
        "SELECT pg_relation_size(%s::regclass, 'main')"
        "     / current_setting('block_size')::int",
        (table,),
    ).fetchone()
    assert found is not None
    return int(found[0])


def _grouped_event(seed: int) -> dict[str, object]:
    """Twelve node events of one instance: unique ids in a repeated structure."""
    instance_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"instance-{seed}"))
    return {
        "id": f"group-{seed}",
        "data": [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"event-{seed}-{n}")),
                "type": "ProcessInstanceNodeDataEvent",
                "source": "http://knflow.test/three",
                "data": {
                    "nodeName": f"s{n}",
                    "nodeType": "CompositeContextNode",
                    "processInstanceId": instance_id,
                    "nodeInstanceId": str(
                        uuid.uuid5(uuid.NAMESPACE_URL, f"node-{seed}-{n}")
                    ),
                    "eventDate": T0.isoformat(),
                    "eventUser": None,
                },
            }
            for n in range(12)
        ],
    }
