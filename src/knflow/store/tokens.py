"""Sealed forwarded tokens of instances: one encrypted row per instance, gone when it ends.

This module stores and returns ciphertext only; sealing and opening belong to `auth.sealing`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row

from knflow.store.db import Connection
from knflow.store.sql import queries


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenRow:
    """An instance's sealed headers."""

    key_id: str
    """The sealing key's id."""
    nonce: bytes
    """The AES-GCM nonce."""
    ciphertext: bytes
    """The encrypted headers with their tag."""


def put(conn: Connection, instance_id: str, row: TokenRow, *, now: datetime) -> None:
    """Store (or replace) the sealed tokens of an instance."""
    conn.execute(
        queries("tokens")["put_tokens"],
        {
            "instance_id": instance_id,
            "key_id": row.key_id,
            "nonce": row.nonce,
            "ciphertext": row.ciphertext,
            "now": now,
        },
    )


def get(conn: Connection, instance_id: str) -> TokenRow | None:
    """Return the sealed tokens of an instance, if it keeps any."""
    with conn.cursor(row_factory=class_row(TokenRow)) as cursor:
        return cursor.execute(
            queries("tokens")["get_tokens"], {"instance_id": instance_id}
        ).fetchone()


def delete(conn: Connection, instance_id: str) -> None:
    """Forget the tokens of an instance (it ended)."""
    conn.execute(queries("tokens")["delete_tokens"], {"instance_id": instance_id})
