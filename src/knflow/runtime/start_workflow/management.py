"""The management use cases of start-workflow: abort, patch, retrigger, skip, the error of an instance,
and the node-level actions of the Data Index mutations (trigger a state, retrigger or cancel a
node instance).

The engine's `interventions` say what each action does to the execution; here they run in a
unit of work, with the status rules of Kogito's process management resource.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Final

from knflow.engine import interventions
from knflow.engine.execution import Execution
from knflow.engine.outcome import InstanceStatus, Outcome
from knflow.errors import ConflictError, InputError, NotFoundError
from knflow.events import kogito
from knflow.runtime.instances import (
    after_commit,
    process_events,
    publishing,
    subflows,
    transaction,
)
from knflow.runtime.instances import tokens as kept_tokens
from knflow.runtime.instances.advancing import instance_context, load_definition
from knflow.runtime.instances.commit import commit_outcome, queue_state_change
from knflow.runtime.instances.work import UnitOfWork
from knflow.runtime.services import Services
from knflow.store import db, instances
from knflow.store.db import Connection
from knflow.store.instances import InstanceRow
from knflow.workflow.model import Json

ABORTABLE: Final = frozenset(
    {InstanceStatus.ACTIVE, InstanceStatus.ERROR, InstanceStatus.SUSPENDED}
)
UNFINISHED: Final = (InstanceStatus.ERROR, InstanceStatus.ACTIVE)
CANCELLABLE: Final = ABORTABLE | {InstanceStatus.PENDING}
"""Statuses an abort ends: a queued instance leaves the queue without running."""


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
    """Abort an active, queued or failed instance, its timers and its running subflows.

    Raises:
        NotFoundError: no such instance.
        ConflictError: the instance already ended.
    """
    with transaction.unit_of_work(services) as work:
        row = _lock(work.conn, workflow_id, instance_id)
        if row.status not in CANCELLABLE:
            raise ConflictError(
                f"instance '{instance_id}' is {row.status} and cannot be aborted"
            )
        row = _compensate_then_abort(work, row)
    after_commit.carry_out(services, work.after_commit)
    return row


def patch_data(
    services: Services, workflow_id: str, instance_id: str, patch: Json
) -> InstanceRow:
    """Merge `patch` into the data of an active or failed instance (SonataFlow's PATCH).

    Raises:
        NotFoundError: no such instance.
        ConflictError: the instance already ended.
        InputError: the patch is not a JSON object.
    """
    if not isinstance(patch, dict):
        raise InputError("the request body must be a JSON object of data to merge")
    with transaction.unit_of_work(services) as work:
        row = _lock(work.conn, workflow_id, instance_id)
        if row.status not in ABORTABLE:
            raise ConflictError(
                f"instance '{instance_id}' is {row.status} and its data cannot change"
            )
        execution = Execution.from_json(row.execution, workflow_data=row.data)
        data = interventions.patch_data(execution, patch)
        patched = dataclasses.replace(
            row,
            data=data,
            execution=execution.to_json(workflow_data=data),
            updated_at=work.now,
        )
        instances.update(work.conn, patched)
        patched = dataclasses.replace(patched, revision=row.revision + 1)
        _announce_variables(work, patched, {"workflowdata": data})
    publishing.publish(services, work.after_commit.outgoing)
    return patched


def retrigger(
    services: Services,
    workflow_id: str,
    instance_id: str,
    *,
    tokens: Mapping[str, str] | None = None,
) -> InstanceRow:
    """Re-run the failed state of an instance in ERROR; `tokens` are added to the kept ones.

    Raises:
        NotFoundError: no such instance.
        ConflictError: the instance is not in ERROR.
    """
    return _restart(
        services,
        workflow_id,
        instance_id,
        interventions.retrigger,
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
        interventions.skip,
        allowed=(InstanceStatus.ERROR, InstanceStatus.ACTIVE),
        tokens=tokens or {},
    )


def trigger_node(
    services: Services, workflow_id: str, instance_id: str, node_id: str
) -> InstanceRow:
    """Move an active or failed instance to the state `node_id` names (id or name).

    Raises:
        NotFoundError: no such instance, or no such node in its definition.
        ConflictError: the instance already ended.
    """
    return _restart(
        services,
        workflow_id,
        instance_id,
        functools.partial(interventions.trigger_state, node_id=node_id),
        allowed=UNFINISHED,
    )


def retrigger_node(
    services: Services, workflow_id: str, instance_id: str, node_instance_id: str
) -> InstanceRow:
    """Run a running or failed node instance (a state's visit or an action) again.

    Raises:
        NotFoundError: no such instance, or the node instance is not running in it.
        ConflictError: the instance already ended.
    """
    return _restart(
        services,
        workflow_id,
        instance_id,
        functools.partial(
            interventions.retrigger_node, node_instance_id=node_instance_id
        ),
        allowed=UNFINISHED,
    )


def cancel_node(
    services: Services, workflow_id: str, instance_id: str, node_instance_id: str
) -> InstanceRow:
    """Cancel a running node instance of an active instance; nothing runs on from it.

    An instance in ERROR is left to retrigger, skip, trigger or abort: cancelling its failed
    node would leave it with nothing to resolve the error.

    Raises:
        NotFoundError: no such instance, or the node instance is not running in it.
        ConflictError: the instance is not ACTIVE.
    """
    return _restart(
        services,
        workflow_id,
        instance_id,
        functools.partial(interventions.cancel_node, node_instance_id=node_instance_id),
        allowed=(InstanceStatus.ACTIVE,),
    )


def update_data(
    services: Services,
    workflow_id: str,
    instance_id: str,
    *,
    data: Json,
    variables: Mapping[str, Json],
) -> InstanceRow:
    """Replace the workflow data of an unfinished instance and set the given variables.

    SonataFlow's `PUT /{workflowId}/{id}`: the data is replaced whole (a retrigger starts
    from it too), each other top-level key sets that variable, the rest stay. The Data Index
    learns it from variable events; nothing runs.

    Raises:
        NotFoundError: no such instance, or it ended (ended instances are in the Data Index).
    """
    with transaction.unit_of_work(services) as work:
        row = _lock(work.conn, workflow_id, instance_id)
        if row.status not in UNFINISHED:
            raise NotFoundError(
                f"instance '{instance_id}' is {row.status}; ended instances are in the"
                " Data Index"
            )
        execution = Execution.from_json(row.execution, workflow_data=row.data)
        interventions.replace_data(execution, data)
        changed = dataclasses.replace(
            row,
            data=data,
            variables={**(row.variables or {}), **variables},
            execution=execution.to_json(workflow_data=data),
            updated_at=work.now,
        )
        instances.update(work.conn, changed)
        changed = dataclasses.replace(changed, revision=row.revision + 1)
        _announce_variables(work, changed, {"workflowdata": data, **variables})
    after_commit.carry_out(services, work.after_commit)
    return changed


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
    tokens: Mapping[str, str] | None = None,
) -> InstanceRow:
    """Run a management intervention in a unit of work; `tokens` are added to the kept ones."""
    with transaction.unit_of_work(services) as work:
        row = _lock(work.conn, workflow_id, instance_id)
        if row.status not in allowed:
            needed = " or ".join(status.value for status in allowed)
            raise ConflictError(
                f"instance '{instance_id}' is {row.status}; this needs {needed}"
            )
        if tokens is not None:
            kept_tokens.add(work.conn, services.settings, row.id, tokens, now=work.now)
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
        attempt = _next_attempt(row, outcome)
        if attempt is not None:
            active = dataclasses.replace(
                active, variables={**(row.variables or {}), **attempt}
            )
        result = commit_outcome(work, loaded, active, outcome, is_new=False)
        if attempt is not None:
            _announce_variables(work, result, attempt)
    after_commit.carry_out(services, work.after_commit)
    return result


def _next_attempt(row: InstanceRow, outcome: Outcome) -> dict[str, Json] | None:
    """The `attempt` variable after an intervention that re-ran a node; None for others."""
    if not interventions.begins_attempt(outcome):
        return None
    return {interventions.ATTEMPT_VARIABLE: interventions.attempt_of(row.variables) + 1}


def _compensate_then_abort(work: UnitOfWork, row: InstanceRow) -> InstanceRow:
    """Run the compensation of an active instance, then abort it (SonataFlow's abort)."""
    if row.status is not InstanceStatus.ACTIVE:
        return subflows.abort(work, row)
    loaded = load_definition(work, row)
    outcome = interventions.abort(
        loaded.definition,
        loaded.evaluator,
        instance_context(row, work.services),
        Execution.from_json(row.execution, workflow_data=row.data),
        now=work.now,
    )
    if outcome is None:
        return subflows.abort(work, row)
    return commit_outcome(work, loaded, row, outcome, is_new=False)


def _announce_variables(
    work: UnitOfWork, row: InstanceRow, changed: Mapping[str, Json]
) -> None:
    loaded = load_definition(work, row)
    facts = process_events.instance_facts(loaded, row, work.services.settings)
    events = [
        kogito.variable_event(
            facts, name, value, at=work.now, seq=f"{row.revision}.v{number}"
        )
        for number, (name, value) in enumerate(changed.items())
    ]
    work.queue_process_events(row.id, events, state=kogito.state_number(row.status))


def _lock(conn: Connection, workflow_id: str, instance_id: str) -> InstanceRow:
    row = instances.lock(conn, instance_id)
    if row is None or row.workflow_id != workflow_id:
        raise NotFoundError(
            f"instance '{instance_id}' of workflow '{workflow_id}' does not exist"
        )
    return row
