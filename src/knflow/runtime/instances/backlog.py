"""Events that arrived before anyone waited for them, handed to the first wait that matches.

step-executor keeps an event nobody took for `correlation.BACKLOG_RETENTION`; when an instance
begins waiting, its commit queues a `TakeBacklog` and the oldest matching event is delivered.
"""

from __future__ import annotations

from knflow.engine.outcome import InstanceStatus
from knflow.events import codec
from knflow.runtime.instances import correlation
from knflow.runtime.instances.advancing import deliver, load_definition
from knflow.runtime.instances.work import TakeBacklog, UnitOfWork
from knflow.store import instances, subscriptions


def take_backlog(work: UnitOfWork, asked: TakeBacklog) -> None:
    """Deliver to a waiting instance one kept event it waits for, if there is one."""
    row = instances.lock(work.conn, asked.instance_id)
    if row is None or row.status is not InstanceStatus.ACTIVE:
        return
    loaded = load_definition(work, row)
    wanted = correlation.subscriptions_of(loaded, row)
    if not wanted:
        return
    since = work.now - correlation.BACKLOG_RETENTION
    types_wanted = sorted({s.event_type for s in wanted})
    for kept in subscriptions.unconsumed(work.conn, types_wanted, since=since):
        event = codec.from_dict(kept.event)
        subscription = next((s for s in wanted if correlation.matches(s, event)), None)
        if subscription is None or not subscriptions.lock_if_unconsumed(
            work.conn, kept.id
        ):
            continue
        subscriptions.mark_consumed(
            work.conn, kept.id, consumed_by=row.id, now=work.now
        )
        deliver(work, loaded, row, subscription, event)
        return
