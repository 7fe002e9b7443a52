"""Writing an engine outcome: the instance row, its events and its follow-up work, in one transaction.

`commit_outcome` is the only place that turns engine commands into rows: outgoing CloudEvents and
Kogito process events go to the outbox; service calls are either claimed by this process
(returned as `PendingCall`s to perform after commit) or handed to step-executor with a step
event; subflows become child instances; a finished child resumes its waiting parent in the same
transaction. Everything the caller must do after commit is collected in `Aftermath`.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from knflow.engine import interpreter
from knflow.engine.context import InstanceContext
from knflow.engine.execution import Execution, ThreadStatus
from knflow.engine.outcome import (
    ENDED,
    Activation,
    CallCompleted,
    CallFunction,
    ContinueAs,
    EmitEvent,
    Failure,
    InstanceStatus,
    Outcome,
    RequestNotification,
    ScheduleThread,
    ScheduleTimer,
    StartSubflow,
)
from knflow.errors import InputError, NotFoundError
from knflow.events import codec, types
from knflow.events.codec import Event
from knflow.runtime import (
    catalog,
    claims,
    correlation,
    jobs_api,
    process_events,
    publishing,
    timers,
)
from knflow.runtime.catalog import LoadedDefinition
from knflow.runtime.services import Services
from knflow.store import instances, jobs, subscriptions
from knflow.store.db import Connection
from knflow.store.instances import InstanceRow
from knflow.store.jobs import JobRow
from knflow.store.subscriptions import Subscription
from knflow.workflow.model import Json

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingCall:
    """A service call claimed by this process, to perform after commit."""

    instance_id: str
    thread_id: str
    key: str
    function_name: str
    arguments: Json
    loaded: LoadedDefinition
    headers: Mapping[str, str]
    asynchronous: bool = False
    timeout: timedelta | None = None


@dataclass(slots=True)
class Aftermath:
    """What the caller does after commit: publish rows, perform calls."""

    outbox_ids: list[int] = field(default_factory=list)
    calls: list[PendingCall] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class Writer:
    """Commits outcomes within one transaction; `local_claims` bounds calls kept in-process."""

    services: Services
    conn: Connection
    now: datetime
    aftermath: Aftermath = field(default_factory=Aftermath)
    local_claims: int = 1

    def enqueue(self, event: Event, instance_id: str | None) -> None:
        """Queue an event in this transaction."""
        row_id = publishing.enqueue(
            self.conn, event, instance_id=instance_id, now=self.now
        )
        if row_id is not None:
            self.aftermath.outbox_ids.append(row_id)

    def announce(self, job: JobRow) -> None:
        """Queue the JobEvent of a job whose status changed in this transaction."""
        row_id = jobs_api.announce(self.conn, job, now=self.now)
        if row_id is not None:
            self.aftermath.outbox_ids.append(row_id)


def instance_context(row: InstanceRow, services: Services) -> InstanceContext:
    """Return what expressions of `row` see about their instance."""
    return InstanceContext(
        instance_id=row.id, headers=row.headers or {}, secrets=services.settings.secrets
    )


def commit_outcome(
    writer: Writer,
    loaded: LoadedDefinition,
    before: InstanceRow,
    outcome: Outcome,
    *,
    is_new: bool,
) -> InstanceRow:
    """Persist `outcome` for the instance `before` (inserted when `is_new`) and its consequences."""
    row = _next_row(before, outcome, writer.now)
    if outcome.ignored and not is_new:
        return before
    _claim_and_dispatch(writer, loaded, row, outcome)
    row = dataclasses.replace(
        row,
        execution=outcome.execution.to_json(),
        waiting=outcome.execution.is_waiting_externally(),
    )
    if is_new:
        instances.insert(writer.conn, row)
    else:
        instances.update(writer.conn, row)
        row = dataclasses.replace(row, revision=row.revision + 1)
    _emit_kogito_events(writer, loaded, row, outcome, is_new=is_new)
    writer.aftermath.touched.append(row.id)
    if row.status in ENDED:
        subscriptions.replace_for_instance(writer.conn, row.id, [], now=writer.now)
        for cancelled in jobs.cancel_for_instance(writer.conn, row.id, now=writer.now):
            writer.announce(cancelled)
        _carry_out(writer, loaded, row, outcome)
        _end_children(writer, row, everyone=False)
        _resume_parent(writer, row)
        return row
    # Subscriptions first: carrying out commands may finish a subflow, which advances this
    # instance again (a nested commit) and rewrites them.
    wanted = correlation.subscriptions_of(loaded, row)
    subscriptions.replace_for_instance(writer.conn, row.id, wanted, now=writer.now)
    _carry_out(writer, loaded, row, outcome)
    if wanted:
        _take_backlog(writer, row.id)
    return row


def _take_backlog(writer: Writer, instance_id: str) -> None:
    """Hand an instance that just began waiting an event that arrived before it did."""
    row = instances.lock(writer.conn, instance_id)
    if row is None or row.status != InstanceStatus.ACTIVE:
        return
    loaded = catalog.load(
        writer.conn, writer.services.definitions, row.workflow_id, row.workflow_version
    )
    wanted = correlation.subscriptions_of(loaded, row)
    if not wanted:
        return
    since = writer.now - correlation.BACKLOG_RETENTION
    types_wanted = sorted({s.event_type for s in wanted})
    for kept in subscriptions.unconsumed(writer.conn, types_wanted, since=since):
        event = codec.from_dict(kept.event)
        for subscription in wanted:
            if correlation.matches(subscription, event):
                subscriptions.mark_consumed(
                    writer.conn, kept.id, consumed_by=row.id, now=writer.now
                )
                deliver(writer, loaded, row, subscription, event)
                return


def deliver(
    writer: Writer,
    loaded: LoadedDefinition,
    row: InstanceRow,
    subscription: Subscription,
    event: Event,
) -> InstanceRow:
    """Complete the subscribed wait of a locked instance with `event`; return the new row."""
    activation = CallCompleted(
        thread_id=subscription.thread_id,
        key=subscription.wait_key,
        result=correlation.arrival(subscription, loaded, event),
    )
    return advance_locked(writer, row, activation, loaded=loaded)


def advance_locked(
    writer: Writer,
    row: InstanceRow,
    activation: Activation,
    *,
    loaded: LoadedDefinition | None = None,
) -> InstanceRow:
    """Advance an instance whose row this transaction has locked, and commit the outcome."""
    if loaded is None:
        loaded = catalog.load(
            writer.conn,
            writer.services.definitions,
            row.workflow_id,
            row.workflow_version,
        )
    outcome = interpreter.advance(
        loaded.definition,
        loaded.evaluator,
        instance_context(row, writer.services),
        Execution.from_json(row.execution),
        activation,
        now=writer.now,
    )
    return commit_outcome(writer, loaded, row, outcome, is_new=False)


def _next_row(before: InstanceRow, outcome: Outcome, now: datetime) -> InstanceRow:
    ended = outcome.status in ENDED
    failure = outcome.failure
    return dataclasses.replace(
        before,
        status=outcome.status.value,
        data=outcome.data if outcome.data is not None else before.data,
        error_state=outcome.failed_state
        if failure
        else (None if outcome.status == InstanceStatus.ACTIVE else before.error_state),
        error_node=outcome.failed_node
        if failure
        else (None if outcome.status == InstanceStatus.ACTIVE else before.error_node),
        error_message=failure.message
        if failure
        else (
            None if outcome.status == InstanceStatus.ACTIVE else before.error_message
        ),
        updated_at=now,
        ended_at=now if ended and outcome.status != InstanceStatus.ERROR else None,
    )


def _claim_and_dispatch(
    writer: Writer, loaded: LoadedDefinition, row: InstanceRow, outcome: Outcome
) -> None:
    """Keep up to `local_claims` calls in this process; the others go to step-executor."""
    execution = outcome.execution
    for command in outcome.commands:
        if isinstance(command, CallFunction) and command.asynchronous:
            writer.aftermath.calls.append(
                _pending(row, loaded, command, asynchronous=True)
            )
            continue
        if not isinstance(command, CallFunction):
            continue
        thread = execution.threads.get(command.thread_id)
        if thread is None or thread.status is not ThreadStatus.BLOCKED:
            continue
        if writer.local_claims > 0:
            writer.local_claims -= 1
            assert thread.wait is not None
            thread.wait["claimed_until"] = (
                claims.claim_deadline(writer.services, command.timeout, writer.now)
            ).isoformat()
            writer.aftermath.calls.append(_pending(row, loaded, command))
        else:
            writer.enqueue(
                claims.step_event(row.id, thread.id, thread.seq, now=writer.now), row.id
            )


def _pending(
    row: InstanceRow,
    loaded: LoadedDefinition,
    command: CallFunction,
    *,
    asynchronous: bool = False,
) -> PendingCall:
    return pending_call(
        row,
        loaded,
        command.thread_id,
        command.key,
        command.function_name,
        command.arguments,
        asynchronous=asynchronous,
        timeout=command.timeout,
    )


def pending_call(
    row: InstanceRow,
    loaded: LoadedDefinition,
    thread_id: str,
    key: str,
    function_name: str,
    arguments: Json,
    *,
    asynchronous: bool = False,
    timeout: timedelta | None = None,
) -> PendingCall:
    """Describe a call this process performs; `X-Authorization-*` start headers go along."""
    forwarded = {
        k: v
        for k, v in (row.headers or {}).items()
        if k.lower().startswith("x-authorization-")
    }
    return PendingCall(
        instance_id=row.id,
        thread_id=thread_id,
        key=key,
        function_name=function_name,
        arguments=arguments,
        loaded=loaded,
        headers=forwarded,
        asynchronous=asynchronous,
        timeout=timeout,
    )


def _carry_out(
    writer: Writer, loaded: LoadedDefinition, row: InstanceRow, outcome: Outcome
) -> None:
    for command in outcome.commands:
        if isinstance(command, EmitEvent):
            writer.enqueue(_produced_event(loaded, row, command, writer.now), row.id)
        elif isinstance(command, RequestNotification):
            notification = EmitEvent(
                key=command.key,
                type=types.NOTIFICATION_REQUESTED,
                source=None,
                data=command.body,
            )
            writer.enqueue(
                _produced_event(loaded, row, notification, writer.now), row.id
            )
        elif isinstance(command, ScheduleThread):
            writer.enqueue(
                claims.step_event(
                    row.id, command.thread_id, command.seq, now=writer.now
                ),
                row.id,
            )
        elif isinstance(command, ScheduleTimer):
            _schedule_timer(writer, row, command)
        elif isinstance(command, StartSubflow):
            _start_child(writer, row, command)
        elif isinstance(command, ContinueAs):
            _continue_as(writer, row, command)


def _schedule_timer(writer: Writer, row: InstanceRow, command: ScheduleTimer) -> None:
    job = timers.schedule(
        writer.conn,
        instance_id=row.id,
        workflow_id=row.workflow_id,
        thread_id=command.thread_id,
        key=command.key,
        due=command.due,
        now=writer.now,
        deadline=command.deadline,
        node=command.node,
    )
    writer.announce(job)
    writer.enqueue(
        jobs_api.wake_event(job.id, command.due, instance_id=row.id, now=writer.now),
        row.id,
    )


def _produced_event(
    loaded: LoadedDefinition, row: InstanceRow, command: EmitEvent, now: datetime
) -> Event:
    definition = loaded.definition
    extensions = {
        "kogitoprocinstanceid": row.id,
        "kogitoprocid": definition.workflow_id,
        "kogitoprocversion": definition.version,
        "kogitoproctype": "SW",
        "partitionkey": row.id,
        **({"kogitobusinesskey": row.business_key} if row.business_key else {}),
        **{name: str(value) for name, value in (row.correlation or {}).items()},
        **{k.lower(): v for k, v in command.extensions.items()},
    }
    return Event(
        id=str(uuid.uuid5(claims.EVENT_NAMESPACE, f"{row.id}/{command.key}/produced")),
        source=command.source or f"/knflow/{definition.workflow_id}",
        type=command.type,
        data=command.data,
        time=now,
        extensions=extensions,
    )


def _start_child(writer: Writer, parent: InstanceRow, command: StartSubflow) -> None:
    from knflow.runtime import starting  # starting builds on this module

    if instances.find_child(writer.conn, parent.id, command.key) is not None:
        return
    link = starting.ParentLink(
        instance_id=parent.id,
        thread_id=command.thread_id,
        key=command.key,
        waits=command.wait,
        root_instance_id=parent.root_instance_id or parent.id,
        root_workflow_id=parent.root_workflow_id or parent.workflow_id,
        terminate_with_parent=not command.wait and command.terminate_with_parent,
    )
    try:
        starting.start_in_transaction(
            writer,
            workflow_id=command.workflow_id,
            version=command.version,
            data=command.data,
            variables={},
            headers=parent.headers or {},
            business_key=None,
            parent=link,
        )
    except (
        NotFoundError,
        InputError,
    ) as error:  # raised before the child wrote anything
        logger.warning("subflow refused", extra={"workflow_id": command.workflow_id})
        if command.wait:
            _fail_waiting_parent(writer, parent.id, command, str(error))


def _fail_waiting_parent(
    writer: Writer, parent_id: str, command: StartSubflow, reason: str
) -> None:
    parent = instances.lock(writer.conn, parent_id)
    if parent is None or parent.status != InstanceStatus.ACTIVE:
        return
    failure = Failure(
        message=f"subflow '{command.workflow_id}' could not start: {reason}",
        kind="SubflowError",
    )
    advance_locked(
        writer,
        parent,
        CallCompleted(thread_id=command.thread_id, key=command.key, failure=failure),
    )


def _continue_as(writer: Writer, row: InstanceRow, command: ContinueAs) -> None:
    from knflow.runtime import starting  # starting builds on this module

    starting.start_in_transaction(
        writer,
        workflow_id=command.workflow_id,
        version=command.version,
        data=command.data,
        variables=row.variables or {},
        headers=row.headers or {},
        business_key=row.business_key,
        parent=None,
    )


def abort_instance(writer: Writer, row: InstanceRow) -> InstanceRow:
    """Abort a locked, unfinished instance and its running subflows; resume a waiting parent."""
    aborted = dataclasses.replace(
        row, status="ABORTED", updated_at=writer.now, ended_at=writer.now, waiting=False
    )
    instances.update(writer.conn, aborted)
    aborted = dataclasses.replace(aborted, revision=row.revision + 1)
    for cancelled in jobs.cancel_for_instance(writer.conn, row.id, now=writer.now):
        writer.announce(cancelled)
    subscriptions.replace_for_instance(writer.conn, row.id, [], now=writer.now)
    loaded = catalog.load(
        writer.conn, writer.services.definitions, row.workflow_id, row.workflow_version
    )
    emit_state_change(writer, loaded, aborted, event_type=2)
    _end_children(writer, aborted, everyone=True)
    _resume_parent(writer, aborted)
    return aborted


def _end_children(writer: Writer, parent: InstanceRow, *, everyone: bool) -> None:
    """Abort the subflows that cannot outlive `parent`.

    When the parent is aborted, every running child goes; when it ends, the sync children it
    no longer waits for and the async ones with `onParentComplete: terminate`.
    """
    for child_id in instances.open_children(writer.conn, parent.id):
        child = instances.lock(writer.conn, child_id)
        if child is None:
            continue
        if everyone or child.parent_thread_id or child.terminate_with_parent:
            abort_instance(writer, child)


def _resume_parent(writer: Writer, child: InstanceRow) -> None:
    """A finished sync subflow hands its output (or failure) to the waiting parent thread."""
    if (
        not child.parent_instance_id
        or not child.parent_key
        or not child.parent_thread_id
    ):
        return
    parent = instances.lock(writer.conn, child.parent_instance_id)
    if parent is None or parent.status != InstanceStatus.ACTIVE:
        return
    failure = None
    if child.status != InstanceStatus.COMPLETED:
        failure = Failure(
            message=child.error_message
            or f"subflow {child.workflow_id} ended {child.status}",
            kind="SubflowError",
        )
    activation = CallCompleted(
        thread_id=child.parent_thread_id,
        key=child.parent_key,
        result=child.data,
        failure=failure,
    )
    advance_locked(writer, parent, activation)


def _emit_kogito_events(
    writer: Writer,
    loaded: LoadedDefinition,
    row: InstanceRow,
    outcome: Outcome,
    *,
    is_new: bool,
) -> None:
    settings = writer.services.settings
    for event in process_events.for_commit(
        loaded, row, outcome, settings=settings, now=writer.now, is_new=is_new
    ):
        writer.enqueue(event, row.id)


def emit_state_change(
    writer: Writer, loaded: LoadedDefinition, row: InstanceRow, *, event_type: int
) -> None:
    """Announce a management change (abort, retrigger) to the Data Index."""
    event = process_events.state_change(
        loaded,
        row,
        settings=writer.services.settings,
        now=writer.now,
        event_type=event_type,
    )
    writer.enqueue(event, row.id)
