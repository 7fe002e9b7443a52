"""A workflow's revisions for operators: list them, and move an instance to another one.

An instance runs on the revision it started on until it ends; moving it (Kogito's "migrate
process instance") is the one way to change that, and only where it waits, is suspended or
failed, so no step is running it meanwhile.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final

from knflow.engine import migration
from knflow.engine.execution import Execution
from knflow.engine.outcome import InstanceStatus
from knflow.errors import ConflictError, NotFoundError
from knflow.events import kogito
from knflow.runtime import catalog
from knflow.runtime.catalog import LoadedDefinition
from knflow.runtime.instances import after_commit, transaction
from knflow.runtime.instances.advancing import load_definition
from knflow.runtime.instances.commit import queue_state_change
from knflow.runtime.instances.work import UnitOfWork
from knflow.runtime.services import Services
from knflow.store import db, instances
from knflow.store import definitions as stored_definitions
from knflow.store.definitions import RevisionSummary
from knflow.store.instances import InstanceRow

MOVABLE: Final = frozenset({InstanceStatus.SUSPENDED, InstanceStatus.ERROR})
"""Statuses an instance can move in; an ACTIVE one only while it waits."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MigrationTarget:
    """Where to move an instance: a revision, a version's current one, or the latest."""

    revision: int | None = None
    """A revision number."""
    version: str | None = None
    """A version: the revision new starts of it get."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """What a migration did."""

    instance_id: str
    """The instance."""
    workflow_id: str
    """Its workflow."""
    from_revision: int | None
    """The revision it ran before (None: started before revisions existed)."""
    revision: int
    """The revision it runs now."""
    version: str
    """The version it shows now (ProcessInstance.version)."""


def list_revisions(services: Services, workflow_id: str) -> list[RevisionSummary]:
    """Return every revision of a workflow, oldest first.

    Raises:
        NotFoundError: the workflow has no revision.
    """
    with db.transaction(services.pool) as conn:
        found = stored_definitions.list_revisions(conn, workflow_id)
    if not found:
        raise NotFoundError(f"workflow '{workflow_id}' is not registered")
    return found


def migrate(
    services: Services, workflow_id: str, instance_id: str, target: MigrationTarget
) -> Migration:
    """Move an instance to another revision of its workflow; a no-op when it runs it already.

    The Data Index learns the new version from a migrated state event.

    Raises:
        NotFoundError: no such instance, revision or version.
        ConflictError: the instance ended or is running a step, or a state it is in does not
            exist in the target (or has another type there).
    """
    with transaction.unit_of_work(services) as work:
        row = _lock_movable(work, workflow_id, instance_id)
        goal = _load_target(work, workflow_id, target)
        revision = goal.stored.revision
        if revision is None:
            raise ConflictError(
                f"workflow '{workflow_id}' version '{goal.stored.version}' has no"
                " revision yet; register it again first"
            )
        if revision != row.definition_revision:
            _check_states(work, row, goal)
            _repin(work, row, goal)
    after_commit.carry_out(services, work.after_commit)
    return Migration(
        instance_id=row.id,
        workflow_id=workflow_id,
        from_revision=row.definition_revision,
        revision=revision,
        version=goal.stored.shown_version,
    )


def _lock_movable(work: UnitOfWork, workflow_id: str, instance_id: str) -> InstanceRow:
    row = instances.lock(work.conn, instance_id)
    if row is None or row.workflow_id != workflow_id:
        raise NotFoundError(
            f"instance '{instance_id}' of workflow '{workflow_id}' does not exist"
        )
    if row.status in MOVABLE or (row.status is InstanceStatus.ACTIVE and row.waiting):
        return row
    if row.status is InstanceStatus.ACTIVE:
        raise ConflictError(
            f"instance '{instance_id}' is running a step; migrate it while it waits"
        )
    raise ConflictError(f"instance '{instance_id}' is {row.status} and cannot move")


def _load_target(
    work: UnitOfWork, workflow_id: str, target: MigrationTarget
) -> LoadedDefinition:
    cache = work.services.definitions
    if target.revision is not None:
        return catalog.load_revision(work.conn, cache, workflow_id, target.revision)
    return catalog.load(work.conn, cache, workflow_id, target.version)


def _check_states(work: UnitOfWork, row: InstanceRow, goal: LoadedDefinition) -> None:
    current = load_definition(work, row)
    execution = Execution.from_json(row.execution, workflow_data=row.data)
    problems = migration.find_migration_problems(
        execution, current.definition, goal.definition
    )
    if problems:
        raise ConflictError(
            f"instance '{row.id}' cannot move to revision {goal.stored.revision} of"
            f" workflow '{row.workflow_id}': {'; '.join(problems)}"
        )


def _repin(work: UnitOfWork, row: InstanceRow, goal: LoadedDefinition) -> None:
    moved = dataclasses.replace(
        row,
        workflow_version=goal.definition.version,
        definition_revision=goal.stored.revision,
        updated_at=work.now,
    )
    moved = dataclasses.replace(moved, revision=instances.repin(work.conn, moved))
    queue_state_change(work, goal, moved, event_type=kogito.STATE_MIGRATED)
