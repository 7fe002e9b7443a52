"""The Data Index merge rules: a stored row plus one change gives the new row (pure).

Rules follow the Kogito Data Index (start/end by event type, variables by name with
dotted names nested, an error sets ERROR and marks its node, a retrigger clears the
error, definitions merged field by field) and are made order-independent: every field
is a maximum or minimum over the events seen, keyed by the event date, so duplicates
and reordering give the same row.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from knflow.events import kogito
from knflow.events.kogito_ingest import (
    CANCEL_TYPES,
    DefinitionChange,
    ErrorChange,
    InstanceRef,
    JobChange,
    NodeChange,
    StateChange,
    VariableChange,
)
from knflow.store.index import (
    IndexedDefinition,
    IndexedInstance,
    IndexedJob,
    IndexedNode,
)
from knflow.workflow.model import Json

ERROR_STATE: Final = kogito.INSTANCE_STATES.index("ERROR")
FINAL_STATES: Final = frozenset(
    {kogito.INSTANCE_STATES.index("COMPLETED"), kogito.INSTANCE_STATES.index("ABORTED")}
)
# Every node event but ENTER and UPDATED is sent when the runtime leaves the node (Kogito's
# afterNodeLeft, the cancel type telling how), so each sets the exit: Kogito's JPA store
# records only the cancel type of a cancelled node, leaving a node the runtime abandoned
# open in the Data Index for ever.
LEFT_EVENT_TYPES: Final = frozenset(
    {
        kogito.NODE_EXIT,
        kogito.NODE_ABORTED,
        kogito.NODE_SKIPPED,
        kogito.NODE_OBSOLETE,
        kogito.NODE_ERROR,
    }
)
# When a node saw several cancel types, the most telling one is shown.
CANCEL_PRECEDENCE: Final = ("OBSOLETE", "SKIPPED", "ABORTED", "ERROR")
_STATE_FIELDS: Final = (
    "version",
    "process_name",
    "business_key",
    "parent_process_instance_id",
    "root_process_instance_id",
    "root_process_id",
    "identity",
    "sla_due_date",
    "cloud_event_id",
    "cloud_event_source",
    "updated_by",
)


def service_url(endpoint: str | None, process_id: str) -> str | None:
    """Return `endpoint` without its trailing `/<processId>` (None when it has none).

    As the Data Index computes it, the process id is taken after its last `.`.
    """
    if not endpoint:
        return None
    suffix = "/" + process_id.rsplit(".", 1)[-1]
    if not endpoint.endswith(suffix):
        return None
    return endpoint[: -len(suffix)]


def merge_state(row: IndexedInstance | None, change: StateChange) -> IndexedInstance:
    """Apply a ProcessInstanceStateDataEvent."""
    merged = _touch(row, change.ref)
    at = change.ref.at
    if change.state is not None:
        merged = _offer_state(merged, change.state, at)
    if change.event_type in (None, kogito.STATE_STARTED) and (
        merged.start is None or at <= merged.start
    ):
        merged = replace(merged, start=at, created_by=change.ref.user)
    if change.event_type == kogito.STATE_ENDED:
        merged = replace(merged, end=_latest(merged.end, at))
    if change.event_type == kogito.STATE_RETRIGGERED:
        merged = replace(merged, retrigger_date=_latest(merged.retrigger_date, at))
    return _merge_state_fields(merged, change)


def merge_error(row: IndexedInstance | None, change: ErrorChange) -> IndexedInstance:
    """Apply a ProcessInstanceErrorDataEvent to the instance (state ERROR, error)."""
    merged = _offer_state(_touch(row, change.ref), ERROR_STATE, change.ref.at)
    if merged.error_date is not None and change.ref.at < merged.error_date:
        return merged
    return replace(
        merged,
        error_node_definition_id=change.node_definition_id,
        error_node_instance_id=change.node_instance_id,
        error_message=change.message,
        error_date=change.ref.at,
    )


def merge_variable(
    row: IndexedInstance | None, change: VariableChange
) -> IndexedInstance:
    """Apply a ProcessInstanceVariableDataEvent: the newest value of a name wins."""
    merged = _touch(row, change.ref)
    dates = dict(merged.variable_dates or {})
    variables = copy.deepcopy(merged.variables or {})
    path = change.name.split(".")
    seen = dates.get(change.name)
    if seen is not None:
        seen_at = datetime.fromisoformat(seen)
        if change.ref.at < seen_at:
            return merged
        if change.ref.at == seen_at and _canonical(change.value) <= _canonical(
            _get_path(variables, path)
        ):
            return merged
    _set_path(variables, path, change.value)
    dates[change.name] = change.ref.at.isoformat()
    return replace(merged, variables=variables, variable_dates=dates)


def touch_instance(row: IndexedInstance | None, ref: InstanceRef) -> IndexedInstance:
    """Create the instance on first sight of any event, or move its last update."""
    return _touch(row, ref)


def merge_node(row: IndexedNode | None, change: NodeChange) -> IndexedNode:
    """Apply a ProcessInstanceNodeDataEvent: enter is the earliest, exit the latest leave."""
    node = row or IndexedNode(
        process_instance_id=change.ref.instance_id, id=change.node_instance_id
    )
    at = change.ref.at
    node = replace(
        node,
        name=change.name or node.name,
        type=change.type or node.type,
        definition_id=change.node_definition_id or node.definition_id,
        node_id=change.node_definition_id or node.node_id,
        sla_due_date=change.sla_due_date or node.sla_due_date,
        retrigger=True if change.retrigger else node.retrigger,
        input_args=node.input_args if change.input_args is None else change.input_args,
        output_args=(
            node.output_args if change.output_args is None else change.output_args
        ),
    )
    left = change.event_type in LEFT_EVENT_TYPES
    if change.event_type in (None, kogito.NODE_ENTER) or left:
        node = replace(node, enter=_earliest(node.enter, at))
    if left:
        node = replace(node, exit=_latest(node.exit, at))
    cancel = CANCEL_TYPES.get(change.event_type or 0)
    if cancel is not None:
        node = replace(node, cancel_type=_stronger_cancel(node.cancel_type, cancel))
    return node


def mark_node_error(row: IndexedNode | None, change: ErrorChange) -> IndexedNode | None:
    """Mark the failed node with the error message (None when no node is named)."""
    if change.node_instance_id is None:
        return None
    node = row or IndexedNode(
        process_instance_id=change.ref.instance_id, id=change.node_instance_id
    )
    node = replace(node, cancel_type=_stronger_cancel(node.cancel_type, "ERROR"))
    if node.error_date is not None and change.ref.at < node.error_date:
        return node
    return replace(node, error_message=change.message, error_date=change.ref.at)


def merge_definition(
    row: IndexedDefinition | None, change: DefinitionChange
) -> IndexedDefinition:
    """Apply a ProcessDefinitionEvent: the newer event's non-empty fields win.

    `metadata` is deep-merged, so keys the sender does not know (the operator's
    `status`) are kept.
    """
    current = row or IndexedDefinition(
        id=change.id, version=change.version, metadata={}, updated_at=change.at
    )
    newer = row is None or change.at >= current.updated_at
    values: dict[str, Any] = {}
    for name in ("name", "description", "type", "endpoint", "source"):
        values[name] = _pick(getattr(current, name), getattr(change, name), newer)
    for name in ("annotations", "roles", "addons", "nodes"):
        incoming = getattr(change, name)
        values[name] = (
            _pick(
                list(getattr(current, name) or []),
                None
                if incoming is None
                else [dict(i) if isinstance(i, Mapping) else i for i in incoming],
                newer,
            )
            or []
        )
    old_meta = dict(current.metadata or {})
    new_meta = dict(change.metadata or {})
    values["metadata"] = (
        _deep_merge(old_meta, new_meta) if newer else _deep_merge(new_meta, old_meta)
    )
    values["service_url"] = service_url(values["endpoint"], change.id)
    values["updated_at"] = max(current.updated_at, change.at)
    return replace(current, **values)


def merge_job(row: IndexedJob | None, change: JobChange) -> IndexedJob:
    """Apply a JobEvent: the report with the newest `lastUpdate` wins whole."""
    if row is not None and row.last_update and change.last_update < row.last_update:
        return row
    f = change.fields
    return IndexedJob(
        id=change.id,
        status=change.status,
        last_update=change.last_update,
        process_id=f.get("processId"),
        process_instance_id=f.get("processInstanceId"),
        node_instance_id=f.get("nodeInstanceId"),
        root_process_instance_id=f.get("rootProcessInstanceId"),
        root_process_id=f.get("rootProcessId"),
        expiration_time=f.get("expirationTime"),
        priority=f.get("priority"),
        callback_endpoint=f.get("callbackEndpoint"),
        repeat_interval=f.get("repeatInterval"),
        repeat_limit=f.get("repeatLimit"),
        scheduled_id=f.get("scheduledId"),
        retries=f.get("retries"),
        execution_counter=f.get("executionCounter"),
        endpoint=f.get("endpoint"),
        exception_message=f.get("exceptionMessage"),
        exception_details=f.get("exceptionDetails"),
    )


def _touch(row: IndexedInstance | None, ref: InstanceRef) -> IndexedInstance:
    if row is None:
        return IndexedInstance(
            id=ref.instance_id,
            process_id=ref.process_id,
            version=ref.version,
            variables={},
            variable_dates={},
            last_update=ref.at,
        )
    return replace(
        row,
        version=row.version or ref.version,
        last_update=max(row.last_update, ref.at),
    )


def _offer_state(row: IndexedInstance, state: int, at: datetime) -> IndexedInstance:
    final = state in FINAL_STATES
    current = (row.state_final, row.state_date, row.state)
    if row.state is not None and row.state_date and (final, at, state) <= current:
        return row
    return replace(row, state=state, state_final=final, state_date=at)


def _merge_state_fields(row: IndexedInstance, change: StateChange) -> IndexedInstance:
    newer = row.fields_date is None or change.ref.at >= row.fields_date
    incoming: dict[str, Any] = {
        "version": change.ref.version,
        "process_name": change.process_name,
        "business_key": change.business_key,
        "parent_process_instance_id": change.parent_instance_id,
        "root_process_instance_id": change.root_instance_id,
        "root_process_id": change.root_process_id,
        "identity": change.identity,
        "sla_due_date": change.sla_due_date,
        "cloud_event_id": change.cloud_event_id,
        "cloud_event_source": change.cloud_event_source,
        "updated_by": change.ref.user,
    }
    values = {
        name: _pick(getattr(row, name), incoming[name], newer) for name in _STATE_FIELDS
    }
    endpoint = _pick(row.endpoint or None, change.endpoint, newer) or ""
    values["endpoint"] = endpoint
    values["service_url"] = service_url(endpoint, row.process_id)
    values["roles"] = _pick(list(row.roles or []), _list(change.roles), newer) or []
    values["addons"] = _pick(list(row.addons or []), _list(change.addons), newer) or []
    values["fields_date"] = _latest(row.fields_date, change.ref.at)
    return replace(row, **values)


def _pick(current: Any, incoming: Any, newer: bool) -> Any:
    """The newer side's value unless empty, else the other side's."""
    first, second = (incoming, current) if newer else (current, incoming)
    return first if not _is_empty(first) else second


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _list(values: tuple[str, ...] | None) -> list[str] | None:
    return None if values is None else list(values)


def _latest(current: datetime | None, at: datetime) -> datetime:
    return at if current is None else max(current, at)


def _earliest(current: datetime | None, at: datetime) -> datetime:
    return at if current is None else min(current, at)


def _stronger_cancel(current: str | None, incoming: str) -> str:
    if current is None:
        return incoming
    return max(current, incoming, key=CANCEL_PRECEDENCE.index)


def _canonical(value: Json) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _get_path(variables: dict[str, Any], path: list[str]) -> Json:
    node: Any = variables
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _set_path(variables: dict[str, Any], path: list[str], value: Json) -> None:
    node = variables
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[path[-1]] = value


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
