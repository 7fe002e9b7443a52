"""Instance timers as job rows: sleeps, action sleeps, event timeouts.

Firing a timer resumes the sleeping thread with `CallCompleted(key)`; a timer whose thread moved
on is ignored by the engine (its key no longer matches).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final

from knflow.store import jobs
from knflow.store.db import Connection

TIMER_NAMESPACE: Final = uuid.UUID("5d8c1a52-2b7e-4f66-9a3e-1c2d3e4f5a6b")
INSTANCE_RECIPIENT: Final = "instance"


def schedule(
    conn: Connection,
    *,
    instance_id: str,
    thread_id: str,
    key: str,
    due: datetime,
    now: datetime,
) -> str:
    """Write the job that wakes `thread_id` at `due`; return its (deterministic) id."""
    job_id = str(uuid.uuid5(TIMER_NAMESPACE, f"{instance_id}/{key}"))
    jobs.upsert(
        conn,
        job_id=job_id,
        due=due,
        now=now,
        instance_id=instance_id,
        recipient={
            "type": INSTANCE_RECIPIENT,
            "instanceId": instance_id,
            "threadId": thread_id,
            "key": key,
        },
    )
    return job_id
