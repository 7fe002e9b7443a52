"""Instance timers as job rows: sleeps, action sleeps, event timeouts.

Firing a timer resumes the sleeping thread with `CallCompleted(key)`; a timer whose thread moved
on is ignored by the engine (its key no longer matches).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from knflow.engine.outcome import Activation, CallCompleted, Deadline
from knflow.store import jobs
from knflow.store.db import Connection
from knflow.store.jobs import JobRow

TIMER_NAMESPACE: Final = uuid.UUID("5d8c1a52-2b7e-4f66-9a3e-1c2d3e4f5a6b")
INSTANCE_RECIPIENT: Final = "instance"


def schedule(
    conn: Connection,
    *,
    instance_id: str,
    workflow_id: str,
    thread_id: str,
    key: str,
    due: datetime,
    now: datetime,
    deadline: str | None = None,
    node: str | None = None,
) -> JobRow:
    """Write the job that wakes `thread_id` at `due` (its id is deterministic); return it.

    With `deadline` (a timeout's scope) firing it delivers a `Deadline` instead of the wait's
    completion. The caller announces it (JobEvent) and wakes job-trigger.
    """
    return jobs.upsert(
        conn,
        job_id=str(uuid.uuid5(TIMER_NAMESPACE, f"{instance_id}/{key}")),
        due=due,
        now=now,
        instance_id=instance_id,
        workflow_id=workflow_id,
        recipient={
            "type": INSTANCE_RECIPIENT,
            "instanceId": instance_id,
            "threadId": thread_id,
            "key": key,
            **({"deadline": deadline, "node": node} if deadline else {}),
        },
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
        thread_id=thread_id, key=str(recipient["key"]), result={"kind": "timer"}
    )
