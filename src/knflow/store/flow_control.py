"""Flow-control rows: a workflow's slots under its active-instance limit, and call-rate buckets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from knflow.store.db import Connection
from knflow.store.sql import queries
from knflow.workflow.model import Json


@dataclass(frozen=True, slots=True, kw_only=True)
class Slots:
    """How a workflow's instances stand against its limit."""

    active: int
    """Instances holding a slot (ACTIVE or SUSPENDED)."""
    pending: int
    """Instances queued for one (PENDING)."""


def lock_slots(conn: Connection, workflow_id: str) -> None:
    """Serialise slot changes of `workflow_id` until the transaction ends."""
    conn.execute(
        queries("flow_control")["lock_workflow_slots"], {"workflow_id": workflow_id}
    )


def count_slots(conn: Connection, workflow_id: str) -> Slots:
    """Return the active and pending instances of a workflow (under `lock_slots`)."""
    found = conn.execute(
        queries("flow_control")["count_slots"], {"workflow_id": workflow_id}
    ).fetchone()
    active, pending = found if found is not None else (0, 0)
    return Slots(active=int(str(active)), pending=int(str(pending)))


def lock_oldest_pending(conn: Connection, workflow_id: str, limit: int) -> list[str]:
    """Lock and return the ids of the `limit` oldest queued instances of a workflow."""
    rows = conn.execute(
        queries("flow_control")["oldest_pending"],
        {"workflow_id": workflow_id, "limit": limit},
    )
    return [str(r[0]) for r in rows.fetchall()]


def queued_workflows(conn: Connection) -> list[str]:
    """Return the workflow ids that have queued instances."""
    rows = conn.execute(queries("flow_control")["queued_workflows"])
    return [str(r[0]) for r in rows.fetchall()]


def keep_start_event(
    conn: Connection, instance_id: str, event_ref: str, event: Json
) -> None:
    """Keep the event that started a queued instance until it leaves the queue."""
    conn.execute(
        queries("flow_control")["keep_start_event"],
        {"instance_id": instance_id, "event_ref": event_ref, "event": Jsonb(event)},
    )


def take_start_event(
    conn: Connection, instance_id: str
) -> tuple[str, dict[str, Any]] | None:
    """Remove and return `(event_ref, event)` kept for a queued instance, if any."""
    found = conn.execute(
        queries("flow_control")["take_start_event"], {"instance_id": instance_id}
    ).fetchone()
    if found is None or not isinstance(found[1], dict):
        return None
    return str(found[0]), found[1]


def take_call(conn: Connection, key: str, *, rate: float) -> datetime | None:
    """Take the next turn of bucket `key`; return when it comes, None when it is now.

    The bucket holds one call (no burst): calls through one key start at least `1/rate`
    seconds apart, whichever process makes them, by the database's clock. A turn taken is
    never given back.
    """
    found = conn.execute(
        queries("flow_control")["take_call"], {"key": key, "rate": rate, "burst": 1.0}
    ).fetchone()
    if found is None:
        return None
    tokens, refilled_at = float(str(found[0])), found[1]
    if tokens >= 0 or not isinstance(refilled_at, datetime):
        return None
    return refilled_at + timedelta(seconds=-tokens / rate)
