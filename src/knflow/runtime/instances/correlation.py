"""Consumed events: which waiting instance an event is for, and keeping events nobody awaits yet.

An event reaches an instance by the `kogitoprocrefid` extension (the instance id), by
`kogitobusinesskey`, or by the definition's `correlation` context attributes, whose values the
start event fixed (or, for instances started over REST, the instance data holds). Subscriptions
are rows, rewritten with every commit of the instance. An event that matches nothing is kept for
`BACKLOG_RETENTION` and handed to the first wait that matches it.

Events are matched by `type`, not `source`, as SonataFlow (and a Knative Trigger filtering on
type) does: producers rarely know the source a workflow author wrote.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from knflow.engine.execution import Execution, ThreadStatus
from knflow.engine.thread_waits import EventWait, event_arrival
from knflow.events.codec import Event
from knflow.runtime.catalog import LoadedDefinition
from knflow.store import subscriptions
from knflow.store.db import Connection
from knflow.store.instances import InstanceRow
from knflow.store.subscriptions import Subscription
from knflow.workflow.model import EventDef, Json

BACKLOG_RETENTION: Final = timedelta(hours=1)
REFERENCE_ATTRIBUTE: Final = "kogitoprocrefid"
BUSINESS_KEY_ATTRIBUTE: Final = "kogitobusinesskey"


def subscriptions_of(loaded: LoadedDefinition, row: InstanceRow) -> list[Subscription]:
    """Return what the instance's blocked threads wait for."""
    execution = Execution.from_json(row.execution, workflow_data=row.data)
    found = []
    for thread in execution.threads.values():
        wait = thread.wait
        if thread.status is not ThreadStatus.BLOCKED or not isinstance(wait, EventWait):
            continue
        for awaited in wait.pending():
            event_def = loaded.definition.events.get(awaited.ref)
            found.append(
                Subscription(
                    instance_id=row.id,
                    thread_id=thread.id,
                    wait_key=wait.key,
                    event_ref=awaited.ref,
                    event_type=awaited.type,
                    event_source=awaited.source or None,
                    correlation=expected_correlation(event_def, row),
                    business_key=row.business_key,
                )
            )
    return found


def waits_for_events(row: InstanceRow) -> bool:
    """Tell whether the instance, as stored, has subscriptions (a thread waits for events).

    Lets a commit skip rewriting the subscriptions of an instance that has none, which is
    most steps of most instances.
    """
    execution = Execution.from_json(row.execution, workflow_data=row.data)
    return any(
        thread.status is ThreadStatus.BLOCKED and isinstance(thread.wait, EventWait)
        for thread in execution.threads.values()
    )


def expected_correlation(
    event_def: EventDef | None, row: InstanceRow
) -> dict[str, str]:
    """Return the attribute values an awaited event must carry for this instance."""
    expected: dict[str, str] = {}
    fixed = row.correlation or {}
    data = row.data if isinstance(row.data, dict) else {}
    for rule in event_def.correlation if event_def else ():
        name = str(rule.get("contextAttributeName", "")).lower()
        value = rule.get("contextAttributeValue") or fixed.get(name) or data.get(name)
        if name and value is not None and not isinstance(value, (dict, list)):
            expected[name] = str(value)
    return expected


def start_correlation(event_def: EventDef, event: Event) -> dict[str, str]:
    """Return the correlation values a start event fixes for its new instance."""
    fixed = {}
    for rule in event_def.correlation:
        name = str(rule.get("contextAttributeName", "")).lower()
        value = event.attribute(name)
        if name and value is not None:
            fixed[name] = value
    return fixed


def matches(subscription: Subscription, event: Event) -> bool:
    """Tell whether `event` is for this subscription."""
    if subscription.event_type != event.type:
        return False
    reference = event.attribute(REFERENCE_ATTRIBUTE)
    if reference:
        return reference == subscription.instance_id
    business_key = event.attribute(BUSINESS_KEY_ATTRIBUTE)
    if business_key:
        return business_key == subscription.business_key
    correlation = subscription.correlation or {}
    return bool(correlation) and all(
        event.attribute(name) == value for name, value in correlation.items()
    )


def payload(event_def: EventDef | None, event: Event) -> Json:
    """Return what event filters see: the data (`dataOnly`, the default) or the whole event."""
    if event_def is None or event_def.data_only:
        return event.data
    return event.to_dict()


def arrival(
    subscription: Subscription, loaded: LoadedDefinition, event: Event
) -> dict[str, Json]:
    """Return the activation result delivering `event` to the subscribed thread."""
    event_def = loaded.definition.events.get(subscription.event_ref)
    return event_arrival(subscription.event_ref, payload(event_def, event))


def record(conn: Connection, event: Event, *, now: datetime) -> int | None:
    """Remember an incoming event; None means it was received before (a redelivery)."""
    return subscriptions.record_received(
        conn,
        event_id=event.id,
        event_source=event.source,
        event_type=event.type,
        event=event.to_dict(),
        now=now,
    )
