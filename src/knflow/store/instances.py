"""Instance rows: status, data, variables and the engine's execution, versioned by `revision`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final

from psycopg.rows import RowFactory, kwargs_row
from psycopg.types.json import Jsonb

from knflow.engine.outcome import InstanceStatus
from knflow.errors import ConflictError
from knflow.store.db import Connection, Pool
from knflow.store.sql import queries
from knflow.workflow.model import Json

LOCK_CLASS_BULK_RETRIGGER: Final = 7_340_610
"""Advisory lock class of bulk retriggers (the Data Index's classes are 7_340_60x)."""
_JSON_COLUMNS: Final = (
    "data",
    "variables",
    "execution",
    "headers",
    "correlation",
    "input",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceRow:
    """One instance as stored."""

    id: str
    """Instance id (a UUID string)."""
    workflow_id: str
    """Its workflow."""
    workflow_version: str
    """The pinned definition version."""
    status: InstanceStatus
    """Where the instance stands."""
    revision: int
    """Bumped by every update."""
    data: Json
    """The workflow data."""
    variables: Json
    """Extra top-level variables from the start request (`initiatorEntity`, ...)."""
    execution: Json
    """The engine's execution (threads, waits)."""
    waiting: bool
    """Every open thread waits for an event or a timer."""
    headers: Json
    """Headers kept from the start request (`$WORKFLOW.headers`); never the forwarded tokens."""
    business_key: str | None
    """Business key, when given."""
    parent_instance_id: str | None
    """Parent instance for subflows."""
    parent_thread_id: str | None
    """The parent thread waiting for this child."""
    parent_key: str | None
    """The parent's wait key (also makes child creation idempotent)."""
    root_instance_id: str | None
    """Root of the subflow tree."""
    root_workflow_id: str | None
    """Workflow of the root."""
    error_state: str | None
    """Failed state name, in ERROR."""
    error_node: str | None
    """Failed node instance id, in ERROR."""
    error_message: str | None
    """Failure message, in ERROR."""
    started_at: datetime
    """Start time."""
    updated_at: datetime
    """Last change."""
    ended_at: datetime | None
    """End time, once ended."""
    correlation: Json = None
    """Correlation attribute values fixed by the start event (`{name: value}`)."""
    terminate_with_parent: bool = False
    """An async subflow with `onParentComplete: terminate`: it ends with its parent."""
    input: Json = None
    """The input it started with (`$WORKFLOW.input`); written once, never updated."""
    initiator: str | None = None
    """`sub` of the token that started the instance, when one did."""
    definition_revision: int | None = None
    """The definition revision it runs; None when a release before revisions started it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusView:
    """The little a poller needs to know."""

    status: InstanceStatus
    """Instance status."""
    waiting: bool
    """Waiting for an event or timer."""
    data: Json
    """Current data."""
    error_state: str | None
    """Failed state."""
    error_message: str | None
    """Failure message."""


def insert(conn: Connection, row: InstanceRow) -> None:
    """Insert a new instance; an id (or parent key) that exists fails the transaction.

    Nothing is read back, so in a pipelined unit of work the insert costs no wait for the
    server: a start that ends in its first commit, on a definition this process knows
    (`catalog.DefinitionRead`), waits for the server once, at COMMIT.
    """
    conn.execute(queries("instances")["insert_instance"], _params(row))


def lock(conn: Connection, instance_id: str) -> InstanceRow | None:
    """Return the instance with its row locked until the transaction ends."""
    with conn.cursor(row_factory=_INSTANCE_ROWS) as cursor:
        return cursor.execute(
            queries("instances")["lock_instance"], {"id": instance_id}
        ).fetchone()


def lock_at(conn: Connection, row: InstanceRow) -> None:
    """Lock the instance of `row`, expecting it still at `row.revision`.

    The answer is never read: on a mismatch (or a row gone) the server aborts the
    transaction, so a pipelined unit of work goes on without waiting for the lock.

    Raises:
        ConflictError: the row changed since `row` was committed; raised by this
            statement, or in a pipelined transaction when it ends (nothing committed).
    """
    conn.execute(
        queries("instances")["lock_instance_at"],
        {"id": row.id, "revision": row.revision},
    )


def get(conn: Connection, instance_id: str) -> InstanceRow | None:
    """Return the instance without locking it."""
    with conn.cursor(row_factory=_INSTANCE_ROWS) as cursor:
        return cursor.execute(
            queries("instances")["get_instance"], {"id": instance_id}
        ).fetchone()


def page(conn: Connection, *, after: str, limit: int) -> list[InstanceRow]:
    """Return up to `limit` instances whose id sorts after `after`, in id order."""
    with conn.cursor(row_factory=_INSTANCE_ROWS) as cursor:
        return cursor.execute(
            queries("instances")["page_instances"], {"after": after, "limit": limit}
        ).fetchall()


def renew_call_claim(
    conn: Connection,
    instance_id: str,
    *,
    thread_id: str,
    key: str,
    held_until: datetime,
    claimed_until: datetime,
) -> bool:
    """Move a call's claim from `held_until` to `claimed_until`; False when it was lost.

    Lost means the call completed, the instance ended, or another executor claimed it.
    """
    found = conn.execute(
        queries("instances")["renew_call_claim"],
        {
            "id": instance_id,
            "thread_id": thread_id,
            "key": key,
            "held_until": held_until.isoformat(),
            "claimed_until": claimed_until.isoformat(),
        },
    ).fetchone()
    return found is not None


def update(conn: Connection, row: InstanceRow, *, data_changed: bool = True) -> int:
    """Write the mutable fields of `row`, whose `revision` is the one read; return the new revision.

    With `data_changed` False the stored workflow data is kept as it is: most steps of a
    long foreach leave a large data value unchanged, and rewriting it costs every step.
    The answer is never read: the server checks the revision and aborts the transaction on
    a mismatch, so a pipelined unit of work sends its COMMIT without waiting for it here.

    Raises:
        ConflictError: the row changed since it was read; raised by this statement, or in
            a pipelined transaction when it ends (then nothing of it is committed).
    """
    params = _params(row)
    if not data_changed:
        params["data"] = None
    conn.execute(queries("instances")["update_instance"], params)
    return row.revision + 1


def repin(conn: Connection, row: InstanceRow) -> int:
    """Point the instance at `row`'s version and revision; return the new row revision.

    Raises:
        ConflictError: the row changed since it was read.
    """
    found = conn.execute(
        queries("instances")["repin_instance"],
        {
            "id": row.id,
            "workflow_version": row.workflow_version,
            "definition_revision": row.definition_revision,
            "revision": row.revision,
            "updated_at": row.updated_at,
        },
    ).fetchone()
    if found is None:
        raise ConflictError(
            f"instance '{row.id}' changed concurrently (revision {row.revision})"
        )
    return int(str(found[0]))


def list_active(conn: Connection, workflow_id: str) -> list[tuple[str, Json]]:
    """Return `(id, data)` of the active instances of a workflow, oldest first."""
    rows = conn.execute(
        queries("instances")["list_active_instances"], {"workflow_id": workflow_id}
    )
    return [(str(r[0]), r[1]) for r in rows.fetchall()]


@dataclass(frozen=True, slots=True, kw_only=True)
class FailedPage:
    """A page of failed instances of a workflow."""

    ids: list[str]
    """Instance ids, oldest failure first."""
    matching: int
    """How many instances match in all (the page included)."""


def list_failed(
    conn: Connection,
    workflow_id: str,
    *,
    failed_after: datetime,
    failed_before: datetime,
    limit: int,
) -> FailedPage:
    """Return the top-level ERROR instances of a workflow whose failure falls in the range.

    The failure time is the instance's last change: nothing but an intervention changes an
    instance in ERROR.
    """
    rows = conn.execute(
        queries("instances")["list_failed"],
        {
            "workflow_id": workflow_id,
            "failed_after": failed_after,
            "failed_before": failed_before,
            "limit": limit,
        },
    ).fetchall()
    return FailedPage(
        ids=[str(r[0]) for r in rows], matching=int(str(rows[0][1])) if rows else 0
    )


@contextmanager
def bulk_retrigger_turn(pool: Pool, workflow_id: str) -> Iterator[bool]:
    """Hold the bulk retrigger lock of a workflow while the block runs; yield whether it was free.

    The lock lives on a pooled connection of its own for the whole block, and dies with
    that connection if the process does.
    """
    params = {"class": LOCK_CLASS_BULK_RETRIGGER, "workflow_id": workflow_id}
    with pool.connection() as conn:
        found = conn.execute(
            queries("instances")["try_lock_bulk_retrigger"], params
        ).fetchone()
        free = bool(found and found[0])
        try:
            yield free
        finally:
            if free:
                conn.execute(queries("instances")["unlock_bulk_retrigger"], params)


def find_child(
    conn: Connection, parent_instance_id: str, parent_key: str
) -> str | None:
    """Return the id of the child a parent started for `parent_key`, if any."""
    found = conn.execute(
        queries("instances")["find_child"],
        {"parent_instance_id": parent_instance_id, "parent_key": parent_key},
    ).fetchone()
    return None if found is None else str(found[0])


def open_children(conn: Connection, parent_instance_id: str) -> list[str]:
    """Return the ids of a parent's children that have not ended."""
    rows = conn.execute(
        queries("instances")["open_children"],
        {"parent_instance_id": parent_instance_id},
    )
    return [str(r[0]) for r in rows.fetchall()]


def status_of(conn: Connection, instance_id: str) -> StatusView | None:
    """Return the status, waiting flag and data of an instance."""
    with conn.cursor(row_factory=_STATUS_VIEWS) as cursor:
        return cursor.execute(
            queries("instances")["status_of"], {"id": instance_id}
        ).fetchone()


def _params(row: InstanceRow) -> dict[str, Any]:
    """Return the row's columns as parameters, sharing its values (no deep copy of the data)."""
    params = {field.name: getattr(row, field.name) for field in fields(row)}
    params["status"] = row.status.value
    params["correlation"] = params["correlation"] or {}
    for column in _JSON_COLUMNS:
        params[column] = Jsonb(params[column])
    return params


def _instance_from_columns(**columns: Any) -> InstanceRow:
    return InstanceRow(**{**columns, "status": InstanceStatus(columns["status"])})


def _status_from_columns(**columns: Any) -> StatusView:
    return StatusView(**{**columns, "status": InstanceStatus(columns["status"])})


_INSTANCE_ROWS: Final[RowFactory[InstanceRow]] = kwargs_row(_instance_from_columns)
_STATUS_VIEWS: Final[RowFactory[StatusView]] = kwargs_row(_status_from_columns)
