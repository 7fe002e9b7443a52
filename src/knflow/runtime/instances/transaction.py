"""Opening a unit of work: one transaction whose consequences for other instances all happen in it.

Use cases write::

    with transaction.unit_of_work(services) as work:
        row = instances.lock(work.conn, instance_id)
        advancing.advance_locked(work, row, activation)
    after_commit.carry_out(services, work.after_commit)

Before the transaction commits, the consequences its commits queued (children to start,
parents to resume, ...) are carried out one by one, each possibly queueing more.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from knflow.engine.outcome import Activation, InstanceStatus
from knflow.runtime.instances import backlog, queueing, subflows
from knflow.runtime.instances.advancing import advance_locked
from knflow.runtime.instances.work import (
    AfterCommit,
    CallPolicy,
    ContinueInstance,
    EndChildren,
    ResumeParent,
    StartChild,
    StartQueued,
    TakeBacklog,
    UnitOfWork,
    call_budget,
)
from knflow.runtime.services import Services
from knflow.store import db, instances


@contextmanager
def unit_of_work(
    services: Services, *, calls: CallPolicy = CallPolicy.KEEP_FIRST
) -> Iterator[UnitOfWork]:
    """Open a transaction as a unit of work; it commits when the block ends without error.

    `calls` decides which claimed service calls stay in this process for after the commit.
    The transaction runs in pipeline mode: a step waits for the server twice (the lock
    with BEGIN; the instance update, whose revision the server checks, and the outbox
    rows with COMMIT), not five.
    """
    with db.pipelined_transaction(services.pool) as conn:
        work = UnitOfWork(
            services=services,
            conn=conn,
            now=services.clock(),
            calls_left=call_budget(services, calls),
        )
        yield work
        _carry_out_consequences(work)
        keep_written = work.write_events()
    keep_written()


def apply_activation(
    services: Services,
    instance_id: str,
    activation: Activation,
    *,
    calls: CallPolicy = CallPolicy.KEEP_FIRST,
) -> AfterCommit:
    """Advance an instance by one activation in its own unit of work; ended instances ignore it."""
    with unit_of_work(services, calls=calls) as work:
        row = instances.lock(work.conn, instance_id)
        if row is None or row.status is not InstanceStatus.ACTIVE:
            return work.after_commit
        advance_locked(work, row, activation)
    return work.after_commit


def _carry_out_consequences(work: UnitOfWork) -> None:
    while work.consequences:
        consequence = work.consequences.popleft()
        if isinstance(consequence, StartChild):
            subflows.start_child(work, consequence)
        elif isinstance(consequence, ContinueInstance):
            subflows.continue_instance(work, consequence)
        elif isinstance(consequence, EndChildren):
            subflows.end_children(work, consequence)
        elif isinstance(consequence, ResumeParent):
            subflows.resume_parent(work, consequence)
        elif isinstance(consequence, TakeBacklog):
            backlog.take_backlog(work, consequence)
        elif isinstance(consequence, StartQueued):
            queueing.start_queued(work, consequence.workflow_id)
