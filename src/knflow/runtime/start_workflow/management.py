"""The management use cases of start-workflow: abort, retrigger, skip, and the error of an instance."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Final

from knflow.engine import interpreter
from knflow.engine.execution import Execution
from knflow.engine.outcome import InstanceStatus, Outcome
from knflow.errors import ConflictError, NotFoundError
from knflow.events import kogito
from knflow.runtime.instances import after_commit, subflows, transaction
from knflow.runtime.instances import tokens as kept_tokens
from knflow.runtime.instances.advancing import instance_context, load_definition
from knflow.runtime.instances.commit import commit_outcome, queue_state_change
from knflow.runtime.services import Services
from knflow.store import db, instances
from knflow.store.db import Connection
from knflow.store.instances import InstanceRow

ABORTABLE: Final = frozenset(
    {InstanceStatus.ACTIVE, InstanceStatus.ERROR, InstanceStatus.SUSPENDED}
)


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
    with transaction.unit_of_work(services) as work:
        row = _lock(work.conn, workflow_id, instance_id)
        if row.status not in ABORTABLE:
            raise ConflictError(
                f"instance '{instance_id}' is {row.status} and cannot be aborted"
            )
        row = subflows.abort(work, row)
    after_commit.carry_out(services, work.after_commit)
    return row


def retrigger(
    services: Services,
    workflow_id: str,
    instance_id: str,
    *,
    tokens: Mapping[str, str] | None = None,
) -> InstanceRow:
    """Re-run the failed state of an instance in ERROR; `tokens` replace the kept ones.

    Raises:
        NotFoundError: no such instance.
        ConflictError: the instance is not in ERROR.
    """
    return _restart(
        services,
        workflow_id,
        instance_id,
        interpreter.retrigger,
        allowed=(InstanceStatus.ERROR,),
        tokens=tokens or {},
    )


def skip(
    services: Services,
    workflow_id: str,
    instance_id: str,
    *,
    tokens: Mapping[str, str] | None = None,
) -> InstanceRow:
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
        allowed=(InstanceStatus.ERROR, InstanceStatus.ACTIVE),
        tokens=tokens or {},
    )


def error_of(
    services: Services, workflow_id: str, instance_id: str
) -> dict[str, str | None]:
    """Return `{id, failedNodeId, failedNodeName, message}` of an instance in ERROR.

    Raises:
        NotFoundError: no such instance.
        ConflictError: the instance is not in ERROR.
    """
    with db.transaction(services.pool) as conn:
        row = find_instance(conn, workflow_id, instance_id)
    if row.status is not InstanceStatus.ERROR:
        raise ConflictError(f"instance '{instance_id}' is {row.status}, not in error")
    return {
        "id": row.id,
        "failedNodeId": row.error_node,
        "failedNodeName": row.error_state,
        "message": row.error_message,
    }


def _restart(
    services: Services,
    workflow_id: str,
    instance_id: str,
    restart: Callable[..., Outcome],
    *,
    allowed: tuple[InstanceStatus, ...],
    tokens: Mapping[str, str],
) -> InstanceRow:
    with transaction.unit_of_work(services) as work:
        row = _lock(work.conn, workflow_id, instance_id)
        if row.status not in allowed:
            needed = " or ".join(status.value for status in allowed)
            raise ConflictError(
                f"instance '{instance_id}' is {row.status}; this needs {needed}"
            )
        kept_tokens.keep(work.conn, services.settings, row.id, tokens, now=work.now)
        loaded = load_definition(work, row)
        active = dataclasses.replace(
            row,
            status=InstanceStatus.ACTIVE,
            error_state=None,
            error_node=None,
            error_message=None,
        )
        if row.status is InstanceStatus.ERROR:
            queue_state_change(
                work, loaded, active, event_type=kogito.STATE_RETRIGGERED
            )
        outcome = restart(
            loaded.definition,
            loaded.evaluator,
            instance_context(row, services),
            Execution.from_json(row.execution, workflow_data=row.data),
            now=work.now,
        )
        result = commit_outcome(work, loaded, active, outcome, is_new=False)
    after_commit.carry_out(services, work.after_commit)
    return result


def _lock(conn: Connection, workflow_id: str, instance_id: str) -> InstanceRow:
    row = instances.lock(conn, instance_id)
    if row is None or row.workflow_id != workflow_id:
        raise NotFoundError(
            f"instance '{instance_id}' of workflow '{workflow_id}' does not exist"
        )
    return row
