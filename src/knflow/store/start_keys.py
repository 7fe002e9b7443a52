"""Keys of idempotent starts: which instance a start request with a given key created.

A key belongs to one workflow; it is either the `Idempotency-Key` header or SonataFlow's
`businessKey`, each its own namespace. A row older than the window no longer counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from psycopg.rows import class_row

from knflow.store.db import Connection
from knflow.store.sql import queries


class KeyKind(StrEnum):
    """Where a start's key came from."""

    IDEMPOTENCY_KEY = "IDEMPOTENCY_KEY"
    """The `Idempotency-Key` request header."""
    BUSINESS_KEY = "BUSINESS_KEY"
    """SonataFlow's `businessKey` query parameter."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StartKey:
    """A start request's key."""

    workflow_id: str
    """The workflow started."""
    kind: KeyKind
    """Header or business key."""
    key: str
    """The key itself."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KeptStart:
    """The start that owns a key."""

    instance_id: str
    """The instance it created."""
    request_hash: str
    """Digest of its request (data and variables), to tell a retry from a different start."""
    created_at: datetime
    """When it started."""


def claim(
    conn: Connection,
    key: StartKey,
    *,
    instance_id: str,
    request_hash: str,
    now: datetime,
    expired_before: datetime,
) -> bool:
    """Record `instance_id` as the key's start; False when a live start owns the key.

    Waits for a concurrent start with the same key to commit or roll back (the caller's
    transaction holds the row until it ends).
    """
    return (
        conn.execute(
            queries("start_keys")["claim_start_key"],
            {
                "workflow_id": key.workflow_id,
                "key_kind": key.kind.value,
                "key": key.key,
                "instance_id": instance_id,
                "request_hash": request_hash,
                "now": now,
                "expired_before": expired_before,
            },
        ).fetchone()
        is not None
    )


def find(conn: Connection, key: StartKey) -> KeptStart | None:
    """Return the start that owns the key, however old."""
    with conn.cursor(row_factory=class_row(KeptStart)) as cursor:
        return cursor.execute(
            queries("start_keys")["find_start_key"],
            {
                "workflow_id": key.workflow_id,
                "key_kind": key.kind.value,
                "key": key.key,
            },
        ).fetchone()
