"""Advancing a locked instance: run the engine on one activation and commit the outcome.

Every wake-up of an existing instance — a finished call, a fired timer, an arrived event, a
step event, a resumed parent — goes through `advance_locked`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from knflow.engine import interpreter
from knflow.engine.context import ANONYMOUS, InstanceContext
from knflow.engine.execution import Execution
from knflow.engine.outcome import Activation, CallCompleted
from knflow.events.codec import Event
from knflow.runtime import catalog
from knflow.runtime.catalog import LoadedDefinition
from knflow.runtime.instances import correlation
from knflow.runtime.instances.commit import commit_outcome
from knflow.runtime.instances.work import UnitOfWork
from knflow.runtime.services import Services
from knflow.store.instances import InstanceRow
from knflow.store.subscriptions import Subscription


def advance_locked(
    work: UnitOfWork,
    row: InstanceRow,
    activation: Activation,
    *,
    loaded: LoadedDefinition | None = None,
) -> InstanceRow:
    """Advance an instance whose row this unit of work has locked; return the committed row."""
    if loaded is None:
        loaded = load_definition(work, row)
    with step_span(work.services, row, type(activation).__name__):
        outcome = interpreter.advance(
            loaded.definition,
            loaded.evaluator,
            instance_context(row, work.services),
            Execution.from_json(row.execution, workflow_data=row.data),
            activation,
            now=work.now,
        )
        return commit_outcome(work, loaded, row, outcome, is_new=False)


@contextmanager
def step_span(services: Services, row: InstanceRow, activation: str) -> Iterator[None]:
    """Trace and time one step: the engine run to the next wait and its writes."""
    started = time.perf_counter()
    with services.tracer.span(
        f"step {row.workflow_id}",
        attributes={
            "knflow.workflow_id": row.workflow_id,
            "knflow.instance_id": row.id,
            "knflow.activation": activation,
        },
    ):
        yield
    services.metrics.step_duration.labels(row.workflow_id).observe(
        time.perf_counter() - started
    )


def deliver(
    work: UnitOfWork,
    loaded: LoadedDefinition,
    row: InstanceRow,
    subscription: Subscription,
    event: Event,
) -> InstanceRow:
    """Complete the subscribed wait of a locked instance with `event`; return the new row."""
    activation = CallCompleted(
        thread_id=subscription.thread_id,
        key=subscription.wait_key,
        result=correlation.arrival(subscription, loaded, event),
    )
    return advance_locked(work, row, activation, loaded=loaded)


def load_definition(work: UnitOfWork, row: InstanceRow) -> LoadedDefinition:
    """Return the definition `row` runs: the revision it started on (or was migrated to).

    An instance a release before revisions started has none; it runs its version's current
    content, as it always did.
    """
    if row.definition_revision is None:
        return catalog.load(
            work.conn, work.services.definitions, row.workflow_id, row.workflow_version
        )
    return catalog.load_revision(
        work.conn, work.services.definitions, row.workflow_id, row.definition_revision
    )


def instance_context(row: InstanceRow, services: Services) -> InstanceContext:
    """Return what expressions of `row` see about their instance."""
    return InstanceContext(
        instance_id=row.id,
        headers=row.headers or {},
        secrets=services.settings.secrets,
        input=row.input,
        identity=row.initiator or ANONYMOUS,
    )
