"""Committing an engine outcome: the instance row, its events and its follow-up work, in one unit of work.

`commit_outcome` is the only place that turns engine commands into rows: outgoing CloudEvents and
Kogito process events go to the outbox; service calls are either claimed by this process (kept
for after the commit) or handed to step-executor with a step event; timers become job rows. What
the commit means for other instances — a subflow to start, a parent to resume, children to end —
is queued on the unit of work as a `Consequence`, never done here.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

from knflow.engine.execution import ThreadStatus
from knflow.engine.outcome import (
    ENDED,
    CallFunction,
    ContinueAs,
    EmitEvent,
    InstanceStatus,
    KeepChildResult,
    Outcome,
    RequestNotification,
    ScheduleThread,
    ScheduleTimer,
    StartSubflow,
)
from knflow.engine.thread_waits import TimerWait
from knflow.events import hints, kogito, produced, types
from knflow.runtime.catalog import LoadedDefinition
from knflow.runtime.instances import (
    calls,
    claims,
    correlation,
    limits,
    pacing,
    process_events,
    timers,
    tokens,
)
from knflow.runtime.instances.work import (
    ContinueInstance,
    EndChildren,
    ResumeParent,
    StartChild,
    TakeBacklog,
    UnitOfWork,
)
from knflow.store import child_results, instances, jobs, subscriptions
from knflow.store.instances import InstanceRow

logger = logging.getLogger(__name__)


def commit_outcome(
    work: UnitOfWork,
    loaded: LoadedDefinition,
    before: InstanceRow,
    outcome: Outcome,
    *,
    is_new: bool,
) -> InstanceRow:
    """Persist `outcome` for the instance `before` (inserted when `is_new`) and its commands.

    Returns the row as committed (with its new revision); an ignored activation changes
    nothing and returns `before`.
    """
    if outcome.ignored and not is_new:
        return before
    row = _next_row(before, outcome, work.now)
    _claim_and_dispatch(work, loaded, row, outcome)
    row = dataclasses.replace(
        row,
        execution=outcome.execution.to_json(workflow_data=row.data),
        waiting=outcome.execution.is_waiting_externally(),
    )
    inserted = is_new and before.status is not InstanceStatus.PENDING
    if inserted:
        instances.insert(work.conn, row)
    else:  # a queued instance starting is new to the engine, but already stored
        instances.update(work.conn, row, data_changed=outcome.data_changed)
        row = dataclasses.replace(row, revision=row.revision + 1)
    work.after_commit.committed[row.id] = row
    _keep_child_results(work, row, outcome)
    work.queue_process_events(
        row.id,
        process_events.for_commit(
            loaded,
            row,
            outcome,
            settings=work.services.settings,
            now=work.now,
            is_new=is_new,
        ),
        state=kogito.state_number(row.status),
    )
    _record_lifecycle(work, row, was=None if is_new else before.status)
    if row.status in ENDED:
        if inserted:
            _end_fresh(work, loaded, row, outcome)
        else:
            _end(work, loaded, before, row, outcome, is_new=is_new)
        work.consequences.append(ResumeParent(child=row))
        limits.free_slot(work, loaded)
        return row
    wanted = correlation.subscriptions_of(loaded, row)
    if wanted or (not is_new and correlation.waits_for_events(before)):
        subscriptions.replace_for_instance(work.conn, row.id, wanted, now=work.now)
    _carry_out(work, loaded, row, outcome)
    if wanted:
        work.consequences.append(TakeBacklog(instance_id=row.id))
    return row


def abort(work: UnitOfWork, loaded: LoadedDefinition, row: InstanceRow) -> InstanceRow:
    """Abort a locked, unfinished instance; its running subflows and waiting parent follow."""
    aborted = dataclasses.replace(
        row,
        status=InstanceStatus.ABORTED,
        updated_at=work.now,
        ended_at=work.now,
        waiting=False,
    )
    instances.update(work.conn, aborted)
    aborted = dataclasses.replace(aborted, revision=row.revision + 1)
    work.after_commit.committed[aborted.id] = aborted
    _record_lifecycle(work, aborted, was=row.status)
    _leave(work, aborted, subscribed=correlation.waits_for_events(row))
    tokens.forget(work.conn, aborted.id)
    queue_state_change(work, loaded, aborted, event_type=kogito.STATE_ENDED)
    work.consequences.append(EndChildren(parent=aborted, everyone=True))
    work.consequences.append(ResumeParent(child=aborted))
    if row.status is not InstanceStatus.PENDING:
        limits.free_slot(work, loaded)
    return aborted


def queue_state_change(
    work: UnitOfWork, loaded: LoadedDefinition, row: InstanceRow, *, event_type: int
) -> None:
    """Announce a management change (abort, retrigger) to the Data Index."""
    event = process_events.state_change(
        loaded,
        row,
        settings=work.services.settings,
        now=work.now,
        event_type=event_type,
    )
    work.queue_process_events(row.id, [event], state=kogito.state_number(row.status))


def _end(
    work: UnitOfWork,
    loaded: LoadedDefinition,
    before: InstanceRow,
    row: InstanceRow,
    outcome: Outcome,
    *,
    is_new: bool,
) -> None:
    """Clean up after an instance that ended: its waits, timers, tokens and subflows."""
    _leave(work, row, subscribed=not is_new and correlation.waits_for_events(before))
    if _drops_tokens(work, row, outcome):
        tokens.forget(work.conn, row.id)
    _carry_out(work, loaded, row, outcome)
    work.consequences.append(EndChildren(parent=row, everyone=False))


def _end_fresh(
    work: UnitOfWork, loaded: LoadedDefinition, row: InstanceRow, outcome: Outcome
) -> None:
    """Clean up after an instance that ended in the commit that created it.

    It has no timers nor subscriptions yet, sealed tokens only when this unit gave it some,
    and children only the ones this outcome starts (async subflows a parent that ends at
    once must still terminate): the statements `_end` makes are skipped when they would
    find nothing — a pure workflow's start is then its insert and its events.
    """
    if row.id in work.sealed and _drops_tokens(work, row, outcome):
        tokens.forget(work.conn, row.id)
    _carry_out(work, loaded, row, outcome)
    if any(isinstance(command, StartSubflow) for command in outcome.commands):
        work.consequences.append(EndChildren(parent=row, everyone=False))


def _keep_child_results(work: UnitOfWork, row: InstanceRow, outcome: Outcome) -> None:
    """Store the results foreach iterations left apart, with the step that finished them."""
    child_results.keep(
        work.conn,
        row.id,
        [
            child_results.KeptResult(
                family=command.family, index=command.index, leftover=command.leftover
            )
            for command in outcome.commands
            if isinstance(command, KeepChildResult)
        ],
    )


def _drops_tokens(work: UnitOfWork, row: InstanceRow, outcome: Outcome) -> bool:
    """Tell whether an instance that ended drops its sealed tokens now.

    A continuation takes them over first; an instance in ERROR keeps them for a retrigger
    or a rerun (`KNFLOW_RETAIN_FAILED_TOKENS`; the reconcile's retention drops them after).
    """
    if any(isinstance(command, ContinueAs) for command in outcome.commands):
        return False
    kept = work.services.settings.retention.failed_tokens
    return row.status is not InstanceStatus.ERROR or kept == timedelta(0)


def _record_lifecycle(
    work: UnitOfWork, row: InstanceRow, *, was: InstanceStatus | None
) -> None:
    """Count, log and trace an instance that started (`was` None) or ended in this commit."""
    services = work.services
    facts = {"workflow_id": row.workflow_id, "instance_id": row.id}
    if was is None:
        services.metrics.instances_started.labels(row.workflow_id).inc()
        services.tracer.add_event("instance started", **facts)
        logger.info("instance started", extra=facts)
    if row.status not in ENDED or was in ENDED:
        return
    services.metrics.instances_ended.labels(row.workflow_id, row.status.value).inc()
    services.tracer.add_event("instance ended", status=row.status.value, **facts)
    if row.status is InstanceStatus.ERROR:
        logger.warning(
            "instance failed",
            extra={**facts, "state": row.error_state, "reason": row.error_message},
        )
        return
    logger.info("instance ended", extra={**facts, "status": row.status.value})


def _leave(work: UnitOfWork, row: InstanceRow, *, subscribed: bool) -> None:
    """Drop what an ended instance waited for: its subscriptions and pending timers."""
    if subscribed:
        subscriptions.replace_for_instance(work.conn, row.id, [], now=work.now)
    for cancelled in jobs.cancel_for_instance(work.conn, row.id, now=work.now):
        work.announce_job(cancelled)


def _next_row(before: InstanceRow, outcome: Outcome, now: datetime) -> InstanceRow:
    """The row after `outcome`: an active instance carries no error; an ended one its end time."""
    status = outcome.status
    failure = outcome.failure
    keeps_error = status is not InstanceStatus.ACTIVE
    return dataclasses.replace(
        before,
        status=status,
        data=outcome.data if outcome.data is not None else before.data,
        error_state=outcome.failed_state
        if failure
        else (before.error_state if keeps_error else None),
        error_node=outcome.failed_node
        if failure
        else (before.error_node if keeps_error else None),
        error_message=failure.message
        if failure
        else (before.error_message if keeps_error else None),
        updated_at=now,
        ended_at=now
        if status in ENDED and status is not InstanceStatus.ERROR
        else None,
    )


def _claim_and_dispatch(
    work: UnitOfWork, loaded: LoadedDefinition, row: InstanceRow, outcome: Outcome
) -> None:
    """Keep the calls the unit's policy allows in this process; the others go to step-executor."""
    execution = outcome.execution
    for command in outcome.commands:
        if not isinstance(command, CallFunction):
            continue
        if command.asynchronous:
            work.after_commit.calls.append(
                calls.asynchronous(work, row, loaded, command)
            )
            continue
        thread = execution.threads.get(command.thread_id)
        if thread is None or thread.status is not ThreadStatus.BLOCKED:
            continue
        call_wait = claims.call_wait_of(thread)
        if call_wait is None:
            continue
        if not work.claim_call():
            work.queue_event(
                hints.step_event(row.id, thread.id, thread.seq, now=work.now),
                instance_id=row.id,
            )
        elif pacing.claim_in_turn(
            work, row, loaded, thread_id=thread.id, seq=thread.seq, wait=call_wait
        ):
            work.after_commit.calls.append(
                calls.pending(work, row, loaded, thread.id, call_wait)
            )


def _carry_out(
    work: UnitOfWork, loaded: LoadedDefinition, row: InstanceRow, outcome: Outcome
) -> None:
    for command in outcome.commands:
        if isinstance(command, EmitEvent):
            work.queue_event(
                produced.produced_event(
                    command, producer=_producer(loaded, row), now=work.now
                ),
                instance_id=row.id,
            )
        elif isinstance(command, RequestNotification):
            notification = EmitEvent(
                key=command.key,
                type=types.NOTIFICATION_REQUESTED,
                source=None,
                data=command.body,
            )
            work.queue_event(
                produced.produced_event(
                    notification, producer=_producer(loaded, row), now=work.now
                ),
                instance_id=row.id,
            )
        elif isinstance(command, ScheduleThread):
            work.queue_event(
                hints.step_event(row.id, command.thread_id, command.seq, now=work.now),
                instance_id=row.id,
            )
        elif isinstance(command, ScheduleTimer):
            timers.schedule(work, row, command)
            _log_retry(outcome, command)
        elif isinstance(command, StartSubflow):
            work.consequences.append(StartChild(parent=row, command=command))
        elif isinstance(command, ContinueAs):
            work.consequences.append(ContinueInstance(ended=row, command=command))


def _log_retry(outcome: Outcome, command: ScheduleTimer) -> None:
    """Log a retry back-off (a timer of a failed action's `retryRef`) with its reason."""
    thread = outcome.execution.threads.get(command.thread_id)
    wait = None if thread is None else thread.wait
    if not isinstance(wait, TimerWait) or not (wait.phase or "").startswith("retry:"):
        return
    failure = wait.failure or {}
    logger.warning(
        "retry scheduled",
        extra={"due": command.due.isoformat(), "reason": failure.get("kind")},
    )


def _producer(loaded: LoadedDefinition, row: InstanceRow) -> produced.Producer:
    return produced.Producer(
        instance_id=row.id,
        workflow_id=loaded.definition.workflow_id,
        version=loaded.definition.version,
        business_key=row.business_key,
        correlation={
            name: str(value) for name, value in (row.correlation or {}).items()
        },
    )
