"""Claims on service calls, and the step events that hand a thread to step-executor.

A thread blocked on a call records who performs it and until when (`claimed_until`); past
that deadline the executor is presumed dead and another may claim the call, so at most that
one call is repeated. A step event names the thread and its sequence number, so a stale or
duplicate one is recognised.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Final

from knflow.config import Settings
from knflow.engine.execution import Execution, ThreadStatus, WaitKind
from knflow.events import types
from knflow.events.codec import Event
from knflow.runtime.services import Services

EVENT_NAMESPACE: Final = uuid.UUID("3b0f5f0e-9a51-4c57-8d2e-7f1f64a9c2d4")


def call_timeout(settings: Settings, declared: timedelta | None) -> timedelta:
    """How long a service call may take: its `actionExecTimeout`, else the default."""
    return declared if declared is not None else settings.action_timeout


def claim_deadline(
    services: Services, declared: timedelta | None, now: datetime
) -> datetime:
    """Until when a claimed call belongs to its executor: twice the call's timeout.

    Past it, the executor is presumed dead (SIGKILL, lost node) and the call may be claimed
    again, so at most that one call is repeated.
    """
    return now + 2 * call_timeout(services.settings, declared)


def step_event(instance_id: str, thread_id: str, seq: int, *, now: datetime) -> Event:
    """Build the `knflow.step.ready` event asking step-executor to run one thread."""
    return Event(
        id=str(uuid.uuid5(EVENT_NAMESPACE, f"{instance_id}/{thread_id}/{seq}/step")),
        source="/knflow/runtime",
        type=types.STEP_READY,
        data={"instanceId": instance_id, "threadId": thread_id, "seq": seq},
        time=now,
        extensions={"partitionkey": instance_id, "kogitoprocinstanceid": instance_id},
    )


def is_call_claimable(execution: Execution, thread_id: str, now: datetime) -> bool:
    """Tell whether a thread blocked on a call has no live claim (never claimed, or expired)."""
    thread = execution.threads.get(thread_id)
    if thread is None or thread.status is not ThreadStatus.BLOCKED or not thread.wait:
        return False
    if thread.wait.get("kind") != WaitKind.CALL:
        return False
    claimed = thread.wait.get("claimed_until")
    return claimed is None or datetime.fromisoformat(claimed) <= now
