"""Call-rate limits: a rate-limited function's calls take turns from one bucket in PostgreSQL.

A function definition with `knflow.callsPerSecond` (or a key `KNFLOW_CALL_RATE_LIMITS`
names) draws each call's turn from a token bucket row shared by every instance and every
process (`store.flow_control.take_call`). A call whose turn is now is claimed as usual; a
later turn parks the call instead of holding a thread: its wait records the turn, nobody
claims it before then, and a job sends the thread's step event when the turn comes. A turn,
once taken, is the call's own: claiming it again (its step event, a re-drive) takes no other.
"""

from __future__ import annotations

import logging
from datetime import datetime

from knflow.engine.thread_waits import CallWait
from knflow.runtime.catalog import LoadedDefinition
from knflow.runtime.instances import claims, limits, timers
from knflow.runtime.instances.work import UnitOfWork
from knflow.store import flow_control
from knflow.store.instances import InstanceRow

logger = logging.getLogger(__name__)


def claim_in_turn(
    work: UnitOfWork,
    row: InstanceRow,
    loaded: LoadedDefinition,
    *,
    thread_id: str,
    seq: int,
    wait: CallWait,
) -> bool:
    """Claim the call `wait` for this process when its rate limit allows it now.

    Otherwise park it until its turn and return False; the caller writes the changed wait
    with the instance row, in this unit of work.
    """
    turn = wait.paced_until
    if turn is None:
        turn = _take_turn(work, loaded, wait)
        wait.paced_until = turn
    if turn is not None and turn > work.now:
        _park(work, row, thread_id=thread_id, seq=seq, wait=wait)
        return False
    claims.claim(wait, work.services.settings, work.now)
    return True


def _take_turn(
    work: UnitOfWork, loaded: LoadedDefinition, wait: CallWait
) -> datetime | None:
    """Return when the call may start by its function's rate limit.

    None when the function is unlimited; the unit's `now` when its turn is now (the wait
    then records that a turn was taken).
    """
    definition = loaded.definition
    function_def = definition.functions.get(wait.function)
    rate = (
        None
        if function_def is None
        else limits.call_rate(
            work.services.settings, definition.workflow_id, function_def
        )
    )
    if rate is None:
        return None
    key, per_second = rate
    turn = flow_control.take_call(work.conn, key, rate=per_second)
    return work.now if turn is None else turn


def _park(
    work: UnitOfWork, row: InstanceRow, *, thread_id: str, seq: int, wait: CallWait
) -> None:
    """Keep the call unclaimed until its turn, and have a job hand it over then."""
    turn = wait.paced_until
    assert turn is not None, "a parked call has a turn"
    wait.claimed_until = turn
    timers.schedule_step(
        work, row, thread_id=thread_id, seq=seq, key=wait.key, due=turn
    )
    logger.debug("call parked for its rate limit", extra={"due": turn.isoformat()})
