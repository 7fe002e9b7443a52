"""step-executor's entry: step events continue threads; other events resume or start instances.

Every consumed event is recorded once (by source and id), so a redelivery changes nothing. An
event is given to every waiting instance it correlates with; if none took it, it starts instances
of workflows whose start state waits for it; otherwise it is kept for a while (see
`instances.backlog`).
"""

from __future__ import annotations

import logging

from knflow import json_limits, logs
from knflow.engine.outcome import InstanceStatus
from knflow.events import types
from knflow.events.codec import Event
from knflow.runtime.catalog import LoadedDefinition
from knflow.runtime.instances import (
    after_commit,
    correlation,
    queueing,
    start_events,
    transaction,
)
from knflow.runtime.instances.advancing import deliver, load_definition
from knflow.runtime.instances.creating import NewInstance, create_instance
from knflow.runtime.instances.work import UnitOfWork
from knflow.runtime.services import Services
from knflow.runtime.step_executor import steps
from knflow.store import db, instances, subscriptions
from knflow.store import definitions as stored_definitions
from knflow.workflow.model import EventDef, StateType

logger = logging.getLogger(__name__)


def handle_event(services: Services, event: Event) -> None:
    """Handle one CloudEvent delivered to step-executor.

    Raises:
        InputError: a step event's data is malformed, or a consumed event's data nests
            deeper than workflow data may.
    """
    if event.type == types.STEP_READY:
        steps.run_step(services, event)
        return
    json_limits.check_data(
        event.data, limits=services.settings.json_limits, what="the event data"
    )
    with transaction.unit_of_work(services) as work:
        row_id = correlation.record(work.conn, event, now=work.now)
        if row_id is None:
            logger.debug("duplicate event ignored")
            return
        taken = _resume_waiting(work, event) or _start_instances(work, event, row_id)
        if taken:
            subscriptions.mark_consumed(
                work.conn, row_id, consumed_by=",".join(taken), now=work.now
            )
        else:
            logger.info("event matched no instance; kept for late waits")
    after_commit.carry_out(services, work.after_commit)
    if not taken:
        _offer_again(services, event, row_id)


def _offer_again(services: Services, event: Event, row_id: int) -> None:
    """Offer a kept event once more to the waits, now that it is committed.

    An instance may have begun waiting for it while this delivery ran: its subscription
    committed after `_resume_waiting` looked, and its backlog look (`instances.backlog`)
    began before this event was committed, so neither saw the other. Looking again after
    the commit closes that gap, once every wait begun meanwhile was committed (the barrier
    of `subscriptions.await_new_waits`, in a transaction of its own that holds nothing
    else); an event the backlog took meanwhile is left alone.
    """
    with db.transaction(services.pool) as conn:
        subscriptions.await_new_waits(conn, event.type)
    with transaction.unit_of_work(services) as work:
        taken = _resume_waiting(work, event, kept_id=row_id)
        if taken:
            subscriptions.mark_consumed(
                work.conn, row_id, consumed_by=",".join(taken), now=work.now
            )
    after_commit.carry_out(services, work.after_commit)


def _resume_waiting(
    work: UnitOfWork, event: Event, *, kept_id: int | None = None
) -> list[str]:
    """Deliver `event` to every waiting instance it correlates with; return their ids.

    A kept event (`kept_id`, offered again) is locked after the instance, as the backlog
    takes it: found taken meanwhile, it is delivered no further.
    """
    resumed: list[str] = []
    for subscription in subscriptions.for_type(work.conn, event.type):
        if subscription.instance_id in resumed or not correlation.matches(
            subscription, event
        ):
            continue
        row = instances.lock(work.conn, subscription.instance_id)
        if row is None or row.status is not InstanceStatus.ACTIVE:
            continue
        if (
            kept_id is not None
            and not resumed
            and not subscriptions.lock_if_unconsumed(work.conn, kept_id)
        ):
            return resumed
        with logs.context(instance_id=row.id):
            after = deliver(work, load_definition(work, row), row, subscription, event)
        if after.revision != row.revision:  # the wait moved on meanwhile: not taken
            resumed.append(row.id)
    return resumed


def _start_instances(work: UnitOfWork, event: Event, row_id: int) -> list[str]:
    started: list[str] = []
    for stored in stored_definitions.list_available(work.conn):
        loaded = work.services.definitions.load(stored)
        found = _start_event(loaded, event)
        if found is None:
            continue
        ref, event_def = found
        # Taken before the start, so the new wait does not also find it in the backlog.
        subscriptions.mark_consumed(
            work.conn, row_id, consumed_by="start", now=work.now
        )
        started.append(_start_by_event(work, loaded, ref, event_def, event))
    return started


def _start_event(loaded: LoadedDefinition, event: Event) -> tuple[str, EventDef] | None:
    """Return the event definition of `loaded`'s start state that `event` is, if any."""
    definition = loaded.definition
    start = definition.states.get(definition.start)
    if start is None or start.type is not StateType.EVENT:
        return None
    for ref in (r for on_events in start.on_events for r in on_events.event_refs):
        event_def = definition.events.get(ref)
        if event_def is not None and event_def.type == event.type:
            return ref, event_def
    return None


def _start_by_event(
    work: UnitOfWork,
    loaded: LoadedDefinition,
    ref: str,
    event_def: EventDef,
    event: Event,
) -> str:
    """Create an instance waiting in its start state and hand it the event that started it.

    An instance queued behind its workflow's active-instance limit keeps the event until
    it starts.
    """
    definition = loaded.definition
    row = create_instance(
        work,
        NewInstance(
            workflow_id=definition.workflow_id,
            version=definition.version,
            data={},
            business_key=event.attribute(correlation.BUSINESS_KEY_ATTRIBUTE),
            correlation=correlation.start_correlation(event_def, event),
            by_event=True,
        ),
    )
    if row.status is InstanceStatus.PENDING:  # its event waits with it for a slot
        queueing.keep_start_event(work, row.id, ref, event)
        return row.id
    start_events.hand_start_event(work, loaded, row.id, ref, event)
    return row.id
