"""Incoming Kogito events (process, definition, job) parsed into typed changes.

Accepts what the SonataFlow runtime, the Jobs Service and knflow itself send to a Data
Index: the `*DataEvent` types, `ProcessDefinitionEvent`, `JobEvent` and the JSON
`MultipleProcessInstanceDataEvent` grouping. This module parses; it never merges or
stores (see `runtime.index_merge`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from knflow.errors import InputError
from knflow.events import codec, types
from knflow.events.codec import Event
from knflow.events.kogito import INSTANCE_STATES
from knflow.workflow.model import Json

LEGACY_TYPES: Final = frozenset(
    {"ProcessInstanceEvent", "VariableInstanceEvent", "UserTaskInstanceEvent"}
)
JOB_STATUSES: Final = frozenset(
    {"ERROR", "RUNNING", "EXECUTED", "SCHEDULED", "RETRY", "CANCELED"}
)
CANCEL_TYPES: Final = {3: "ABORTED", 4: "SKIPPED", 5: "OBSOLETE", 6: "ERROR"}


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceRef:
    """Which instance an event is about, and when it happened."""

    instance_id: str
    """`processInstanceId` / `kogitoprocinstanceid`."""
    process_id: str
    """`processId` / `kogitoprocid`."""
    version: str | None
    """`processVersion` / `kogitoprocversion`."""
    at: datetime
    """`eventDate`, else the CloudEvent time."""
    user: str | None
    """`eventUser`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChange:
    """A ProcessInstanceStateDataEvent."""

    ref: InstanceRef
    """The instance."""
    event_type: int | None
    """1 STARTED, 2 ENDED, 3 MIGRATED, 4 RETRIGGERED, 5 UPDATED."""
    state: int | None
    """ProcessInstanceState ordinal."""
    process_name: str | None = None
    """`processName`."""
    business_key: str | None = None
    """`businessKey`."""
    parent_instance_id: str | None = None
    """`parentInstanceId`."""
    root_instance_id: str | None = None
    """`rootProcessInstanceId`."""
    root_process_id: str | None = None
    """`rootProcessId`."""
    roles: tuple[str, ...] | None = None
    """`roles`."""
    endpoint: str | None = None
    """The CloudEvent source."""
    addons: tuple[str, ...] | None = None
    """`kogitoaddons`, split."""
    identity: str | None = None
    """`kogitoidentity`."""
    sla_due_date: datetime | None = None
    """`slaDueDate`."""
    cloud_event_id: str | None = None
    """`cloudEventId` (the event that started the instance)."""
    cloud_event_source: str | None = None
    """`cloudEventSource`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeChange:
    """A ProcessInstanceNodeDataEvent."""

    ref: InstanceRef
    """The instance."""
    event_type: int | None
    """1 ENTER, 2 EXIT, 3 ABORTED, 4 SKIPPED, 5 OBSOLETE, 6 ERROR, 7 UPDATED."""
    node_instance_id: str
    """`nodeInstanceId`."""
    node_definition_id: str | None
    """`nodeDefinitionId`."""
    name: str | None
    """`nodeName`."""
    type: str | None
    """`nodeType`."""
    sla_due_date: datetime | None = None
    """`slaDueDate`."""
    retrigger: bool | None = None
    """`retrigger`, when the sender includes it."""
    input_args: Json = None
    """`inputParameters`."""
    output_args: Json = None
    """`outputParameters`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VariableChange:
    """A ProcessInstanceVariableDataEvent."""

    ref: InstanceRef
    """The instance."""
    name: str
    """`variableName`; dots make nested objects."""
    value: Json
    """`variableValue`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorChange:
    """A ProcessInstanceErrorDataEvent."""

    ref: InstanceRef
    """The instance."""
    node_definition_id: str
    """`nodeDefinitionId`."""
    node_instance_id: str | None
    """`nodeInstanceId`."""
    message: str | None
    """`errorMessage`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DefinitionChange:
    """A ProcessDefinitionEvent."""

    id: str
    """Definition id."""
    version: str
    """Definition version."""
    at: datetime
    """The CloudEvent time."""
    name: str | None
    """`name`."""
    description: str | None
    """`description`."""
    type: str | None
    """`type`."""
    endpoint: str | None
    """`endpoint`, else the CloudEvent source."""
    source: str | None
    """The definition text."""
    annotations: tuple[str, ...] | None
    """`annotations`."""
    roles: tuple[str, ...] | None
    """`roles`."""
    addons: tuple[str, ...] | None
    """`addons`."""
    metadata: Mapping[str, Json] | None
    """`metadata` (deep-merged into what is stored)."""
    nodes: tuple[Mapping[str, Json], ...] | None
    """`nodes`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobChange:
    """A JobEvent: the whole job as the Jobs Service sees it."""

    id: str
    """Job id."""
    status: str
    """SCHEDULED, EXECUTED, RETRY, ERROR, CANCELED, RUNNING."""
    last_update: datetime
    """`lastUpdate`, else the CloudEvent time."""
    fields: Mapping[str, Json]
    """The other fields, by their GraphQL names, already typed (dates as datetimes)."""


Change = (
    StateChange
    | NodeChange
    | VariableChange
    | ErrorChange
    | DefinitionChange
    | JobChange
)


def parse_event(event: Event, *, received_at: datetime) -> list[Change]:
    """Return the changes `event` carries (several for a grouped event).

    `received_at` stands in for the date of an event that carries none.

    Raises:
        InputError: the type is not a Data Index type, or the body is malformed.
    """
    if event.type in LEGACY_TYPES:
        raise InputError(
            f"event type '{event.type}' is the legacy Kogito format (before 1.45);"
            " send the ProcessInstance*DataEvent types instead"
        )
    if event.type == types.PROCESS_INSTANCE_MULTIPLE:
        return _parse_grouped(event, received_at=received_at)
    if event.type not in types.DATA_INDEX_TYPES:
        raise InputError(f"event type '{event.type}' is not a Data Index event type")
    data = _object(event.data, event)
    fallback = event.time or received_at
    if event.type == types.PROCESS_DEFINITION:
        return [_definition(event, data, fallback)]
    if event.type == types.JOB_EVENT:
        return [_job(data, fallback)]
    return [_instance_change(event, data, fallback)]


def parse_date(value: object) -> datetime | None:
    """Parse a Kogito date: ISO-8601 text or epoch milliseconds; blank gives None.

    Raises:
        InputError: the value is neither.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InputError(f"date {value!r} is neither ISO-8601 nor epoch milliseconds")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, UTC)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise InputError(f"date '{text}' is not ISO-8601") from error
    return (
        moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    )


