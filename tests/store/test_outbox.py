"""The outbox's backlog query, against a real database."""

from __future__ import annotations

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
