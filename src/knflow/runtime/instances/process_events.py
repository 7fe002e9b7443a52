"""The Kogito process events of one commit: what the Data Index learns about an instance.

Built from the committed row and the engine's outcome (its node traces and status), in the
shapes of `events.kogito`; the caller queues them in the same transaction.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Final

from knflow.config import Settings
from knflow.engine.outcome import ENDED, InstanceStatus, Outcome
from knflow.events import kogito
from knflow.events.codec import Event
from knflow.runtime import catalog
from knflow.runtime.catalog import LoadedDefinition
from knflow.store.instances import InstanceRow

NODE_EVENT_TYPES: Final = {
    "enter": kogito.NODE_ENTER,
    "exit": kogito.NODE_EXIT,
    "abort": kogito.NODE_ABORTED,  # a node instance a management intervention abandoned
}


def for_commit(
    loaded: LoadedDefinition,
    row: InstanceRow,
    outcome: Outcome,
    *,
    settings: Settings,
    now: datetime,
    is_new: bool,
) -> list[Event]:
    """Return the events of one commit: start, variables, node enter/exit/error, end."""
    facts = instance_facts(loaded, row, settings)
    # Several commits of one instance can share a transaction (an event start, a finished
    # subflow); a per-revision tick keeps their event dates in commit order, which the Data
    # Index uses to merge events delivered out of order.
    moment = now + timedelta(microseconds=row.revision)
    seq = _sequence(row.revision)
    events: list[Event] = []
    if is_new:
        started = dataclasses.replace(facts, status=InstanceStatus.ACTIVE)
        events.append(
            kogito.state_event(
                started, event_type=kogito.STATE_STARTED, at=moment, seq=next(seq)
            )
        )
        for name, value in (row.variables or {}).items():
            events.append(
                kogito.variable_event(facts, name, value, at=moment, seq=next(seq))
            )
    events += _node_events(facts, outcome, moment, seq)
    if outcome.data_changed or is_new:
        events.append(
            kogito.variable_event(
                facts, "workflowdata", row.data, at=moment, seq=next(seq)
            )
        )
    if row.status in ENDED:
        event_type = (
            kogito.STATE_UPDATED
            if row.status is InstanceStatus.ERROR
            else kogito.STATE_ENDED
        )
        events.append(
            kogito.state_event(facts, event_type=event_type, at=moment, seq=next(seq))
        )
    return events


def queued(
    loaded: LoadedDefinition, row: InstanceRow, *, settings: Settings, now: datetime
) -> list[Event]:
    """Return the events of an instance accepted into its workflow's queue (PENDING).

    Its start and input are known already; the node events follow when a slot frees.
    """
    facts = instance_facts(loaded, row, settings)
    seq = _sequence(row.revision)
    events = [
        kogito.state_event(
            facts, event_type=kogito.STATE_STARTED, at=now, seq=next(seq)
        )
    ]
    values = {**(row.variables or {}), "workflowdata": row.data}
    events += [
        kogito.variable_event(facts, name, value, at=now, seq=next(seq))
        for name, value in values.items()
    ]
    return events


def state_change(
    loaded: LoadedDefinition,
    row: InstanceRow,
    *,
    settings: Settings,
    now: datetime,
    event_type: int,
) -> Event:
    """Return the state event of a management change (abort: 2, retrigger: 4)."""
    facts = instance_facts(loaded, row, settings)
    return kogito.state_event(
        facts, event_type=event_type, at=now, seq=f"{row.revision}.m"
    )


def snapshot(
    row: InstanceRow,
    *,
    workflow_name: str,
    workflow_version: str,
    failed_node_id: str | None,
    settings: Settings,
) -> list[Event]:
    """Return the events that tell the Data Index what the runtime holds of an instance now.

    `knflow index rebuild` applies them after replaying the outbox rows retention kept, so
    the state, variables, dates and error are whole however much history was purged; the
    node history is what those kept rows hold. Dated by the row's own times, they never
    move the projection backwards. `failed_node_id` is the Data Index node id of the
    state an ERROR instance failed in; `workflow_version` the version its revision shows.
    """
    facts = _facts(
        row, settings, workflow_name=workflow_name, workflow_version=workflow_version
    )
    seq = (f"snapshot.{number}" for number in itertools.count())
    started = (
        facts  # a queued instance started nothing yet
        if row.status is InstanceStatus.PENDING
        else dataclasses.replace(facts, status=InstanceStatus.ACTIVE)
    )
    events = [
        kogito.state_event(
            started, event_type=kogito.STATE_STARTED, at=row.started_at, seq=next(seq)
        )
    ]
    values = {**(row.variables or {}), "workflowdata": row.data}
    events += [
        kogito.variable_event(facts, name, value, at=row.updated_at, seq=next(seq))
        for name, value in values.items()
    ]
    if row.status is InstanceStatus.ERROR:
        events.append(
            kogito.error_event(
                facts,
                node_definition_id=failed_node_id or "",
                node_instance_id=row.error_node,
                message=row.error_message or "",
                at=row.updated_at,
                seq=next(seq),
            )
        )
    ended = row.status in ENDED and row.status is not InstanceStatus.ERROR
    event_type = kogito.STATE_ENDED if ended else kogito.STATE_UPDATED
    events.append(
        kogito.state_event(
            facts, event_type=event_type, at=row.updated_at, seq=next(seq)
        )
    )
    return events


def instance_facts(
    loaded: LoadedDefinition, row: InstanceRow, settings: Settings
) -> kogito.InstanceFacts:
    """Return what the process events say about the instance."""
    return _facts(
        row,
        settings,
        workflow_name=loaded.definition.name,
        workflow_version=loaded.stored.shown_version,
    )


def _facts(
    row: InstanceRow, settings: Settings, *, workflow_name: str, workflow_version: str
) -> kogito.InstanceFacts:
    return kogito.InstanceFacts(
        instance_id=row.id,
        workflow_id=row.workflow_id,
        workflow_version=workflow_version,
        workflow_name=workflow_name,
        endpoint=catalog.endpoint(settings, row.workflow_id),
        status=row.status,
        start=row.started_at,
        end=row.ended_at,
        business_key=row.business_key,
        parent_instance_id=row.parent_instance_id,
        root_instance_id=row.root_instance_id,
        root_workflow_id=row.root_workflow_id,
        identity=_identity(row.variables),
    )


def _node_events(
    facts: kogito.InstanceFacts, outcome: Outcome, moment: datetime, seq: Iterator[str]
) -> list[Event]:
    events = []
    for trace in outcome.trace:
        if trace.event == "error":
            events.append(
                kogito.error_event(
                    facts,
                    node_definition_id=trace.node_id,
                    node_instance_id=trace.node_instance_id,
                    message=trace.message or "",
                    at=moment,
                    seq=next(seq),
                )
            )
            continue
        node = kogito.NodeFacts(
            node_instance_id=trace.node_instance_id,
            node_definition_id=trace.node_id,
            node_name=trace.name,
            node_type=trace.node_type,
            enter=moment,
            exit=None if trace.event == "enter" else moment,
            retrigger=trace.retrigger,
        )
        event_type = NODE_EVENT_TYPES[trace.event]
        events.append(
            kogito.node_event(
                facts, node, event_type=event_type, at=moment, seq=next(seq)
            )
        )
    return events


def _sequence(revision: int) -> Iterator[str]:
    """Deterministic discriminators of the events of one commit (their ids derive from them)."""
    number = 0
    while True:
        yield f"{revision}.{number}"
        number += 1


def _identity(variables: Any) -> str | None:
    if isinstance(variables, dict) and isinstance(
        variables.get("initiatorEntity"), str
    ):
        return str(variables["initiatorEntity"])
    return None
