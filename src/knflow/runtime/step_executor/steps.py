"""Continuing one thread of one instance for each `knflow.step.ready` event.

Stale or duplicate step events (the thread moved on, or its call is claimed by another
executor) are acknowledged and ignored.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Final

from knflow import logs
from knflow.engine import children
from knflow.engine.execution import Execution, ThreadStatus
from knflow.engine.outcome import InstanceStatus, RunThread
from knflow.errors import InputError
from knflow.events.codec import Event
from knflow.runtime.instances import (
    after_commit,
    calls,
    claims,
    pacing,
    transaction,
)
from knflow.runtime.instances.advancing import advance_locked, load_definition
from knflow.runtime.instances.work import AfterCommit, UnitOfWork
from knflow.runtime.services import Services
from knflow.store import child_results, instances
from knflow.workflow.model import Json

logger = logging.getLogger(__name__)

MAX_SEQ: Final = 2**63
"""Sequence numbers are PostgreSQL bigints."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRequest:
    """What a step event asks: run (or claim the call of) one thread at one sequence number."""

    instance_id: str
    """The instance."""
    thread_id: str
    """The thread."""
    seq: int
    """The thread's sequence number when the event was sent; another value means stale."""


def run_step(services: Services, event: Event) -> None:
    """Handle one step event, then carry out what it left for after the commit.

    Raises:
        InputError: the event data does not name an instance, thread and sequence number.
    """
    step = parse_step(event.data)
    if event.time is not None:
        delay = (services.clock() - event.time).total_seconds()
        services.metrics.step_event_delay.observe(max(delay, 0.0))
    with logs.context(instance_id=step.instance_id, step=step.thread_id):
        after_commit.carry_out(services, take_step(services, step))


def take_step(services: Services, step: StepRequest) -> AfterCommit:
    """Run a runnable thread, or claim the call a blocked thread waits for."""
    with transaction.unit_of_work(services) as work:
        row = instances.lock(work.conn, step.instance_id)
        if row is None or row.status is not InstanceStatus.ACTIVE:
            return work.after_commit
        execution = Execution.from_json(row.execution, workflow_data=row.data)
        thread = execution.threads.get(step.thread_id)
        if thread is None or thread.seq != step.seq:
            logger.debug("stale step event ignored")
            return work.after_commit
        loaded = load_definition(work, row)
        if thread.status is ThreadStatus.RUNNABLE:
            activation = RunThread(
                thread_id=thread.id,
                kept_results=_kept_results(work, row.id, execution, thread.id),
            )
            advance_locked(work, row, activation, loaded=loaded)
            return work.after_commit
        call = claims.claimable_call(execution, thread.id, work.now)
        if call is None:
            logger.debug("step event for a claimed or waiting thread ignored")
            return work.after_commit
        in_turn = pacing.claim_in_turn(
            work, row, loaded, thread_id=thread.id, seq=thread.seq, wait=call
        )
        instances.update(
            work.conn,
            dataclasses.replace(
                row,
                execution=execution.to_json(workflow_data=row.data),
                updated_at=work.now,
            ),
        )
        if in_turn:
            work.after_commit.calls.append(
                calls.pending(work, row, loaded, thread.id, call)
            )
    return work.after_commit


def _kept_results(
    work: UnitOfWork, instance_id: str, execution: Execution, thread_id: str
) -> list[Json] | None:
    """Take the results a thread's children kept apart, when it runs on them.

    They are deleted in the transaction that hands them to the thread: both commit or
    neither does.
    """
    family = children.kept_results_family(execution, thread_id)
    if family is None:
        return None
    return child_results.take(work.conn, instance_id, family)


def parse_step(data: Json) -> StepRequest:
    """Read a step event's data.

    Raises:
        InputError: it does not name an instance, thread and sequence number.
    """
    if not isinstance(data, dict):
        raise InputError(
            "step event data must be an object {instanceId, threadId, seq}"
        )
    for name in ("instanceId", "threadId"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"step event data needs '{name}' as a non-blank string")
    seq = data.get("seq", 0)
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < MAX_SEQ:
        raise InputError(
            f"step event 'seq' must be a whole number from 0 to {MAX_SEQ - 1}"
        )
    return StepRequest(
        instance_id=data["instanceId"], thread_id=data["threadId"], seq=seq
    )
