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

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from knflow.engine.outcome import Activation, InstanceStatus
from knflow.errors import ConflictError
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
from knflow.store.instances import InstanceRow

logger = logging.getLogger(__name__)


@contextmanager
def unit_of_work(
    services: Services, *, calls: CallPolicy = CallPolicy.KEEP_FIRST
) -> Iterator[UnitOfWork]:
    """Open a transaction as a unit of work; it commits when the block ends without error.

    `calls` decides which claimed service calls stay in this process for after the commit.
    The transaction runs in pipeline mode: a step waits for the server twice (the lock
    with BEGIN; the instance update, whose revision the server checks, and the outbox
    rows with COMMIT), not five; once, at COMMIT, when it runs on a row it knows
    (`apply_activation`).
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
    known: InstanceRow | None = None,
) -> AfterCommit:
    """Advance an instance by one activation in its own unit of work; ended instances ignore it.

    `known` is the row as this process last committed it (the commit that claimed the
    call whose result `activation` brings). The step runs on it without reading the row
    back, unless the row changed meanwhile: then it runs again on the row as stored.
    """
    if known is not None and known.status is InstanceStatus.ACTIVE:
        try:
            return _apply_to_known(services, known, activation, calls=calls)
        except ConflictError:
            logger.debug("instance changed since this process committed it")
    with unit_of_work(services, calls=calls) as work:
        row = instances.lock(work.conn, instance_id)
        if row is None or row.status is not InstanceStatus.ACTIVE:
            return work.after_commit
        advance_locked(work, row, activation)
    return work.after_commit


def _apply_to_known(
    services: Services, known: InstanceRow, activation: Activation, *, calls: CallPolicy
) -> AfterCommit:
    """Advance `known` as it is in memory, the lock expecting its revision.

    The row was committed ACTIVE at that revision, and every change of it bumps the
    revision: if the server finds it there, it holds what `known` holds, and the unit of
    work waits for the server only at its commit (where a mismatch surfaces).

    Raises:
        ConflictError: the row changed since; nothing of the unit was committed.
    """
    with unit_of_work(services, calls=calls) as work:
        instances.lock_at(work.conn, known)
        advance_locked(work, known, activation)
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
