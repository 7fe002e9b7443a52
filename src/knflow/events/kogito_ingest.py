"""Incoming Kogito events (process, definition, job) parsed into typed changes.

Accepts what the SonataFlow runtime, the Jobs Service and knflow itself send to a Data
Index: the `*DataEvent` types, `ProcessDefinitionEvent`, `JobEvent` and the JSON
`MultipleProcessInstanceDataEvent` grouping. This module parses; it never merges or
stores (see `runtime.index_merge`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from knflow.errors import InputError
from knflow.events import codec, types
from knflow.events import kogito_fields as fields
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
JOB_TEXTS: Final = (
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
JOB_INTEGERS: Final = ("priority", "repeatLimit", "retries", "executionCounter")


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
        InputError: the value is neither, or lies outside years 1 to 9999.
    """
    return fields.parse_date(value)


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
        name = fields.text(data, "variableName") or _extension(
            event, "kogitovariablename"
        )
        if not name:
            raise InputError(f"variable event {event.id} names no variable")
        return VariableChange(ref=ref, name=name, value=data.get("variableValue"))
    node_definition_id = fields.text(data, "nodeDefinitionId")
    if node_definition_id is None:
        raise InputError(f"error event {event.id} has no nodeDefinitionId")
    return ErrorChange(
        ref=ref,
        node_definition_id=node_definition_id,
        node_instance_id=fields.text(data, "nodeInstanceId"),
        message=fields.text(data, "errorMessage"),
    )


def _ref(event: Event, data: dict[str, Any], fallback: datetime) -> InstanceRef:
    instance_id = fields.text(data, "processInstanceId") or _extension(
        event, "kogitoprocinstanceid"
    )
    process_id = fields.text(data, "processId") or _extension(event, "kogitoprocid")
    if instance_id is None or process_id is None:
        raise InputError(
            f"event {event.id} does not name its process instance and process"
        )
    version = fields.text(data, "processVersion") or _extension(
        event, "kogitoprocversion"
    )
    return InstanceRef(
        instance_id=instance_id,
        process_id=process_id,
        version=version,
        at=fields.date(data, "eventDate") or fallback,
        user=fields.text(data, "eventUser"),
    )


def _state(event: Event, data: dict[str, Any], ref: InstanceRef) -> StateChange:
    return StateChange(
        ref=ref,
        event_type=fields.integer(data, "eventType"),
        state=_state_number(data.get("state"), event),
        process_name=fields.text(data, "processName"),
        business_key=fields.text(data, "businessKey")
        or _extension(event, "kogitobusinesskey"),
        parent_instance_id=fields.text(data, "parentInstanceId"),
        root_instance_id=fields.text(data, "rootProcessInstanceId"),
        root_process_id=fields.text(data, "rootProcessId"),
        roles=fields.strings(data, "roles"),
        endpoint=event.source,
        addons=_addons(event.extensions.get("kogitoaddons")),
        identity=_extension(event, "kogitoidentity"),
        sla_due_date=fields.date(data, "slaDueDate"),
        cloud_event_id=fields.text(data, "cloudEventId"),
        cloud_event_source=fields.text(data, "cloudEventSource"),
    )


def _node(data: dict[str, Any], ref: InstanceRef) -> NodeChange:
    node_instance_id = fields.text(data, "nodeInstanceId")
    if node_instance_id is None:
        raise InputError(f"node event of instance '{ref.instance_id}' has no id")
    return NodeChange(
        ref=ref,
        event_type=fields.integer(data, "eventType"),
        node_instance_id=node_instance_id,
        node_definition_id=fields.text(data, "nodeDefinitionId"),
        name=fields.text(data, "nodeName"),
        type=fields.text(data, "nodeType"),
        sla_due_date=fields.date(data, "slaDueDate"),
        retrigger=fields.boolean(data, "retrigger"),
        input_args=data.get("inputParameters"),
        output_args=data.get("outputParameters"),
    )


def _definition(
    event: Event, data: dict[str, Any], fallback: datetime
) -> DefinitionChange:
    definition_id = fields.text(data, "id") or _extension(event, "kogitoprocid")
    if definition_id is None:
        raise InputError(f"definition event {event.id} has no id")
    return DefinitionChange(
        id=definition_id,
        version=fields.text(data, "version")
        or _extension(event, "kogitoprocversion")
        or "",
        at=fallback,
        name=fields.text(data, "name"),
        description=fields.text(data, "description"),
        type=fields.text(data, "type"),
        endpoint=fields.text(data, "endpoint") or event.source,
        source=fields.text(data, "source"),
        annotations=fields.strings(data, "annotations"),
        roles=fields.strings(data, "roles"),
        addons=fields.strings(data, "addons"),
        metadata=fields.mapping(data, "metadata"),
        nodes=fields.objects(data, "nodes"),
    )


def _job(data: dict[str, Any], fallback: datetime) -> JobChange:
    job_id = fields.text(data, "id")
    status = fields.text(data, "status")
    if job_id is None or status not in JOB_STATUSES:
        raise InputError(f"job event has no id or an unknown status {status!r}")
    typed: dict[str, Json] = {name: fields.text(data, name) for name in JOB_TEXTS}
    typed.update({name: fields.integer(data, name) for name in JOB_INTEGERS})
    typed["repeatInterval"] = fields.integer(data, "repeatInterval", bound=fields.INT64)
    typed["expirationTime"] = fields.date(data, "expirationTime")
    last_update = fields.date(data, "lastUpdate") or fallback
    return JobChange(id=job_id, status=status, last_update=last_update, fields=typed)


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
    number = fields.integer({"state": value}, "state")
    if number is None or not 0 <= number < len(INSTANCE_STATES):
        raise InputError(f"event {event.id} has an unknown state {value!r}")
    return number


def _extension(event: Event, name: str) -> str | None:
    value = event.extensions.get(name)
    return value if value is not None and value.strip() else None


def _addons(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())
