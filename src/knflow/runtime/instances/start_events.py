"""Handing a new instance the event that started it (SW 0.8: a start event state).

The instance was started to wait in its start state; the event completes that wait as if it
had arrived for a subscription. step-executor does it as soon as it starts an instance; an
instance queued behind its workflow's active-instance limit gets its event when it starts.
"""

from __future__ import annotations

from knflow.engine.execution import MAIN, Execution
from knflow.engine.thread_waits import EventWait
from knflow.events.codec import Event
from knflow.runtime.catalog import LoadedDefinition
from knflow.runtime.instances.advancing import deliver
from knflow.runtime.instances.work import UnitOfWork
from knflow.store import instances
from knflow.store.instances import InstanceRow
from knflow.store.subscriptions import Subscription


def hand_start_event(
    work: UnitOfWork, loaded: LoadedDefinition, instance_id: str, ref: str, event: Event
) -> InstanceRow:
    """Deliver `event` (the start state's event `ref`) to an instance just started in this unit."""
    fresh = instances.lock(work.conn, instance_id)
    assert fresh is not None, "created in this transaction"
    wait = (
        Execution.from_json(fresh.execution, workflow_data=fresh.data)
        .threads[MAIN]
        .wait
    )
    assert isinstance(wait, EventWait), "an event start state waits for its events"
    subscription = Subscription(
        instance_id=fresh.id,
        thread_id=MAIN,
        wait_key=wait.key,
        event_ref=ref,
        event_type=event.type,
        event_source=None,
        correlation={},
        business_key=fresh.business_key,
    )
    return deliver(work, loaded, fresh, subscription, event)