def _parse_grouped(event: Event, *, received_at: datetime) -> list[Change]:
    if not isinstance(event.data, list):
        raise InputError(
            "MultipleProcessInstanceDataEvent must carry a JSON array of CloudEvents;"
            " the binary grouping (kogito.events.grouping.binary) is not supported"
        )
    changes: list[Change] = []
    for item in event.data:
        if not isinstance(item, dict):
            raise InputError("a grouped event item is not a JSON object")
        inner = codec.from_dict(item)
        if inner.type == types.PROCESS_INSTANCE_MULTIPLE:
            raise InputError("grouped events cannot nest another group")
        changes.extend(parse_event(inner, received_at=received_at))
    return changes


def _instance_change(event: Event, data: dict[str, Any], fallback: datetime) -> Change:
    ref = _ref(event, data, fallback)
    if event.type == types.PROCESS_INSTANCE_STATE:
        return _state(event, data, ref)
    if event.type == types.PROCESS_INSTANCE_NODE:
        return _node(data, ref)
    if event.type == types.PROCESS_INSTANCE_VARIABLE:
        name = _text(data.get("variableName")) or event.extensions.get(
            "kogitovariablename"
        )
        if not name:
            raise InputError(f"variable event {event.id} names no variable")
        return VariableChange(ref=ref, name=name, value=data.get("variableValue"))
    node_definition_id = _text(data.get("nodeDefinitionId"))
    if node_definition_id is None:
        raise InputError(f"error event {event.id} has no nodeDefinitionId")
    return ErrorChange(
        ref=ref,
        node_definition_id=node_definition_id,
        node_instance_id=_text(data.get("nodeInstanceId")),
        message=_text(data.get("errorMessage")),
    )


def _ref(event: Event, data: dict[str, Any], fallback: datetime) -> InstanceRef:
    instance_id = _text(data.get("processInstanceId")) or _text(
        event.extensions.get("kogitoprocinstanceid")
    )
    process_id = _text(data.get("processId")) or _text(
        event.extensions.get("kogitoprocid")
    )
    if instance_id is None or process_id is None:
        raise InputError(
            f"event {event.id} does not name its process instance and process"
        )
    version = _text(data.get("processVersion")) or _text(
        event.extensions.get("kogitoprocversion")
    )
    return InstanceRef(
        instance_id=instance_id,
        process_id=process_id,
        version=version,
        at=parse_date(data.get("eventDate")) or fallback,
        user=_text(data.get("eventUser")),
    )


