"""The reconcile job-trigger runs on each tick: what makes "events are hints" true.

It re-publishes outbox rows stuck unsent and re-sends the step event of instances that could
run but made no progress for `redrive_after` (their event was lost, or the executor that
claimed their call died). Timers whose time passed while nothing ran are fired by
`job_trigger.fire_due`, which runs on every wake. The reconcile only queues events: a
re-sent step event for a thread that moved on meanwhile is ignored by step-executor
(docs/architecture.md §2, principles 1 and 2).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from knflow.engine.execution import Execution, ThreadStatus
from knflow.events import hints
from knflow.runtime.instances import claims, publishing, queueing, transaction
from knflow.runtime.instances.work import CallPolicy
from knflow.runtime.job_trigger import retention
from knflow.runtime.services import Services
from knflow.store import db, jobs, start_keys
from knflow.store.db import Connection
from knflow.store.jobs import EARLIEST, StalledInstance

logger = logging.getLogger(__name__)

PAGE: Final = 200
MOST_PER_TICK: Final = 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconciled:
    """What one reconcile did."""

    published: int
    """Outbox rows published."""
    redriven: int
    """Step events re-sent."""
    purged: int = 0
    """Rows the retention policy deleted."""


def run(services: Services) -> Reconciled:
    """Publish stuck outbox rows, re-drive stalled instances, purge what is past retention.

    Start keys past their window (`KNFLOW_IDEMPOTENCY_WINDOW_SECONDS`) go too.
    """
    start_queued(services)
    redriven = redrive_stalled(services)
    published = publishing.publish_due(services)
    purged = retention.purge(services).total + forget_expired_start_keys(services)
    if redriven or published:
        logger.info("reconciled", extra={"redriven": redriven, "published": published})
    return Reconciled(published=published, redriven=redriven, purged=purged)


def start_queued(services: Services) -> int:
    """Offer each workflow with queued instances its free slots; return how many started.

    Ending instances start the queue in their own unit of work; this catches what a raised
    limit (`KNFLOW_MAX_ACTIVE_INSTANCES`) or a re-registered workflow freed.
    """
    with transaction.unit_of_work(services, calls=CallPolicy.HAND_OVER) as work:
        workflow_ids = queueing.queued_workflows(work)
    started = 0
    for workflow_id in workflow_ids:
        with transaction.unit_of_work(services, calls=CallPolicy.HAND_OVER) as work:
            started += queueing.start_queued(work, workflow_id)
        publishing.publish(services, work.after_commit.outgoing)
    return started


def forget_expired_start_keys(services: Services) -> int:
    """Delete the idempotency keys of starts older than the window; return how many."""
    now = services.clock()
    with db.transaction(services.pool) as conn:
        return start_keys.forget_expired(
            conn, expired_before=now - services.settings.idempotency_window
        )


def redrive_stalled(services: Services) -> int:
    """Queue a fresh step event for each runnable thread of each stalled instance.

    The events go to the outbox (published by `run`, or taken by a local run); returns how
    many were queued.
    """
    now = services.clock()
    before = now - services.settings.redrive_after
    queued = 0
    after = (EARLIEST, "")
    scanned = 0
    while scanned < MOST_PER_TICK:
        with db.transaction(services.pool) as conn:
            page = jobs.stalled_instances(conn, before=before, limit=PAGE, after=after)
            for stalled in page:
                queued += _redrive(conn, stalled, now, services.settings.redrive_after)
        if len(page) < PAGE:
            return queued
        scanned += len(page)
        after = (page[-1].updated_at, page[-1].id)
    return queued


def _redrive(
    conn: Connection, stalled: StalledInstance, now: datetime, period: timedelta
) -> int:
    raw = stalled.execution if isinstance(stalled.execution, dict) else None
    execution = Execution.from_json(raw)
    queued = 0
    for thread in execution.threads.values():
        runnable = thread.status is ThreadStatus.RUNNABLE
        if not runnable and claims.claimable_call(execution, thread.id, now) is None:
            continue
        event = hints.redrive_event(
            hints.step_event(stalled.id, thread.id, thread.seq, now=now), now, period
        )
        if publishing.enqueue(conn, event, instance_id=stalled.id, now=now):
            queued += 1
            logger.info(
                "step re-driven",
                extra={"instance_id": stalled.id, "thread_id": thread.id},
            )
    return queued
