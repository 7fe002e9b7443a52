"""Which projection columns a GraphQL selection reads, so list queries fetch only those.

A `{ ProcessInstances { id } }` over instances holding megabytes of `variables` must not
read them: the answer time then depends on the rows asked for, not on their size. Each
output field of an entity names the columns its resolver reads; fields the table omits
(computed ones, relations loaded separately) name the columns they start from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from knflow.graphql.context import RequestContext
from knflow.memo import Memo

_ERROR_COLUMNS: Final = (
    "error_node_definition_id",
    "error_node_instance_id",
    "error_message",
    "error_date",
    "retrigger_date",
)
INSTANCE_REQUIRED: Final = ("id", "process_id", "last_update")
"""Columns every instance row is built with (its dataclass has no default for them)."""
INSTANCE_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "id": (),
    "processId": (),
    "version": ("version",),
    "processName": ("process_name",),
    "parentProcessInstanceId": ("parent_process_instance_id",),
    "rootProcessInstanceId": ("root_process_instance_id",),
    "rootProcessId": ("root_process_id",),
    "roles": ("roles",),
    "state": ("state",),
    "endpoint": ("endpoint",),
    "serviceUrl": ("service_url",),
    "nodes": (),
    "milestones": (),
    "variables": ("variables",),
    "start": ("start",),
    "end": ("end",),
    "parentProcessInstance": ("parent_process_instance_id",),
    "childProcessInstances": (),
    "error": _ERROR_COLUMNS,
    "addons": ("addons",),
    "lastUpdate": (),
    "businessKey": ("business_key",),
    "nodeDefinitions": ("version",),
    "diagram": (),
    "source": ("version",),
    "definition": ("version",),
    "identity": ("identity",),
    "createdBy": ("created_by",),
    "updatedBy": ("updated_by",),
    "executionSummary": ("start", "state", "end"),
    "slaDueDate": ("sla_due_date",),
    "timers": (),
    "cloudEventId": ("cloud_event_id",),
    "cloudEventSource": ("cloud_event_source",),
}


PARENT: Final = "parentProcessInstance"


@dataclass(frozen=True, slots=True)
class Selection:
    """What one instance-valued field of the query selects, for the rows it reads."""

    columns: tuple[str, ...]
    """The instance columns the selection reads."""
    names: frozenset[str]
    """The field names selected directly under it, through fragments."""
    parent: Selection | None
    """What `parentProcessInstance` selects under it (all its aliases), if selected."""

    @property
    def shows_summary(self) -> bool:
        """Whether it selects the execution summary (computed from the nodes)."""
        return "executionSummary" in self.names

    @property
    def reads_nodes(self) -> bool:
        """Whether its instances are shown with their nodes, or with the summary."""
        return self.shows_summary or "nodes" in self.names


def columns_of(info: Info[RequestContext, None]) -> tuple[str, ...]:
    """Return the instance columns the current field's selection reads."""
    return selection_of(info).columns


def selection_of(info: Info[RequestContext, None]) -> Selection:
    """Return what the current field selects on the instances it returns.

    A selection depends only on the query text, the operation and the field's response
    path without list indexes (strawberry's `selected_fields` keeps the fields that
    `@include`/`@skip` drop, so variables do not change it): it is computed once per
    process for each, not once per request or per instance.
    """
    path = tuple(part for part in info.path.as_list() if isinstance(part, str))
    operation = info.operation.name
    key = (info.query or "", operation.value if operation else "", path)
    found = _SELECTIONS.get(key)
    if found is None:
        found = selection(info.selected_fields)
        _SELECTIONS.put(key, found)
    return found


def selection(selected: Sequence[Any]) -> Selection:
    """Return what the selection sets of `selected` fields select on instances."""
    parents = [field for field in _fields(selected) if field.name == PARENT]
    return Selection(
        columns=instance_columns(selected),
        names=frozenset(_field_names(selected)),
        parent=selection(parents) if parents else None,
    )


CACHED_SELECTIONS: Final = 1024
"""Instance-valued fields of the query texts of a process whose selections are kept."""
_SELECTIONS: Final[Memo[tuple[str, str, tuple[str, ...]], Selection]] = Memo(
    CACHED_SELECTIONS
)


def instance_columns(selected: Iterable[Any]) -> tuple[str, ...]:
    """Return the instance columns the selection sets of `selected` fields read.

    An unknown field name reads every column mapped, so a field added to the type but
    not here is still served (slower, never wrong).
    """
    wanted = dict.fromkeys(INSTANCE_REQUIRED)
    for name in _field_names(selected):
        columns = INSTANCE_FIELDS.get(name)
        if columns is None and not name.startswith("__"):
            return ALL_INSTANCE_COLUMNS
        wanted.update(dict.fromkeys(columns or ()))
    return tuple(wanted)


def _field_names(selected: Iterable[Any]) -> Iterable[str]:
    """Names of the fields directly under each of `selected`, through fragments."""
    return (field.name for field in _fields(selected))


def _fields(selected: Iterable[Any]) -> Iterable[SelectedField]:
    """The fields directly under each of `selected`, through fragments."""
    pending = [selection for field in selected for selection in field.selections]
    while pending:
        found = pending.pop()
        if isinstance(found, SelectedField):
            yield found
        elif isinstance(found, FragmentSpread | InlineFragment):
            pending.extend(found.selections)


ALL_INSTANCE_COLUMNS: Final = tuple(
    dict.fromkeys(
        [*INSTANCE_REQUIRED, *(c for cs in INSTANCE_FIELDS.values() for c in cs)]
    )
)
