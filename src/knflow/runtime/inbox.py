"""step-executor's event intake: step events continue threads; other events resume or start instances.

Every consumed event is recorded once (by source and id), so a redelivery changes nothing. An
event is given to every waiting instance it correlates with; if none took it, it starts instances
of workflows whose start state waits for it; otherwise it is kept for a while (see `correlation`).
"""

from __future__ import annotations

import logging

from knflow import logs
from knflow.engine.execution import MAIN, Execution
from knflow.events import types
from knflow.events.codec import Event
from knflow.runtime import catalog, correlation, driving, starting, steps
from knflow.runtime.committing import Writer, deliver
from knflow.runtime.services import Services
from knflow.store import db, instances, subscriptions
from knflow.store import definitions as stored_definitions
from knflow.store.subscriptions import Subscription
from knflow.workflow.model import StateType

logger = logging.getLogger(__name__)


def receive(services: Services, event: Event) -> None:
    """Handle one CloudEvent delivered to step-executor."""
    if event.type == types.STEP_READY:
        steps.run_step(services, event)
        return
    with db.transaction(services.pool) as conn:
        writer = driving.new_writer(services, conn)
        row_id = correlation.record(conn, event, now=writer.now)
        if row_id is None:
            logger.debug("duplicate event ignored")
            return
        taken = _resume_waiting(writer, event) or _start_instances(
            writer, event, row_id
        )
        if taken:
            subscriptions.mark_consumed(
                conn, row_id, consumed_by=",".join(taken), now=writer.now
            )
        else:
            logger.info("event matched no instance; kept for late waits")
    driving.settle(services, writer.aftermath)


def _resume_waiting(writer: Writer, event: Event) -> list[str]:
    resumed: list[str] = []
    for subscription in subscriptions.for_type(writer.conn, event.type):
        if subscription.instance_id in resumed or not correlation.matches(
            subscription, event
        ):
            continue
        row = instances.lock(writer.conn, subscription.instance_id)
        if row is None or row.status != "ACTIVE":
            continue
        with logs.context(instance_id=row.id):
            loaded = catalog.load(
                writer.conn,
                writer.services.definitions,
                row.workflow_id,
                row.workflow_version,
            )
            after = deliver(writer, loaded, row, subscription, event)
        if after.revision != row.revision:  # the wait moved on meanwhile: not taken
            resumed.append(row.id)
    return resumed


def _start_instances(writer: Writer, event: Event, row_id: int) -> list[str]:
    started: list[str] = []
    for stored in stored_definitions.list_available(writer.conn):
        loaded = writer.services.definitions.load(stored)
        definition = loaded.definition
        start = definition.states.get(definition.start)
        if start is None or start.type is not StateType.EVENT:
            continue
        for ref in (r for on_events in start.on_events for r in on_events.event_refs):
            event_def = definition.events.get(ref)
            if event_def is None or event_def.type != event.type:
                continue
            # Taken before the start, so the new wait does not also find it in the backlog.
            subscriptions.mark_consumed(
                writer.conn, row_id, consumed_by="start", now=writer.now
            )
            row = starting.start_in_transaction(
                writer,
                workflow_id=definition.workflow_id,
                version=definition.version,
                data={},
                variables={},
                headers={},
                business_key=event.attribute(correlation.BUSINESS_KEY_ATTRIBUTE),
                parent=None,
                correlation=correlation.start_correlation(event_def, event),
                by_event=True,
            )
            fresh = instances.lock(writer.conn, row.id)
            assert fresh is not None, "created in this transaction"
            key = (Execution.from_json(fresh.execution).threads[MAIN].wait or {}).get(
                "key"
            )
            subscription = Subscription(
                instance_id=row.id,
                thread_id=MAIN,
                wait_key=str(key),
                event_ref=ref,
                event_type=event.type,
                event_source=None,
                correlation={},
                business_key=row.business_key,
            )
            deliver(writer, loaded, fresh, subscription, event)
            started.append(row.id)
            break
    return started