def _state(event: Event, data: dict[str, Any], ref: InstanceRef) -> StateChange:
    return StateChange(
        ref=ref,
        event_type=_int(data.get("eventType")),
        state=_state_number(data.get("state"), event),
        process_name=_text(data.get("processName")),
        business_key=_text(data.get("businessKey"))
        or _text(event.extensions.get("kogitobusinesskey")),
        parent_instance_id=_text(data.get("parentInstanceId")),
        root_instance_id=_text(data.get("rootProcessInstanceId")),
        root_process_id=_text(data.get("rootProcessId")),
        roles=_strings(data.get("roles")),
        endpoint=_text(event.source),
        addons=_addons(event.extensions.get("kogitoaddons")),
        identity=_text(event.extensions.get("kogitoidentity")),
        sla_due_date=parse_date(data.get("slaDueDate")),
        cloud_event_id=_text(data.get("cloudEventId")),
        cloud_event_source=_text(data.get("cloudEventSource")),
    )


def _node(data: dict[str, Any], ref: InstanceRef) -> NodeChange:
    node_instance_id = _text(data.get("nodeInstanceId"))
    if node_instance_id is None:
        raise InputError(f"node event of instance '{ref.instance_id}' has no id")
    retrigger = data.get("retrigger")
    return NodeChange(
        ref=ref,
        event_type=_int(data.get("eventType")),
        node_instance_id=node_instance_id,
        node_definition_id=_text(data.get("nodeDefinitionId")),
        name=_text(data.get("nodeName")),
        type=_text(data.get("nodeType")),
        sla_due_date=parse_date(data.get("slaDueDate")),
        retrigger=retrigger if isinstance(retrigger, bool) else None,
        input_args=data.get("inputParameters"),
        output_args=data.get("outputParameters"),
    )


def _definition(
    event: Event, data: dict[str, Any], fallback: datetime
) -> DefinitionChange:
    definition_id = _text(data.get("id")) or _text(event.extensions.get("kogitoprocid"))
    if definition_id is None:
        raise InputError(f"definition event {event.id} has no id")
    metadata = data.get("metadata")
    nodes = data.get("nodes")
    return DefinitionChange(
        id=definition_id,
        version=_text(data.get("version"))
        or _text(event.extensions.get("kogitoprocversion"))
        or "",
        at=fallback,
        name=_text(data.get("name")),
        description=_text(data.get("description")),
        type=_text(data.get("type")),
        endpoint=_text(data.get("endpoint")) or _text(event.source),
        source=_text(data.get("source")),
        annotations=_strings(data.get("annotations")),
        roles=_strings(data.get("roles")),
        addons=_strings(data.get("addons")),
        metadata=metadata if isinstance(metadata, dict) else None,
        nodes=tuple(n for n in nodes if isinstance(n, dict))
        if isinstance(nodes, list)
        else None,
    )


def _job(data: dict[str, Any], fallback: datetime) -> JobChange:
    job_id = _text(data.get("id"))
    status = _text(data.get("status"))
    if job_id is None or status not in JOB_STATUSES:
        raise InputError(f"job event has no id or an unknown status {status!r}")
    fields: dict[str, Json] = {
        name: _text(data.get(name))
        for name in (
            "processId",
            "processInstanceId",
            "nodeInstanceId",
            "rootProcessInstanceId",
            "rootProcessId",
            "callbackEndpoint",
            "scheduledId",
            "endpoint",
            "exceptionMessage",
            "exceptionDetails",
        )
    }
    numbers = (
        "priority",
        "repeatInterval",
        "repeatLimit",
        "retries",
        "executionCounter",
    )
    fields.update({name: _int(data.get(name)) for name in numbers})
    fields["expirationTime"] = parse_date(data.get("expirationTime"))
    last_update = parse_date(data.get("lastUpdate")) or fallback
    return JobChange(id=job_id, status=status, last_update=last_update, fields=fields)


def _object(data: object, event: Event) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InputError(f"event {event.id} of type {event.type} has no JSON object")
    return data


def _state_number(value: object, event: Event) -> int | None:
    if value is None or value == "":
        value = event.extensions.get("kogitoprocist")
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.upper() in INSTANCE_STATES:
        return INSTANCE_STATES.index(value.upper())
    number = _int(value)
    if number is None or not 0 <= number < len(INSTANCE_STATES):
        raise InputError(f"event {event.id} has an unknown state {value!r}")
    return number


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _int(value: object) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(str(value))
    except ValueError as error:
        raise InputError(f"{value!r} is not an integer") from error


def _strings(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(str(item) for item in value if item is not None)


def _addons(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())
