"""Claims on service calls: who performs a call a thread is blocked on, and until when.

A thread blocked on a call records in its wait until when the claiming executor owns the call:
a short lease (`KNFLOW_CLAIM_LEASE_SECONDS`), renewed by a heartbeat while the call runs
(`heartbeats`). Past
it, the executor is presumed dead (SIGKILL, lost node, lost database) and another may claim the
call, so at most that one call is repeated, seconds after its executor stopped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from knflow.config import Settings
from knflow.engine.execution import Execution, Thread, ThreadStatus
from knflow.engine.thread_waits import CallWait


def call_timeout(settings: Settings, declared: timedelta | None) -> timedelta:
    """How long a service call may take: its `actionExecTimeout`, else the default."""
    return declared if declared is not None else settings.action_timeout


def claim_deadline(settings: Settings, now: datetime) -> datetime:
    """Until when a claimed call belongs to its executor unless the heartbeat renews it."""
    return now + settings.claim_lease


def call_wait_of(thread: Thread) -> CallWait | None:
    """Return the call a blocked thread waits for, if it waits for one."""
    if thread.status is not ThreadStatus.BLOCKED or not isinstance(
        thread.wait, CallWait
    ):
        return None
    return thread.wait


def claim(wait: CallWait, settings: Settings, now: datetime) -> None:
    """Take the call for this executor until its claim deadline (the caller commits it)."""
    wait.claimed_until = claim_deadline(settings, now)


def claimable_call(
    execution: Execution, thread_id: str, now: datetime
) -> CallWait | None:
    """Return the call a thread waits for when nobody holds a live claim on it.

    A paced call before its turn is nobody's to claim: its job hands it over then.
    """
    thread = execution.threads.get(thread_id)
    wait = None if thread is None else call_wait_of(thread)
    if wait is None:
        return None
    if wait.claimed_until is not None and wait.claimed_until > now:
        return None
    if wait.paced_until is not None and wait.paced_until > now:
        return None
    return wait
