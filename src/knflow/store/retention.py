"""Deleting finished records past their retention, a bounded batch per statement.

Every statement deletes at most `limit` rows, oldest first, skipping rows another
transaction holds, so a purge never waits on live work and each batch stays short.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from knflow.store.db import Connection
from knflow.store.sql import queries


def purge_sent_events(conn: Connection, *, before: datetime, limit: int) -> int:
    """Delete published outbox rows sent before `before`; return how many."""
    return _deleted(conn, "purge_sent_events", {"before": before, "limit": limit})


def purge_received_events(conn: Connection, *, before: datetime, limit: int) -> int:
    """Delete received events that arrived before `before`; return how many."""
    return _deleted(conn, "purge_received_events", {"before": before, "limit": limit})


def purge_instance_trees(
    conn: Connection,
    *,
    ended_before: datetime | None,
    failed_before: datetime | None,
    limit: int,
) -> int:
    """Delete up to `limit` ended instance trees and their records; return the instances.

    A None cut-off keeps that kind of instance forever.
    """
    params = {
        "ended_before": ended_before,
        "failed_before": failed_before,
        "limit": limit,
    }
    return _deleted(conn, "purge_instance_trees", params)


def purge_finished_jobs(conn: Connection, *, before: datetime, limit: int) -> int:
    """Delete jobs that finished before `before`; return how many."""
    return _deleted(conn, "purge_finished_jobs", {"before": before, "limit": limit})


def purge_notifications(conn: Connection, *, before: datetime, limit: int) -> int:
    """Delete final notification deliveries last changed before `before`; return how many."""
    return _deleted(conn, "purge_notifications", {"before": before, "limit": limit})


def purge_failed_tokens(conn: Connection, *, before: datetime, limit: int) -> int:
    """Delete the sealed tokens of instances in ERROR since before `before`; return how many."""
    return _deleted(conn, "purge_failed_tokens", {"before": before, "limit": limit})


def purge_start_keys(conn: Connection, *, before: datetime, limit: int) -> int:
    """Delete start keys made before `before` (out of their window); return how many."""
    return _deleted(conn, "purge_start_keys", {"before": before, "limit": limit})


def _deleted(conn: Connection, name: str, params: Mapping[str, object]) -> int:
    return conn.execute(queries("retention")[name], params).rowcount
