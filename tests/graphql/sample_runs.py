"""Recorded-style Kogito event sequences of workflow runs, built with `events.kogito`.

Shared by the Data Index tests (merge, GraphQL, function); each run is what the runtime
emits for one instance, in emission order.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from knflow.events import kogito
from knflow.events.codec import Event

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
RUNTIME = "http://runtime.test:8081"


def at(seconds: float) -> datetime:
    """Return T0 plus `seconds`."""
    return T0 + timedelta(seconds=seconds)


def facts(
    instance_id: str, workflow_id: str = "greet", **changes: Any
) -> kogito.InstanceFacts:
    """Return the facts of an ACTIVE instance started at T0."""
    base = kogito.InstanceFacts(
        instance_id=instance_id,
        workflow_id=workflow_id,
        workflow_version="1.0",
        workflow_name=workflow_id.capitalize(),
        endpoint=f"{RUNTIME}/{workflow_id}",
        status="ACTIVE",
        start=T0,
    )
    return replace(base, **changes)


def node(instance_id: str, name: str, number: int, enter: float) -> kogito.NodeFacts:
    """Return a node of `instance_id` entered at T0 + `enter` seconds."""
    return kogito.NodeFacts(
        node_instance_id=f"{instance_id}-node-{number}",
        node_definition_id=name,
        node_name=name,
        node_type="CompositeContextNode",
        enter=at(enter),
    )


def completed_run(
    instance_id: str,
    workflow_id: str = "greet",
    *,
    start: float = 0,
    variables: dict[str, Any] | None = None,
) -> list[Event]:
    """Return the events of an instance that ran two states and completed."""
    active = facts(instance_id, workflow_id, start=at(start))
    done = replace(active, status="COMPLETED", end=at(start + 3))
    first = node(instance_id, "ChooseOnLanguage", 1, start + 1)
    second = node(instance_id, "GreetPerson", 2, start + 2)
    extra = variables or {}
    events = [
        kogito.state_event(active, event_type=1, at=at(start), seq="1"),
        kogito.variable_event(
            active, "workflowdata", {"name": "Ann"}, at=at(start), seq="2"
        ),
    ]
    events += [
        kogito.variable_event(active, name, value, at=at(start), seq=f"v-{name}")
        for name, value in extra.items()
    ]
    events += [
        kogito.node_event(active, first, event_type=1, at=at(start + 1), seq="3"),
        kogito.node_event(active, first, event_type=2, at=at(start + 2), seq="4"),
        kogito.node_event(active, second, event_type=1, at=at(start + 2), seq="5"),
        kogito.node_event(active, second, event_type=2, at=at(start + 3), seq="6"),
        kogito.variable_event(
            done,
            "workflowdata",
            {"name": "Ann", "greeting": "Hello Ann"},
            at=at(start + 3),
            seq="7",
        ),
        kogito.state_event(done, event_type=2, at=at(start + 3), seq="8"),
    ]
    return events


def failed_run(
    instance_id: str, workflow_id: str = "greet", *, start: float = 0
) -> list[Event]:
    """Return the events of an instance whose second state failed."""
    active = facts(instance_id, workflow_id, start=at(start))
    failed = replace(active, status="ERROR")
    first = node(instance_id, "ChooseOnLanguage", 1, start + 1)
    second = node(instance_id, "GreetPerson", 2, start + 2)
    return [
        kogito.state_event(active, event_type=1, at=at(start), seq="1"),
        kogito.variable_event(
            active, "workflowdata", {"name": "Bob"}, at=at(start), seq="2"
        ),
        kogito.node_event(active, first, event_type=1, at=at(start + 1), seq="3"),
        kogito.node_event(active, first, event_type=2, at=at(start + 2), seq="4"),
        kogito.node_event(active, second, event_type=1, at=at(start + 2), seq="5"),
        kogito.error_event(
            failed,
            node_definition_id="GreetPerson",
            node_instance_id=second.node_instance_id,
            message="greeting service failed",
            at=at(start + 3),
            seq="6",
        ),
        kogito.state_event(failed, event_type=5, at=at(start + 3), seq="7"),
    ]


def retriggered_run(instance_id: str, *, start: float = 0) -> list[Event]:
    """Return a failed run that was retriggered and then completed."""
    active = facts(instance_id, start=at(start))
    done = replace(active, status="COMPLETED", end=at(start + 6))
    again = node(instance_id, "GreetPerson", 3, start + 5)
    return [
        *failed_run(instance_id, start=start),
        kogito.state_event(active, event_type=4, at=at(start + 4), seq="8"),
        kogito.node_event(active, again, event_type=1, at=at(start + 5), seq="9"),
        kogito.node_event(active, again, event_type=2, at=at(start + 6), seq="10"),
        kogito.state_event(done, event_type=2, at=at(start + 6), seq="11"),
    ]


def waiting_run(
    instance_id: str, workflow_id: str = "greet", *, start: float = 0
) -> list[Event]:
    """Return the events of an instance waiting in its second state."""
    active = facts(instance_id, workflow_id, start=at(start))
    first = node(instance_id, "ChooseOnLanguage", 1, start + 1)
    second = node(instance_id, "WaitForApproval", 2, start + 2)
    return [
        kogito.state_event(active, event_type=1, at=at(start), seq="1"),
        kogito.variable_event(
            active, "workflowdata", {"name": "Cy"}, at=at(start), seq="2"
        ),
        kogito.node_event(active, first, event_type=1, at=at(start + 1), seq="3"),
        kogito.node_event(active, first, event_type=2, at=at(start + 2), seq="4"),
        kogito.node_event(active, second, event_type=1, at=at(start + 2), seq="5"),
    ]


def definition(
    workflow_id: str = "greet", *, source: str | None = None, **extra: Any
) -> Event:
    """Return the ProcessDefinitionEvent of a two-state workflow."""
    text = (
        source
        if source is not None
        else (
            f'{{"id": "{workflow_id}", "version": "1.0", "specVersion": "0.8",'
            f' "name": "{workflow_id.capitalize()}", "description": "says hello",'
            ' "start": "ChooseOnLanguage", "states": []}'
        )
    )
    return kogito.definition_event(
        workflow_id=workflow_id,
        version="1.0",
        name=workflow_id.capitalize(),
        description="says hello",
        annotations=["greeting"],
        endpoint=f"{RUNTIME}/{workflow_id}",
        source_text=text,
        metadata=extra.get("metadata", {"Description": "says hello"}),
        nodes=[
            {
                "id": "ChooseOnLanguage",
                "name": "ChooseOnLanguage",
                "type": "switch",
                "uniqueId": "ChooseOnLanguage",
                "metadata": {
                    "UniqueId": "ChooseOnLanguage",
                    "state": "ChooseOnLanguage",
                },
            },
        ],
        at=extra.get("at", T0),
    )
