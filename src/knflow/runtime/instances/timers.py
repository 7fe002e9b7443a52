"""Instance timers as job rows: sleeps, action sleeps, retry back-offs, event and state timeouts.

Firing a timer resumes the sleeping thread with `CallCompleted(key)`; a timer whose thread moved
on is ignored by the engine (its key no longer matches). Each new timer is announced to the Data
Index and wakes job-trigger, so short timers fire on time rather than at the next tick.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from knflow import uuids
from knflow.engine.outcome import Activation, CallCompleted, Deadline, ScheduleTimer
from knflow.engine.thread_waits import TIMER_FIRED
from knflow.events import hints
from knflow.events.codec import Event
from knflow.runtime.instances.work import UnitOfWork
from knflow.store import jobs
from knflow.store.instances import InstanceRow
from knflow.store.jobs import JobRow

TIMER_NAMESPACE: Final = uuid.UUID("5d8c1a52-2b7e-4f66-9a3e-1c2d3e4f5a6b")
INSTANCE_RECIPIENT: Final = "instance"
STEP_RECIPIENT: Final = "step"
"""A job that sends a thread's step event when due (a call parked by its rate limit)."""


def schedule(work: UnitOfWork, row: InstanceRow, command: ScheduleTimer) -> JobRow:
    """Write the job that wakes `command.thread_id` at its due time; announce it, wake job-trigger.

    The job id is deterministic (instance and wait key), so a repeated commit rewrites it. With
    `command.deadline` (a timeout's scope) firing it delivers a `Deadline` instead of the wait's
    completion.
    """
    job = jobs.upsert(
        work.conn,
        job_id=uuids.name_based(TIMER_NAMESPACE, f"{row.id}/{command.key}"),
        due=command.due,
        now=work.now,
        instance_id=row.id,
        workflow_id=row.workflow_id,
        recipient={
            "type": INSTANCE_RECIPIENT,
            "instanceId": row.id,
            "threadId": command.thread_id,
            "key": command.key,
            **(
                {"deadline": command.deadline, "node": command.node}
                if command.deadline
                else {}
            ),
            # The firing continues this trace (W3C trace context; none when tracing is off).
            **work.services.tracer.carrier(),
        },
    )
    work.announce_job(job)
    work.queue_event(
        hints.job_scheduled_event(
            job.id, command.due, instance_id=row.id, now=work.now
        ),
        instance_id=row.id,
    )
    return job


def schedule_step(
    work: UnitOfWork,
    row: InstanceRow,
    *,
    thread_id: str,
    seq: int,
    key: str,
    due: datetime,
) -> JobRow:
    """Write the job that sends `thread_id`'s step event at `due`; announce it, wake job-trigger.

    Deterministic per (instance, wait key): parking the same call again rewrites it. The Data
    Index lists it among the instance's jobs like its other timers, from creation to firing.
    """
    job = jobs.upsert(
        work.conn,
        job_id=uuids.name_based(TIMER_NAMESPACE, f"{row.id}/{key}/paced"),
        due=due,
        now=work.now,
        instance_id=row.id,
        workflow_id=row.workflow_id,
        recipient={
            "type": STEP_RECIPIENT,
            "instanceId": row.id,
            "threadId": thread_id,
            "seq": seq,
            "due": due.isoformat(),
        },
    )
    work.announce_job(job)
    work.queue_event(
        hints.job_scheduled_event(job.id, due, instance_id=row.id, now=work.now),
        instance_id=row.id,
    )
    return job


def step_event_for(recipient: Mapping[str, Any], *, now: datetime) -> Event:
    """Return the step event a fired step job sends."""
    return hints.paced_step_event(
        str(recipient["instanceId"]),
        str(recipient["threadId"]),
        int(recipient.get("seq", 0)),
        due=datetime.fromisoformat(str(recipient["due"])),
        now=now,
    )


def activation_for(recipient: Mapping[str, Any]) -> Activation:
    """Return what firing an instance timer delivers: a wait's completion or a timeout."""
    thread_id = str(recipient["threadId"])
    if recipient.get("deadline"):
        return Deadline(
            thread_id=thread_id,
            scope=str(recipient["deadline"]),
            node=str(recipient.get("node")),
        )
    return CallCompleted(
        thread_id=thread_id, key=str(recipient["key"]), result=dict(TIMER_FIRED)
    )
