"""The active-instance limit of a workflow: starts beyond it queue as PENDING, in order.

A workflow whose definition declares `knflow.maxActiveInstances` (or that the deployment's
`KNFLOW_MAX_ACTIVE_INSTANCES` names) runs at most that many instances at once. A start beyond
the limit is accepted and stored PENDING (the Data Index shows Kogito's PENDING state); the unit
of work that ends one of its instances starts the oldest queued ones, and the reconcile tick
starts whatever a raised limit freed. Counting and changing a workflow's slots happens under a
per-workflow advisory lock, so several processes never both take the last slot.
"""

from __future__ import annotations

import dataclasses
import logging

from knflow.engine import interpreter
from knflow.engine.outcome import InstanceStatus
from knflow.errors import NotFoundError
from knflow.events import codec, kogito
from knflow.events.codec import Event
from knflow.runtime import catalog
from knflow.runtime.catalog import LoadedDefinition
from knflow.runtime.instances import limits, process_events, start_events
from knflow.runtime.instances.advancing import (
    instance_context,
    load_definition,
    step_span,
)
from knflow.runtime.instances.commit import commit_outcome
from knflow.runtime.instances.work import UnitOfWork
from knflow.store import flow_control, instances
from knflow.store.instances import InstanceRow

logger = logging.getLogger(__name__)


def has_slot(work: UnitOfWork, loaded: LoadedDefinition) -> bool:
    """Return whether a new instance of `loaded` may start now rather than queue.

    It may when the workflow is unlimited, or below its limit with nobody queued (a new
    start never overtakes the queue). Takes the workflow's slot lock for the transaction.
    """
    limit = limits.max_active(work.services.settings, loaded)
    if limit is None:
        return True
    workflow_id = loaded.definition.workflow_id
    flow_control.lock_slots(work.conn, workflow_id)
    slots = flow_control.count_slots(work.conn, workflow_id)
    return slots.pending == 0 and slots.active < limit


def enqueue(
    work: UnitOfWork, loaded: LoadedDefinition, row: InstanceRow
) -> InstanceRow:
    """Store a new instance as PENDING and announce it to the Data Index; return its row."""
    queued = dataclasses.replace(row, status=InstanceStatus.PENDING)
    instances.insert(work.conn, queued)
    work.queue_process_events(
        queued.id,
        process_events.queued(
            loaded, queued, settings=work.services.settings, now=work.now
        ),
        state=kogito.state_number(queued.status),
    )
    logger.info(
        "instance queued",
        extra={"workflow_id": queued.workflow_id, "instance_id": queued.id},
    )
    return queued


def start_queued(work: UnitOfWork, workflow_id: str) -> int:
    """Start the oldest queued instances of a workflow while it has free slots; return how many.

    The limit is the newest definition's (or the deployment's); started instances run on the
    revision they were accepted on.
    """
    try:
        newest = catalog.load(work.conn, work.services.definitions, workflow_id)
    except NotFoundError:  # withdrawn: its queue waits until it is registered again
        return 0
    limit = limits.max_active(work.services.settings, newest)
    flow_control.lock_slots(work.conn, workflow_id)
    slots = flow_control.count_slots(work.conn, workflow_id)
    free = slots.pending if limit is None else min(slots.pending, limit - slots.active)
    if free <= 0:
        return 0
    started = 0
    for instance_id in flow_control.lock_oldest_pending(work.conn, workflow_id, free):
        row = instances.lock(work.conn, instance_id)
        if row is not None and row.status is InstanceStatus.PENDING:
            _start(work, row)
            started += 1
    return started


def keep_start_event(
    work: UnitOfWork, instance_id: str, ref: str, event: Event
) -> None:
    """Keep the event that started a queued instance, to hand it over when it starts."""
    flow_control.keep_start_event(work.conn, instance_id, ref, event.to_dict())


def queued_workflows(work: UnitOfWork) -> list[str]:
    """Return the workflows with queued instances (the reconcile offers each its slots)."""
    return flow_control.queued_workflows(work.conn)


def _start(work: UnitOfWork, row: InstanceRow) -> None:
    """Run a queued instance from its input to its first wait, as its start would have."""
    loaded = load_definition(work, row)  # the revision it was accepted on
    with step_span(work.services, row, "Start"):
        outcome = interpreter.start(
            loaded.definition,
            loaded.evaluator,
            instance_context(row, work.services),
            data=row.input if row.input is not None else row.data,
            now=work.now,
        )
        commit_outcome(work, loaded, row, outcome, is_new=True)
    kept = flow_control.take_start_event(work.conn, row.id)
    if kept is not None:  # an event-started instance: the event it was accepted for
        ref, event = kept
        start_events.hand_start_event(work, loaded, row.id, ref, codec.from_dict(event))
