"""The management use cases of start-workflow: abort, retrigger, skip, and the error of an instance."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Final

from knflow.engine import interpreter
from knflow.engine.execution import Execution
from knflow.engine.outcome import Outcome
from knflow.errors import ConflictError, NotFoundError
from knflow.runtime import catalog, driving
from knflow.runtime.catalog import LoadedDefinition
from knflow.runtime.committing import (
    abort_instance,
    commit_outcome,
    emit_state_change,
    instance_context,
)
from knflow.runtime.services import Services
from knflow.store import db, instances
from knflow.store.db import Connection
from knflow.store.instances import InstanceRow, StatusView

FIRST_POLL: Final = 0.02
LONGEST_POLL: Final = 0.25
ABORTABLE: Final = frozenset({"ACTIVE", "ERROR", "SUSPENDED"})

Step = Callable[..., Outcome]


def find_instance(conn: Connection, workflow_id: str, instance_id: str) -> InstanceRow:
    """Return an instance of `workflow_id`.

    Raises:
        NotFoundError: no such instance of that workflow.
    """
    row = instances.get(conn, instance_id)
    if row is None or row.workflow_id != workflow_id:
        raise NotFoundError(
            f"instance '{instance_id}' of workflow '{workflow_id}' does not exist"
        )
    return row


def abort(services: Services, workflow_id: str, instance_id: str) -> InstanceRow:
    """Abort an active or failed instance, its timers and its running subflows.

    Raises:
        NotFoundError: no such instance.
        ConflictError: the instance already ended.
    """
    with db.transaction(services.pool) as conn:
        writer = driving.new_writer(services, conn)
        row = _lock(conn, workflow_id, instance_id)
        if row.status not in ABORTABLE:
            raise ConflictError(
                f"instance '{instance_id}' is {row.status} and cannot be aborted"
            )
        row = abort_instance(writer, row)
    driving.settle(services, writer.aftermath)
    return row


def retrigger(services: Services, workflow_id: str, instance_id: str) -> InstanceRow:
    """Re-run the failed state of an instance in ERROR.

    Raises:
        NotFoundError: no such instance.
        ConflictError: the instance is not in ERROR.
    """
    return _restart(
        services, workflow_id, instance_id, interpreter.retrigger, allowed=("ERROR",)
    )


def skip(services: Services, workflow_id: str, instance_id: str) -> InstanceRow:
    """Leave the current state of a failed or waiting instance through its own exit.

    Raises:
        NotFoundError: no such instance.
        ConflictError: the instance already ended.
    """
    return _restart(
        services,
        workflow_id,
        instance_id,
        interpreter.skip,
        allowed=("ERROR", "ACTIVE"),
    )


def error_of(
    services: Services, workflow_id: str, instance_id: str
) -> dict[str, str | None]:
    """Return `{id, failedNodeId, message}` of an instance in ERROR.

    Raises:
        NotFoundError: no such instance.
        ConflictError: the instance is not in ERROR.
    """
    with db.transaction(services.pool) as conn:
        row = find_instance(conn, workflow_id, instance_id)
    if row.status != "ERROR":
        raise ConflictError(f"instance '{instance_id}' is {row.status}, not in error")
    return {
        "id": row.id,
        "failedNodeId": row.error_node,
        "failedNodeName": row.error_state,
        "message": row.error_message,
    }


def await_settled(
    services: Services, instance_id: str, budget: timedelta
) -> StatusView:
    """Wait until the instance ended or waits for an event or timer, at most `budget`."""
    deadline = time.monotonic() + budget.total_seconds()
    pause = FIRST_POLL
    while True:
        with db.transaction(services.pool) as conn:
            view = instances.status_of(conn, instance_id)
        assert view is not None, "the caller created the instance"
        if view.status != "ACTIVE" or view.waiting or time.monotonic() >= deadline:
            return view
        time.sleep(pause)
        pause = min(
            pause * 2, LONGEST_POLL
        )  # fast answers stay fast; long runs cost few queries


def _restart(
    services: Services,
    workflow_id: str,
    instance_id: str,
    step: Step,
    *,
    allowed: tuple[str, ...],
) -> InstanceRow:
    with db.transaction(services.pool) as conn:
        writer = driving.new_writer(services, conn)
        row = _lock(conn, workflow_id, instance_id)
        if row.status not in allowed:
            raise ConflictError(
                f"instance '{instance_id}' is {row.status}; this needs {' or '.join(allowed)}"
            )
        loaded: LoadedDefinition = catalog.load(
            conn, services.definitions, row.workflow_id, row.workflow_version
        )
        active = dataclasses.replace(
            row, status="ACTIVE", error_state=None, error_node=None, error_message=None
        )
        if row.status == "ERROR":
            emit_state_change(writer, loaded, active, event_type=4)
        outcome = step(
            loaded.definition,
            loaded.evaluator,
            instance_context(row, services),
            Execution.from_json(row.execution),
            now=writer.now,
        )
        result = commit_outcome(writer, loaded, active, outcome, is_new=False)
    driving.settle(services, writer.aftermath)
    return result


def _lock(conn: Connection, workflow_id: str, instance_id: str) -> InstanceRow:
    row = instances.lock(conn, instance_id)
    if row is None or row.workflow_id != workflow_id:
        raise NotFoundError(
            f"instance '{instance_id}' of workflow '{workflow_id}' does not exist"
        )
    return row
