"""Instances that start, end and resume each other: subflows, continuations, aborts.

Each function here carries out one `Consequence` a commit queued on the unit of work, in the
same transaction: a subflow's child is created, a finished child resumes its waiting parent,
a parent's end (or abort) ends the children that cannot outlive it, and `continueAs` starts
the next instance.
"""

from __future__ import annotations

import logging

from knflow.engine.outcome import CallCompleted, Failure, InstanceStatus
from knflow.errors import InputError, NotFoundError
from knflow.runtime.instances import commit, tokens
from knflow.runtime.instances.advancing import advance_locked, load_definition
from knflow.runtime.instances.creating import NewInstance, ParentLink, create_instance
from knflow.runtime.instances.work import (
    ContinueInstance,
    EndChildren,
    ResumeParent,
    StartChild,
    UnitOfWork,
)
from knflow.store import instances
from knflow.store.instances import InstanceRow

logger = logging.getLogger(__name__)

SUBFLOW_FAILURE: str = "SubflowError"
"""The error kind a parent's `onErrors` sees when its subflow failed or could not start."""


def start_child(work: UnitOfWork, asked: StartChild) -> None:
    """Create the subflow a parent asked for (once: a replayed step finds the child it made)."""
    parent, command = asked.parent, asked.command
    if instances.find_child(work.conn, parent.id, command.key) is not None:
        return
    link = ParentLink(
        instance_id=parent.id,
        thread_id=command.thread_id,
        key=command.key,
        waits=command.wait,
        root_instance_id=parent.root_instance_id or parent.id,
        root_workflow_id=parent.root_workflow_id or parent.workflow_id,
        terminate_with_parent=not command.wait and command.terminate_with_parent,
    )
    new = NewInstance(
        workflow_id=command.workflow_id,
        version=command.version,
        data=command.data,
        headers=parent.headers or {},
        tokens_from=parent.id,
        initiator=parent.initiator,
        parent=link,
        scope_variables=command.variables,
    )
    try:
        create_instance(work, new)
    except (
        NotFoundError,
        InputError,
    ) as error:  # raised before the child wrote anything
        logger.warning("subflow refused", extra={"workflow_id": command.workflow_id})
        if command.wait:
            failure = Failure(
                message=f"subflow '{command.workflow_id}' could not start: {error}",
                kind=SUBFLOW_FAILURE,
            )
            _complete_parent_wait(
                work, parent.id, command.thread_id, command.key, failure
            )


def continue_instance(work: UnitOfWork, asked: ContinueInstance) -> None:
    """Start the instance an ended one continues as, with its variables and headers."""
    ended, command = asked.ended, asked.command
    create_instance(
        work,
        NewInstance(
            workflow_id=command.workflow_id,
            version=command.version,
            data=command.data,
            variables=ended.variables or {},
            headers=ended.headers or {},
            tokens_from=ended.id,
            initiator=ended.initiator,
            business_key=ended.business_key,
        ),
    )
    tokens.forget(work.conn, ended.id)


def end_children(work: UnitOfWork, asked: EndChildren) -> None:
    """Abort the subflows that cannot outlive the parent.

    When the parent is aborted, every running child goes; when it ends, the sync children it
    no longer waits for and the async ones with `onParentComplete: terminate`.
    """
    for child_id in instances.open_children(work.conn, asked.parent.id):
        child = instances.lock(work.conn, child_id)
        if child is None:
            continue
        if asked.everyone or child.parent_thread_id or child.terminate_with_parent:
            abort(work, child)


def resume_parent(work: UnitOfWork, asked: ResumeParent) -> None:
    """Hand a finished sync subflow's output (or failure) to its waiting parent thread."""
    child = asked.child
    if (
        not child.parent_instance_id
        or not child.parent_key
        or not child.parent_thread_id
    ):
        return
    failure = None
    if child.status is not InstanceStatus.COMPLETED:
        failure = Failure(
            message=child.error_message
            or f"subflow {child.workflow_id} ended {child.status}",
            kind=SUBFLOW_FAILURE,
        )
    _complete_parent_wait(
        work,
        child.parent_instance_id,
        child.parent_thread_id,
        child.parent_key,
        failure,
        result=child.data,
    )


def abort(work: UnitOfWork, row: InstanceRow) -> InstanceRow:
    """Abort a locked, unfinished instance; its running subflows and waiting parent follow."""
    return commit.abort(work, load_definition(work, row), row)


def _complete_parent_wait(
    work: UnitOfWork,
    parent_id: str,
    thread_id: str,
    key: str,
    failure: Failure | None,
    *,
    result: object = None,
) -> None:
    parent = instances.lock(work.conn, parent_id)
    if parent is None or parent.status is not InstanceStatus.ACTIVE:
        return
    activation = CallCompleted(
        thread_id=thread_id, key=key, result=result, failure=failure
    )
    advance_locked(work, parent, activation)
