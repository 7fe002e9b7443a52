"""Builders of the Kogito process events the runtime emits toward the Data Index.

Shapes follow the SonataFlow runtime (kogito-events-api `*EventBody`, envelope
attributes `kogito*`). Event ids are uuid5 values of (instance id, kind, seq), so
that an event re-emitted after a crash carries the same id. This module builds events;
it never sends them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from knflow import uuids
from knflow.engine.open_nodes import END_NODE_ID, START_NODE_ID, STATE_NODE_TYPE
from knflow.events import types
from knflow.events.codec import Event
from knflow.workflow.model import Definition, Json

EVENT_ID_NAMESPACE: Final = uuid.UUID("6c1f0c55-8a3e-4b8e-9d0e-0b5f3c2a9e71")
"""Namespace of the uuid5 event ids; never change it (ids would stop de-duplicating)."""

PROCESS_TYPE: Final = "SW"

# ProcessInstanceState ordinals, as the Data Index stores and the events carry them.
INSTANCE_STATES: Final = (
    "PENDING",
    "ACTIVE",
    "COMPLETED",
    "ABORTED",
    "SUSPENDED",
    "ERROR",
)

STATE_STARTED: Final = 1
STATE_ENDED: Final = 2
STATE_MIGRATED: Final = 3
STATE_RETRIGGERED: Final = 4
STATE_UPDATED: Final = 5

NODE_ENTER: Final = 1
NODE_EXIT: Final = 2
NODE_ABORTED: Final = 3
NODE_SKIPPED: Final = 4
NODE_OBSOLETE: Final = 5
NODE_ERROR: Final = 6
NODE_UPDATED: Final = 7


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceFacts:
    """What every process event says about its instance."""

    instance_id: str
    """The instance id (`kogitoprocinstanceid`, `partitionkey`)."""
    workflow_id: str
    """The definition id (`kogitoprocid`, `processId`)."""
    workflow_version: str
    """The version of the revision it runs (`kogitoprocversion`, `processVersion`)."""
    workflow_name: str
    """The definition name (`processName`)."""
    endpoint: str
    """`<service url>/<workflow id>`; becomes the CloudEvent `source`."""
    status: str
    """ACTIVE, COMPLETED, ERROR, ABORTED, SUSPENDED (or PENDING)."""
    start: datetime
    """When the instance started."""
    end: datetime | None = None
    """When the instance ended, if it did."""
    business_key: str | None = None
    """The business key, if any."""
    parent_instance_id: str | None = None
    """The parent instance of a subflow."""
    root_instance_id: str | None = None
    """The root instance of a subflow tree."""
    root_workflow_id: str | None = None
    """The definition id of the root instance."""
    identity: str | None = None
    """Who acted (`eventUser`, `kogitoidentity`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeFacts:
    """One node instance (a step: a state or action run) of an instance."""

    node_instance_id: str
    """Unique per run of the node."""
    node_definition_id: str
    """The node's id in the definition (`nodeDefinitionId`)."""
    node_name: str
    """Display name (the state or action name)."""
    node_type: str
    """Engine node type (`StartNode`, `ActionNode`, `CompositeContextNode`, ...)."""
    enter: datetime
    """When the node was entered."""
    exit: datetime | None = None
    """When the node was left, if it was."""
    retrigger: bool = False
    """The node runs again in place of an abandoned one (a retrigger)."""


def state_number(status: str) -> int:
    """Return the ProcessInstanceState ordinal of `status` (ACTIVE is 1).

    Raises:
        ValueError: `status` is not a ProcessInstanceState name.
    """
    return INSTANCE_STATES.index(status.upper())


def event_id(instance_id: str, kind: str, seq: str) -> str:
    """Return the deterministic id of the `seq`-th event of `kind` about an instance."""
    return uuids.name_based(EVENT_ID_NAMESPACE, f"{instance_id}\x1f{kind}\x1f{seq}")


def render_date(moment: datetime) -> str:
    """Render a date as the Data Index prints it: UTC, milliseconds, `Z`.

    Through `isoformat`, half the time of `strftime` (a list page renders dozens), and
    like Java it pads a year to four digits, where glibc's `%Y` does not.
    """
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return utc.isoformat(timespec="milliseconds")[:ISO_MILLISECONDS] + "Z"


ISO_MILLISECONDS: Final = len("2024-01-01T00:00:00.000")
"""The length of an `isoformat` rendering up to its milliseconds (the offset cut off)."""
ISO_MICROSECONDS: Final = len("2024-01-01T00:00:00.000000")
"""The length of an `isoformat` rendering up to its microseconds (the offset cut off)."""


def event_date(moment: datetime) -> str:
    """Render an event's `eventDate`: UTC, microseconds, `Z` (ISO-8601).

    Commits of one instance that share a transaction are a microsecond apart (in commit
    order); the Data Index merges by these dates, so they must survive the rendering.
    A commit renders a dozen: through `isoformat`, as `render_date`.
    """
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return utc.isoformat(timespec="microseconds")[:ISO_MICROSECONDS] + "Z"


def state_event(
    facts: InstanceFacts, *, event_type: int, at: datetime, seq: str
) -> Event:
    """Build a ProcessInstanceStateDataEvent.

    `event_type`: 1 STARTED, 2 ENDED, 4 RETRIGGERED, 5 UPDATED. The state number comes
    from `facts.status`, except that STARTED says ACTIVE (as the runtime does) unless the
    instance was accepted into its workflow's queue (PENDING).
    """
    state = state_number(facts.status)
    if event_type == STATE_STARTED and facts.status != "PENDING":
        state = INSTANCE_STATES.index("ACTIVE")
    data: dict[str, Any] = {
        "eventDate": event_date(at),
        "eventUser": facts.identity,
        "eventType": event_type,
        "processId": facts.workflow_id,
        "processVersion": facts.workflow_version,
        "processType": PROCESS_TYPE,
        "processInstanceId": facts.instance_id,
        "businessKey": facts.business_key,
        "processName": facts.workflow_name,
        "parentInstanceId": facts.parent_instance_id,
        "rootProcessId": facts.root_workflow_id,
        "rootProcessInstanceId": facts.root_instance_id,
        "state": state,
        "roles": [],
        "slaDueDate": None,
    }
    kind = f"state-{event_type}"
    return _instance_event(
        facts,
        types.PROCESS_INSTANCE_STATE,
        data,
        kind=kind,
        at=at,
        seq=seq,
        state=state,
    )


def node_event(
    facts: InstanceFacts,
    node: NodeFacts,
    *,
    event_type: int,
    at: datetime,
    seq: str,
) -> Event:
    """Build a ProcessInstanceNodeDataEvent (1 ENTER, 2 EXIT, 3 ABORTED, 6 ERROR).

    `retrigger` is carried as the runtime's binary events carry it (its JSON events lose
    it to a Jackson accessor quirk); the Data Index summary prints "Workflow retriggered".
    """
    data: dict[str, Any] = {
        "eventDate": event_date(at),
        "eventUser": facts.identity,
        "eventType": event_type,
        "processId": facts.workflow_id,
        "processVersion": facts.workflow_version,
        "processInstanceId": facts.instance_id,
        "connectionNodeDefinitionId": None,
        "nodeDefinitionId": node.node_definition_id,
        "nodeName": node.node_name,
        "nodeType": node.node_type,
        "nodeInstanceId": node.node_instance_id,
        "workItemId": None,
        "slaDueDate": None,
        "retrigger": node.retrigger,
        "inputParameters": None,
        "outputParameters": None,
        "data": {},
    }
    kind = f"node-{node.node_instance_id}-{event_type}"
    return _instance_event(
        facts, types.PROCESS_INSTANCE_NODE, data, kind=kind, at=at, seq=seq
    )


def variable_event(
    facts: InstanceFacts, name: str, value: Json, *, at: datetime, seq: str
) -> Event:
    """Build a ProcessInstanceVariableDataEvent setting variable `name` to `value`."""
    data: dict[str, Any] = {
        "eventDate": event_date(at),
        "eventUser": facts.identity,
        "processId": facts.workflow_id,
        "processVersion": facts.workflow_version,
        "processInstanceId": facts.instance_id,
        "nodeContainerDefinitionId": None,
        "nodeContainerInstanceId": None,
        "variableId": name,
        "variableName": name,
        "variableValue": value,
    }
    return _instance_event(
        facts,
        types.PROCESS_INSTANCE_VARIABLE,
        data,
        kind=f"variable-{name}",
        at=at,
        seq=seq,
        extra={"kogitovariablename": name},
    )


def error_event(
    facts: InstanceFacts,
    *,
    node_definition_id: str,
    node_instance_id: str | None,
    message: str,
    at: datetime,
    seq: str,
) -> Event:
    """Build a ProcessInstanceErrorDataEvent; the Data Index then shows ERROR.

    Without `node_instance_id` only the instance is marked (a rebuild's snapshot, which
    knows the failed state but not the node instance the purged history named).
    """
    data: dict[str, Any] = {
        "eventDate": event_date(at),
        "eventUser": facts.identity,
        "processId": facts.workflow_id,
        "processVersion": facts.workflow_version,
        "processInstanceId": facts.instance_id,
        "nodeDefinitionId": node_definition_id,
        "nodeInstanceId": node_instance_id,
        "errorMessage": message,
    }
    return _instance_event(
        facts, types.PROCESS_INSTANCE_ERROR, data, kind="error", at=at, seq=seq
    )


def grouped_event(events: Sequence[Event], *, state: int) -> Event:
    """Group the process events of one instance's commit into one `MultipleProcessInstanceDataEvent`.

    Kogito's grouped format (a JSON array of structured CloudEvents), which the Data Index
    ingests in one transaction: one broker delivery instead of one per node and variable.
    The envelope names the instance and its state after the commit (`kogitoprocist`), so a
    Trigger can route the groups that end an instance (notify) by attribute. Its id derives
    from the grouped ids, so a repeated commit repeats it.
    """
    first, last = events[0], events[-1]
    digest = "\x1f".join(event.id for event in events)
    kept = (
        "kogitoprocinstanceid",
        "kogitoprocid",
        "kogitoprocversion",
        "kogitoproctype",
    )
    extensions = {
        name: value for name, value in first.extensions.items() if name in kept
    }
    instance_id = extensions.get("kogitoprocinstanceid", "")
    return Event(
        id=uuids.name_based(EVENT_ID_NAMESPACE, f"group\x1f{digest}"),
        source=first.source,
        type=types.PROCESS_INSTANCE_MULTIPLE,
        time=last.time,
        data=[event.to_dict() for event in events],
        extensions={
            **extensions,
            "kogitoprocist": str(state),
            "partitionkey": instance_id,
        },
    )


def merged_groups(groups: Sequence[Event]) -> Event:
    """Merge grouped events of one instance, in commit order, into one grouped event.

    What one request committed in several units of work (a start and each call after it)
    reaches the Data Index as one delivery: the inner events keep their own ids and dates,
    which is all the Data Index merges by, and the envelope is the last group's (the
    instance's state once the request is done). The id derives from the merged ids.
    """
    if len(groups) == 1:
        return groups[0]
    last = groups[-1]
    digest = "\x1f".join(group.id for group in groups)
    inner = [
        item for group in groups if isinstance(group.data, list) for item in group.data
    ]
    return Event(
        id=uuids.name_based(EVENT_ID_NAMESPACE, f"merged\x1f{digest}"),
        source=last.source,
        type=types.PROCESS_INSTANCE_MULTIPLE,
        time=last.time,
        data=inner,
        extensions=dict(last.extensions),
    )


def definition_event(
    *,
    workflow_id: str,
    version: str,
    name: str,
    description: str | None,
    annotations: Sequence[str],
    endpoint: str,
    source_text: str,
    metadata: Mapping[str, Json],
    nodes: Sequence[Mapping[str, Json]],
    at: datetime,
) -> Event:
    """Build a ProcessDefinitionEvent announcing a registered definition.

    The id is derived from the content and the moment `at`: each registration or
    withdrawal is a new event, even one that goes back to an earlier content (the outbox
    drops a repeated id), while the same announcement built again keeps its id.
    """
    data: dict[str, Any] = {
        "id": workflow_id,
        "name": name,
        "description": description,
        "version": version,
        "type": PROCESS_TYPE,
        "roles": [],
        "addons": [],
        "annotations": list(annotations),
        "endpoint": endpoint,
        "source": source_text,
        "metadata": dict(metadata),
        "nodes": [dict(node) for node in nodes],
    }
    digest = hashlib.sha256(
        json.dumps(data, sort_keys=True, default=str).encode("utf-8")
    ).hexdigest()
    return Event(
        id=event_id(
            f"{workflow_id}:{version}", "definition", f"{digest}@{at.isoformat()}"
        ),
        source=endpoint or f"/{workflow_id}",
        type=types.PROCESS_DEFINITION,
        time=at,
        data=data,
        extensions={
            "kogitoprocid": workflow_id,
            "kogitoprocversion": version,
            "kogitoproctype": PROCESS_TYPE,
        },
    )


def registered_definition_event(
    definition: Definition,
    *,
    source_text: str,
    endpoint: str,
    status: str,
    at: datetime,
) -> Event:
    """Build the ProcessDefinitionEvent of a registered definition.

    The one builder of the announcement: registration, withdrawal and `knflow index
    rebuild` all use it, so a rebuilt Data Index answers as the live one did. `status`
    (`available` or `unavailable`) goes in `metadata.status`, where the SonataFlow operator
    puts it and the Orchestrator plugin reads it.
    """
    return definition_event(
        workflow_id=definition.workflow_id,
        version=definition.version,
        name=definition.name,
        description=definition.description,
        annotations=list(definition.annotations),
        endpoint=endpoint,
        source_text=source_text,
        metadata=definition_metadata(definition, status=status),
        nodes=definition_nodes(definition),
        at=at,
    )


def definition_metadata(definition: Definition, *, status: str) -> dict[str, Json]:
    """Return the process metadata SonataFlow announces, plus the `status`.

    The workflow's own `metadata`, then, as SonataFlow adds them, its `Description` and
    `annotations` when it has some.
    """
    metadata: dict[str, Json] = dict(definition.metadata)
    if definition.description:
        metadata.setdefault("Description", definition.description)
    if definition.annotations:
        metadata.setdefault("annotations", list(definition.annotations))
    metadata["status"] = status
    return metadata


def definition_nodes(definition: Definition) -> list[dict[str, Json]]:
    """Return the `nodes` of a ProcessDefinitionEvent: Start, one per state, End.

    A state's node id is the `nodeDefinitionId` of the node events about its visits (the
    state's index), and the node ids a trigger (`POST .../nodes/{nodeId}`) accepts.
    """
    nodes = [_node(START_NODE_ID, "Start", "StartNode")]
    for state in definition.states.values():
        nodes.append(_node(str(state.index), state.name, STATE_NODE_TYPE, state.name))
    nodes.append(_node(END_NODE_ID, "End", "EndNode"))
    return nodes


def _node(
    node_id: str, name: str, node_type: str, state: str | None = None
) -> dict[str, Json]:
    metadata: dict[str, Json] = {"UniqueId": node_id}
    if state is not None:
        metadata["state"] = state
    return {
        "id": node_id,
        "name": name,
        "type": node_type,
        "uniqueId": node_id,
        "metadata": metadata,
    }


def _instance_event(
    facts: InstanceFacts,
    event_type: str,
    data: dict[str, Any],
    *,
    kind: str,
    at: datetime,
    seq: str,
    state: int | None = None,
    extra: Mapping[str, str] | None = None,
) -> Event:
    return Event(
        id=event_id(facts.instance_id, kind, seq),
        source=facts.endpoint or f"/{facts.workflow_id}",
        type=event_type,
        time=at,
        data=data,
        extensions={**_envelope(facts, state), **(extra or {})},
    )


def _envelope(facts: InstanceFacts, state: int | None) -> dict[str, str]:
    number = state if state is not None else state_number(facts.status)
    optional = {
        "kogitoparentprociid": facts.parent_instance_id,
        "kogitorootprociid": facts.root_instance_id,
        "kogitorootprocid": facts.root_workflow_id,
        "kogitobusinesskey": facts.business_key,
        "kogitoidentity": facts.identity,
    }
    return {
        "kogitoprocinstanceid": facts.instance_id,
        "kogitoprocid": facts.workflow_id,
        "kogitoprocversion": facts.workflow_version,
        "kogitoprocist": str(number),
        "kogitoproctype": PROCESS_TYPE,
        **{key: value for key, value in optional.items() if value},
        "partitionkey": facts.instance_id,
    }
