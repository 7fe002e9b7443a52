"""knflow's own hints: events that only make work happen sooner (the rows are the truth).

A step event asks step-executor to run one thread; a job-scheduled event wakes job-trigger for a
new timer. Their ids are deterministic, so a duplicate is recognised; a re-drive gets a fresh id
per period, since the original was already sent.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Final

from knflow import uuids
from knflow.events import types
from knflow.events.codec import Event, render_time

STEP_NAMESPACE: Final = uuid.UUID("3b0f5f0e-9a51-4c57-8d2e-7f1f64a9c2d4")
"""Namespace of step event ids; never change it (ids would stop de-duplicating)."""
REDRIVE_NAMESPACE: Final = uuid.UUID("c7d3e9a1-2f4b-4e6c-8a0d-5b9f1e3c7a28")
WAKE_NAMESPACE: Final = uuid.UUID("9a3b7c1e-2f4d-4e5a-8b6c-0d1e2f3a4b5c")
SOURCE: Final = "/knflow/runtime"


def step_event(instance_id: str, thread_id: str, seq: int, *, now: datetime) -> Event:
    """Build the `knflow.step.ready` event asking step-executor to run one thread."""
    return Event(
        id=uuids.name_based(STEP_NAMESPACE, f"{instance_id}/{thread_id}/{seq}/step"),
        source=SOURCE,
        type=types.STEP_READY,
        data={"instanceId": instance_id, "threadId": thread_id, "seq": seq},
        time=now,
        extensions={"partitionkey": instance_id, "kogitoprocinstanceid": instance_id},
    )


def paced_step_event(
    instance_id: str, thread_id: str, seq: int, *, due: datetime, now: datetime
) -> Event:
    """Build the step event that hands a rate-limited call its turn at `due`.

    Its id names the turn: the thread's first step event at this sequence number may have
    been sent already, and the outbox de-duplicates by id.
    """
    event = step_event(instance_id, thread_id, seq, now=now)
    turn = uuids.name_based(STEP_NAMESPACE, f"{event.id}/paced/{due.isoformat()}")
    return dataclasses.replace(event, id=turn)


def redrive_event(event: Event, now: datetime, period: timedelta) -> Event:
    """Give a hint a new id per re-drive period (the original id was already sent)."""
    bucket = int(now.timestamp() // max(period.total_seconds(), 1.0))
    fresh = uuids.name_based(REDRIVE_NAMESPACE, f"{event.id}/{bucket}")
    return dataclasses.replace(event, id=fresh)


def job_scheduled_event(
    job_id: str, due: datetime, *, instance_id: str | None, now: datetime
) -> Event:
    """Build the hint that wakes job-trigger for a new timer.

    Without it a short sleep would wait for the next PingSource tick; with it, job-trigger
    wakes, and stays to fire the timer on time when it is due within its window.
    """
    return Event(
        id=uuids.name_based(WAKE_NAMESPACE, f"{job_id}/{due.isoformat()}/wake"),
        source=SOURCE,
        type=types.JOB_SCHEDULED,
        data={"id": job_id, "expirationTime": render_time(due)},
        time=now,
        extensions={"partitionkey": instance_id} if instance_id else {},
    )
