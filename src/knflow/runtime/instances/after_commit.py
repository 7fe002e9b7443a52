"""Carrying out what a unit of work leaves for after its commit: publishing events, performing calls.

A claimed call runs here, outside any transaction; its result (or failure) is applied in a new
unit of work, which may claim the next call, and so on until the instance waits, fans out to
step-executor, or ends. Several calls claimed at once (a local run) run concurrently.

What runs here runs after a commit, so its failure never undoes what the caller did: an
outage stops the carrying out, and the claims it held run out and the reconcile finishes
the work. Callers answer for what they committed (a 5xx means nothing was done).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Final

from knflow.engine.outcome import CallCompleted
from knflow.errors import KnflowError, UnavailableError
from knflow.runtime.instances import calls, heartbeats, publishing
from knflow.runtime.instances.transaction import apply_activation
from knflow.runtime.instances.work import AfterCommit, CallPolicy, PendingCall
from knflow.runtime.services import Services
from knflow.store.instances import InstanceRow

logger = logging.getLogger(__name__)

MOST_CONCURRENT_CALLS: Final = 16

Committed = dict[str, InstanceRow]
"""The newest row this process committed, by instance id."""


def carry_out(services: Services, after: AfterCommit) -> Committed:
    """Publish what was queued and perform the claimed calls, following each to its next wait.

    Returns the newest row committed for each instance on the way (`after`'s own included),
    so that a caller answering with the instance's state need not read it back.

    Never raises: the work was committed before, so a failure here (the database went away)
    is logged and left to the reconcile, which re-drives what stalled.
    """
    known: Committed = {}
    try:
        _follow(services, after, known)
    except UnavailableError as error:
        logger.warning("work after commit interrupted", extra={"reason": str(error)})
        services.sweeper.database_lost()
    except KnflowError:
        logger.exception("work after commit failed")
    return known


def _follow(services: Services, after: AfterCommit, known: Committed) -> None:
    """Carry out `after` and what each of its calls leads to, noting what each unit committed.

    A loop, not recursion: a sequential foreach over thousands of calls is carried out call
    by call. Past the step budget the next calls go to step-executor as step events, so one
    invocation never outlives its request timeout (run to the next wait, within a budget).
    """
    deadline = time.monotonic() + services.settings.step_budget.total_seconds()
    waiting = [after]
    while waiting:
        current = waiting.pop()
        _note_committed(known, current)
        policy = (
            CallPolicy.KEEP_FIRST
            if time.monotonic() < deadline
            else CallPolicy.HAND_OVER
        )
        publishing.publish(services, current.outgoing)
        for call in (c for c in current.calls if c.asynchronous):
            _fire_and_forget(services, call)
        pending = [c for c in current.calls if not c.asynchronous]
        if len(pending) == 1:
            # The one call of its instance: its result applies to the row as committed here.
            row = current.committed.get(pending[0].instance_id)
            waiting.append(
                complete_call(services, pending[0], policy=policy, known=row)
            )
        elif pending:
            workers = min(len(pending), MOST_CONCURRENT_CALLS)
            with ThreadPoolExecutor(max_workers=workers) as pool:
                waiting.extend(
                    pool.map(partial(complete_call, services, policy=policy), pending)
                )


def _note_committed(known: Committed, after: AfterCommit) -> None:
    for row in after.committed.values():
        seen = known.get(row.id)
        if seen is None or seen.revision < row.revision:
            known[row.id] = row


def complete_call(
    services: Services,
    call: PendingCall,
    *,
    policy: CallPolicy = CallPolicy.KEEP_FIRST,
    known: InstanceRow | None = None,
) -> AfterCommit:
    """Perform a claimed call, its claim renewed meanwhile, and apply its outcome.

    `known` is the instance's row as committed with the claim, when this process has it
    (`transaction.apply_activation`).
    """
    with heartbeats.renewed(services, call):
        result, failure = calls.perform(services, call)
    activation = CallCompleted(
        thread_id=call.thread_id, key=call.key, result=result, failure=failure
    )
    return apply_activation(
        services, call.instance_id, activation, calls=policy, known=known
    )


def _fire_and_forget(services: Services, call: PendingCall) -> None:
    _, failure = calls.perform(services, call)
    if failure is not None:
        logger.warning(
            "async function call failed", extra={"function": call.function_name}
        )
