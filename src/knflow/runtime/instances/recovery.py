"""Finding work that stalled and sending it on: the sweep behind "events are hints".

Instances that could run but made no progress for `redrive_after` get their step event again
(their event was lost, or the executor that claimed their call died and its claim ran out);
timers left unfired past their time wake job-trigger again (their wake-up was lost); outbox
rows left unsent are published. The job-trigger's reconcile (each PingSource tick) and
every process's `Sweeper` (soon after a start, after work, after an outage) run it. It only
queues events: a re-sent step event for a thread that moved on meanwhile is ignored by
step-executor (docs/architecture.md §2, principles 1 and 2).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from knflow.engine.execution import Execution, Thread, ThreadStatus
from knflow.events import hints
from knflow.runtime.instances import claims, publishing
from knflow.runtime.services import Services
from knflow.store import db, jobs
from knflow.store.db import Connection
from knflow.store.jobs import EARLIEST, StalledInstance

logger = logging.getLogger(__name__)

PAGE: Final = 200
MOST_PER_SWEEP: Final = 2000
TIMER_GRACE: Final = timedelta(seconds=2)
"""A timer still unfired this long after its time lost its wake-up (job-trigger fires on time)."""
TIMER_HORIZON: Final = timedelta(seconds=45)
"""Timers due within this keep sweeps going; later ones are left to job-trigger's own tick,
so that a sleeping instance alone never keeps a process sweeping."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Redriven:
    """What a re-drive pass did and saw."""

    queued: int
    """Step events queued."""
    next_expiry: datetime | None
    """The earliest end of a live claim (or a paced call's turn) among stalled instances."""


def sweep(services: Services) -> timedelta | None:
    """Re-drive stalled instances and timers, publish unsent events; return when to look again.

    None means nothing is in flight: no instance could run, no event waits to be sent, no
    timer is due soon. Otherwise the answer is the first of: when the oldest instance not yet
    stalled would count as stalled, when a claim or a paced call's turn seen in this sweep
    runs out, when the next unsent event is due, when the next timer would count as lost.

    Raises:
        UnavailableError: the database did not answer.
    """
    now = services.clock()
    stalled_before = now - services.settings.redrive_after
    redriven = redrive_stalled(services)
    woken = wake_for_lost_timers(services)
    published = publishing.publish_due(services)
    if redriven.queued or woken or published:
        logger.info(
            "recovered",
            extra={"redriven": redriven.queued + woken, "published": published},
        )
    with db.transaction(services.pool) as conn:
        pending = jobs.work_in_flight(conn, stalled_before=stalled_before)
    due = [
        moment
        for moment in (
            _plus(pending.oldest_running, services.settings.redrive_after),
            redriven.next_expiry,
            pending.next_unsent,
            _plus(pending.next_timer, TIMER_GRACE),
        )
        if moment is not None and moment <= now + TIMER_HORIZON
    ]
    if not due:
        return None
    return max(min(due) - services.clock(), timedelta(0))


def wake_for_lost_timers(services: Services) -> int:
    """Wake job-trigger again when a timer is past its time by `TIMER_GRACE`; 1 if queued."""
    now = services.clock()
    with db.transaction(services.pool) as conn:
        overdue = jobs.overdue_backlog(conn, now=now - TIMER_GRACE)
        if overdue.count == 0 or overdue.oldest_at is None:
            return 0
        wake = hints.job_scheduled_event(
            "overdue", overdue.oldest_at, instance_id=None, now=now
        )
        event = hints.redrive_event(wake, now, services.settings.redrive_after)
        if publishing.enqueue(conn, event, instance_id=None, now=now) is None:
            return 0
    logger.info("timers re-woken", extra={"overdue": overdue.count})
    return 1


def redrive_stalled(services: Services) -> Redriven:
    """Queue a fresh step event for each runnable thread of each stalled instance.

    The events go to the outbox (published by the caller, or taken by a local run). Threads
    whose call is claimed or waits for its turn are left alone; the earliest moment one of
    them could need a re-drive is returned with the count.
    """
    now = services.clock()
    before = now - services.settings.redrive_after
    queued = 0
    expiries: list[datetime] = []
    after = (EARLIEST, "")
    scanned = 0
    while scanned < MOST_PER_SWEEP:
        with db.transaction(services.pool) as conn:
            page = jobs.stalled_instances(conn, before=before, limit=PAGE, after=after)
            for stalled in page:
                queued += _redrive(
                    conn, stalled, now, services.settings.redrive_after, expiries
                )
        if len(page) < PAGE:
            break
        scanned += len(page)
        after = (page[-1].updated_at, page[-1].id)
    return Redriven(queued=queued, next_expiry=min(expiries, default=None))


def _claim_ends(thread: Thread, now: datetime) -> list[datetime]:
    """When a blocked thread's call could be taken over: its claim's end, or its turn."""
    wait = claims.call_wait_of(thread)
    if wait is None:
        return []
    return [
        moment
        for moment in (wait.claimed_until, wait.paced_until)
        if moment is not None and moment > now
    ]


def _plus(moment: datetime | None, delay: timedelta) -> datetime | None:
    return None if moment is None else moment + delay


def _redrive(
    conn: Connection,
    stalled: StalledInstance,
    now: datetime,
    period: timedelta,
    expiries: list[datetime],
) -> int:
    """Queue step events for the threads of one stalled instance; note live claims' ends."""
    raw = stalled.execution if isinstance(stalled.execution, dict) else None
    execution = Execution.from_json(raw)
    queued = 0
    for thread in execution.threads.values():
        runnable = thread.status is ThreadStatus.RUNNABLE
        if not runnable and claims.claimable_call(execution, thread.id, now) is None:
            expiries.extend(_claim_ends(thread, now))
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
