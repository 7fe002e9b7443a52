"""Stored workflow definitions: one served row per version, and the immutable revisions instances run.

`definitions` holds what a new start of each version gets; `definition_revisions` holds every
content ever registered, numbered per workflow and keyed by checksum, which instances pin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from knflow.store.db import Connection
from knflow.store.sql import queries
from knflow.workflow.model import Json

LATER_REVISION: Final = re.compile(r"\+r[0-9]+$")
"""The suffix `add_revision` gives the label of later content under one version."""


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
    revision: int | None = None
    """Its revision; None when a release before revisions registered this content."""
    label: str | None = None
    """The version as its instances show it (`1.0`, or `1.0+r3` for later content of 1.0)."""

    @property
    def shown_version(self) -> str:
        """Return the version the Data Index shows for instances of this revision."""
        return self.label or self.version


@dataclass(frozen=True, slots=True, kw_only=True)
class RevisionSummary:
    """One revision as the management API lists it."""

    revision: int
    """Number, per workflow, in registration order."""
    version: str
    """The definition's `version`."""
    label: str
    """The version as its instances show it."""
    checksum: str
    """SHA-256 of the stored source: the revision's identity."""
    registered_at: datetime
    """When this content was first registered."""
    dropped_at: datetime | None
    """When its source was dropped (no version served it, no unfinished instance ran it)."""
    status: str | None
    """`AVAILABLE` or `UNAVAILABLE` while its version serves it; None otherwise."""
    latest: bool
    """A start that names no version gets this revision."""
    unfinished: int
    """Instances running it (ACTIVE, SUSPENDED or ERROR)."""


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


def definition_version(shown: str | None) -> str | None:
    """Return the definition version an instance's shown version names (`1.0+r3`: `1.0`)."""
    if shown is None:
        return None
    return LATER_REVISION.sub("", shown)


def add_revision(conn: Connection, definition: StoredDefinition) -> StoredDefinition:
    """Record `definition`'s content as a revision (once per content); return it with its number.

    Takes a transaction-scoped lock per workflow, held until the caller commits.
    """
    q = queries("definitions")
    conn.execute(q["lock_revisions"], {"workflow_id": definition.workflow_id})
    found = conn.execute(
        q["add_revision"],
        {
            "workflow_id": definition.workflow_id,
            "version": definition.version,
            "checksum": definition.checksum,
            "name": definition.name,
            "description": definition.description,
            "source": Jsonb(definition.source),
            "now": definition.registered_at,
        },
    ).fetchone()
    if found is None:
        found = conn.execute(
            q["find_revision"],
            {"workflow_id": definition.workflow_id, "checksum": definition.checksum},
        ).fetchone()
    assert found is not None, "the revision was inserted or already existed"
    return replace(definition, revision=int(str(found[0])), label=str(found[1]))


def get_revision(
    conn: Connection, workflow_id: str, revision: int
) -> StoredDefinition | None:
    """Return one revision of a workflow; None when there is none or it was dropped."""
    with conn.cursor(row_factory=class_row(StoredDefinition)) as cursor:
        return cursor.execute(
            queries("definitions")["get_revision"],
            {"workflow_id": workflow_id, "revision": revision},
        ).fetchone()


def list_revisions(conn: Connection, workflow_id: str) -> list[RevisionSummary]:
    """Return every revision of a workflow, oldest first."""
    with conn.cursor(row_factory=class_row(RevisionSummary)) as cursor:
        return cursor.execute(
            queries("definitions")["list_revisions"], {"workflow_id": workflow_id}
        ).fetchall()


def revision_labels(conn: Connection) -> dict[tuple[str, int], str]:
    """Return the label of every revision, dropped ones too, by (workflow id, revision)."""
    rows = conn.execute(queries("definitions")["list_revision_labels"]).fetchall()
    return {(str(row[0]), int(str(row[1]))): str(row[2]) for row in rows}


def drop_unused_revisions(
    conn: Connection, workflow_id: str, *, keep: str, now: datetime
) -> list[int]:
    """Drop the source of revisions nothing needs any more; return their numbers.

    Call it before `upsert` changes what is served: the revision served until now is kept
    for one more registration (a start that read it may still be committing). `keep` is the
    checksum being registered.
    """
    rows = conn.execute(
        queries("definitions")["drop_unused_revisions"],
        {"workflow_id": workflow_id, "keep": keep, "now": now},
    ).fetchall()
    return [int(str(row[0])) for row in rows]


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


def expect_latest(conn: Connection, stored: StoredDefinition) -> None:
    """Make the transaction fail at its end unless `stored` is still the latest available.

    Nothing is read back: in a pipelined unit of work the check costs no wait for the
    server. A mismatch raises `DefinitionChangedError` when the unit ends (`store.db`).
    """
    conn.execute(
        queries("definitions")["expect_latest_definition"],
        {
            "workflow_id": stored.workflow_id,
            "expected": f"{stored.version}\x1f{stored.checksum}",
        },
    )


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
