"""Stored workflow definitions: registered once, versioned, pinned by their instances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from knflow.store.db import Connection
from knflow.store.sql import queries
from knflow.workflow.model import Json


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredDefinition:
    """A registered definition version."""

    workflow_id: str
    """Workflow id."""
    version: str
    """Version."""
    name: str
    """Display name."""
    description: str | None
    """Description."""
    source: Json
    """The stored source (`loading.to_stored`): text, document, resources, schemas."""
    checksum: str
    """SHA-256 of the stored source; re-registering the same checksum is a no-op."""
    status: str
    """`AVAILABLE` or `UNAVAILABLE`."""
    registered_at: datetime
    """When this version was (re)registered."""


def upsert(conn: Connection, definition: StoredDefinition) -> bool:
    """Store a definition and make it the one served; return False when it already was.

    It already was when an identical version is registered, available, and no other
    available version of the workflow was registered after it.
    """
    params: dict[str, Any] = {
        "workflow_id": definition.workflow_id,
        "version": definition.version,
        "name": definition.name,
        "description": definition.description,
        "source": Jsonb(definition.source),
        "checksum": definition.checksum,
        "now": definition.registered_at,
    }
    return (
        conn.execute(queries("definitions")["upsert_definition"], params).fetchone()
        is not None
    )


def get(
    conn: Connection, workflow_id: str, version: str | None = None
) -> StoredDefinition | None:
    """Return a definition version, or the latest available one when `version` is None."""
    q = queries("definitions")
    with conn.cursor(row_factory=class_row(StoredDefinition)) as cursor:
        if version is None:
            return cursor.execute(
                q["get_latest_definition"], {"workflow_id": workflow_id}
            ).fetchone()
        return cursor.execute(
            q["get_definition"], {"workflow_id": workflow_id, "version": version}
        ).fetchone()


def list_available(conn: Connection) -> list[StoredDefinition]:
    """Return the latest available version of every workflow, ordered by id."""
    with conn.cursor(row_factory=class_row(StoredDefinition)) as cursor:
        return cursor.execute(
            queries("definitions")["list_available_definitions"]
        ).fetchall()


def mark_unavailable_except(
    conn: Connection, keep: list[str]
) -> list[StoredDefinition]:
    """Mark every workflow not in `keep` unavailable; return the versions that changed."""
    with conn.cursor(row_factory=class_row(StoredDefinition)) as cursor:
        return cursor.execute(
            queries("definitions")["mark_unavailable_except"], {"keep": keep}
        ).fetchall()


def mark_unavailable(
    conn: Connection, workflow_ids: list[str]
) -> list[StoredDefinition]:
    """Mark the named workflows unavailable; return the versions that changed."""
    with conn.cursor(row_factory=class_row(StoredDefinition)) as cursor:
        return cursor.execute(
            queries("definitions")["mark_unavailable"], {"workflow_ids": workflow_ids}
        ).fetchall()
