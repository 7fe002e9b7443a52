"""The parsed form of a Serverless Workflow 0.8 definition, as the engine navigates it.

`parse_definition` turns a validated document (a dict, with external parts already inlined by
`loading`) into frozen values. Filters, arguments and event data stay raw JSON: they are
expressions the engine evaluates, not structure it navigates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, Final, TypeAlias

import isodate

from knflow.errors import DefinitionError, Problem

Json: TypeAlias = Any
"""Workflow data: what `json.loads` returns (dict, list, str, int, float, bool or None)."""

DEFAULT_VERSION: Final = "1.0"


class StateType(StrEnum):
    """The eight state types of SW 0.8."""

    EVENT = "event"
    OPERATION = "operation"
    SWITCH = "switch"
    SLEEP = "sleep"
    PARALLEL = "parallel"
    INJECT = "inject"
    FOREACH = "foreach"
    CALLBACK = "callback"


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionDef:
    """A `functions[]` entry."""

    name: str
    """Name used by `functionRef`."""
    operation: str
    """Type-specific operation string (`file#operationId`, `rest:get:/x`, a jq program...)."""
    type: str = "rest"
    """`rest`, `expression`, `custom`, `asyncapi`, `rpc`, `graphql` or `odata`."""
    metadata: Mapping[str, Json] = field(default_factory=dict)
    """Free-form metadata."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EventDef:
    """An `events[]` entry."""

    name: str
    """Name used by event references."""
    type: str
    """The CloudEvent type."""
    source: str | None = None
    """The CloudEvent source (consumed events may match on it)."""
    kind: str = "consumed"
    """`consumed` or `produced`."""
    correlation: tuple[Mapping[str, str], ...] = ()
    """`{contextAttributeName, contextAttributeValue?}` rules."""
    data_only: bool = True
    """When true, event filters see only `data`; otherwise the whole CloudEvent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorDef:
    """An `errors[]` entry: a name the workflow handles and the code that maps failures to it."""

    name: str
    """Name used by `errorRef`."""
    code: str | None = None
    """HTTP status (`"404"`, `"HTTP:404"`), a failure kind name, or a message regex."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionRef:
    """An action's `functionRef`."""

    ref_name: str
    """The function's name."""
    arguments: Json = None
    """Arguments (object, or a jq string in lenient mode); expressions inside."""
    invoke: str = "sync"
    """`sync` or `async` (fire and forget)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SubFlowRef:
    """An action's `subFlowRef`."""

    workflow_id: str
    """The child workflow."""
    version: str | None = None
    """Pinned child version; latest when unset."""
    invoke: str = "sync"
    """`sync` waits for the child; `async` does not."""
    on_parent_complete: str = "terminate"
    """For async children: `terminate` or `continue` when the parent ends."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """One action of an operation, event, callback, foreach state or parallel branch."""

    name: str | None = None
    """Optional name, used in node events."""
    function_ref: FunctionRef | None = None
    """Call a function."""
    event_ref: Mapping[str, Json] | None = None
    """Produce (and maybe await) events: `triggerEventRef`, `resultEventRef`, `data`..."""
    sub_flow_ref: SubFlowRef | None = None
    """Run another workflow."""
    action_data_filter: Mapping[str, Json] | None = None
    """`fromStateData`, `results`, `toStateData`, `useResults`."""
    condition: str | None = None
    """When it evaluates false, the action is skipped."""
    sleep_before: timedelta | None = None
    """Wait before the action."""
    sleep_after: timedelta | None = None
    """Wait after the action."""
    retry_ref: str | None = None
    """Retry policy name."""
    retryable_errors: tuple[str, ...] = ()
    """Errors retried (with `autoRetries: false`)."""
    non_retryable_errors: tuple[str, ...] = ()
    """Errors never retried (with `autoRetries: true`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """Where a state goes next."""

    next_state: str
    """The target state."""
    produce_events: tuple[Mapping[str, Json], ...] = ()
    """`{eventRef, data, contextAttributes}` to emit on the way."""
    compensate: bool = False
    """Run compensation before moving on."""


@dataclass(frozen=True, slots=True, kw_only=True)
class End:
    """How a state ends the workflow."""

    terminate: bool = False
    """End every path, including parallel branches."""
    produce_events: tuple[Mapping[str, Json], ...] = ()
    """Events to emit."""
    compensate: bool = False
    """Run compensation first."""
    continue_as: Json = None
    """Start a new instance with the output (`workflowId` or an object)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorHandler:
    """An `onErrors[]` entry."""

    error_refs: tuple[str, ...]
    """Handled error names (`errorRef` or `errorRefs`)."""
    transition: Transition | None = None
    """Where to go."""
    end: End | None = None
    """Or end."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    """A data or event condition of a switch state, or its default condition."""

    name: str | None = None
    """Optional name."""
    condition: str | None = None
    """Data condition expression (data switches)."""
    event_ref: str | None = None
    """Awaited event (event switches)."""
    event_data_filter: Mapping[str, Json] | None = None
    """Event data filter (event switches)."""
    transition: Transition | None = None
    """Where to go when chosen."""
    end: End | None = None
    """Or end."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Branch:
    """A parallel state's branch."""

    name: str
    """Branch name."""
    actions: tuple[Action, ...]
    """Run sequentially on the branch's own copy of the state data."""
    timeouts: Mapping[str, Json] = field(default_factory=dict)
    """`actionExecTimeout`, `branchExecTimeout`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OnEvents:
    """An event state's `onEvents[]` entry."""

    event_refs: tuple[str, ...]
    """Awaited events."""
    action_mode: str = "sequential"
    """How the actions run."""
    actions: tuple[Action, ...] = ()
    """Actions run when the events arrive."""
    event_data_filter: Mapping[str, Json] | None = None
    """Filter of the event payload."""


@dataclass(frozen=True, slots=True, kw_only=True)
class State:
    """A state of any type; fields that do not apply to its type stay empty."""

    name: str
    """Unique name."""
    type: StateType
    """State type."""
    index: int
    """Position in `states` (node ids derive from it)."""
    transition: Transition | None = None
    """Where to go next."""
    end: End | None = None
    """Or how to end."""
    on_errors: tuple[ErrorHandler, ...] = ()
    """Error handlers, first match wins."""
    state_data_filter: Mapping[str, Json] | None = None
    """`input` and `output` filters."""
    compensated_by: str | None = None
    """State that compensates this one."""
    used_for_compensation: bool = False
    """Only reachable through compensation."""
    metadata: Mapping[str, Json] = field(default_factory=dict)
    """Metadata (SonataFlow's `errorMessage` lives here)."""
    timeouts: Mapping[str, Json] = field(default_factory=dict)
    """State timeouts."""
    actions: tuple[Action, ...] = ()
    """operation and foreach actions."""
    action_mode: str = "sequential"
    """operation: `sequential` or `parallel`."""
    data: Json = None
    """inject: the injected object."""
    data_conditions: tuple[Condition, ...] = ()
    """switch: data conditions."""
    event_conditions: tuple[Condition, ...] = ()
    """switch: event conditions."""
    default_condition: Condition | None = None
    """switch: taken when nothing matches."""
    branches: tuple[Branch, ...] = ()
    """parallel: branches."""
    completion_type: str = "allOf"
    """parallel: `allOf` or `atLeast`."""
    num_completed: Json = None
    """parallel: with `atLeast`, how many branches must complete (number or string)."""
    input_collection: str | None = None
    """foreach: expression selecting the array."""
    output_collection: str | None = None
    """foreach: expression naming where results go."""
    iteration_param: str | None = None
    """foreach: variable name of the current element."""
    batch_size: Json = None
    """foreach: parallel iterations at once."""
    mode: str = "parallel"
    """foreach: `parallel` or `sequential`."""
    duration: timedelta | None = None
    """sleep: how long."""
    on_events: tuple[OnEvents, ...] = ()
    """event: awaited events and their actions."""
    exclusive: bool = True
    """event: any (`true`) or all (`false`) of the events."""
    action: Action | None = None
    """callback: the action run before waiting."""
    event_ref: str | None = None
    """callback: the awaited event."""
    event_data_filter: Mapping[str, Json] | None = None
    """callback: filter of the callback payload."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Definition:
    """A parsed workflow definition, pinned by (`workflow_id`, `version`)."""

    workflow_id: str
    """`id` (or `key`)."""
    version: str
    """`version`, `1.0` when absent."""
    name: str
    """Display name (the id when absent)."""
    description: str | None
    """Description."""
    start: str
    """Start state name."""
    states: Mapping[str, State]
    """States by name, in document order."""
    functions: Mapping[str, FunctionDef] = field(default_factory=dict)
    """Functions by name."""
    events: Mapping[str, EventDef] = field(default_factory=dict)
    """Event definitions by name."""
    errors: Mapping[str, ErrorDef] = field(default_factory=dict)
    """Error definitions by name."""
    retries: Mapping[str, Mapping[str, Json]] = field(default_factory=dict)
    """Retry definitions by name (raw)."""
    constants: Json = None
    """`$CONST`."""
    secrets: tuple[str, ...] = ()
    """Declared secret names."""
    timeouts: Mapping[str, Json] = field(default_factory=dict)
    """Workflow-level timeouts."""
    annotations: tuple[str, ...] = ()
    """Annotations."""
    metadata: Mapping[str, Json] = field(default_factory=dict)
    """Workflow metadata."""
    expression_lang: str = "jq"
    """`jq` or `jsonpath`."""
    start_schedule: Json = None
    """`start.schedule` when the start is scheduled."""
    keep_active: bool = False
    """Keep the instance active when no path is active."""
    auto_retries: bool = False
    """Retry every error by default."""
    lenient: bool = True
    """SonataFlow-compatible parsing (bare expressions)."""
    document: Mapping[str, Json] = field(default_factory=dict)
    """The document as registered."""

    def state(self, name: str) -> State:
        """Return the state called `name`.

        Raises:
            DefinitionError: there is no such state (validation should have caught it).
        """
        try:
            return self.states[name]
        except KeyError:
            raise DefinitionError(
                [Problem(pointer="/states", reason=f"state '{name}' is not defined")],
                source=f"workflow '{self.workflow_id}' version '{self.version}'",
            ) from None

    @property
    def expression_functions(self) -> dict[str, str]:
        """Expression functions by name (for `fn:name` and `functionRef`)."""
        return {
            f.name: f.operation
            for f in self.functions.values()
            if f.type == "expression"
        }


def parse_definition(
    document: Mapping[str, Json], *, lenient: bool = True
) -> Definition:
    """Build a `Definition` from a validated document with its external parts inlined."""
    states = tuple(
        _parse_state(raw, index)
        for index, raw in enumerate(document.get("states") or ())
    )
    start = document.get("start")
    start_name = start.get("stateName") if isinstance(start, dict) else start
    schedule = start.get("schedule") if isinstance(start, dict) else None
    return Definition(
        workflow_id=str(document.get("id") or document.get("key")),
        version=str(document.get("version") or DEFAULT_VERSION),
        name=str(document.get("name") or document.get("id") or document.get("key")),
        description=document.get("description"),
        start=start_name or (states[0].name if states else ""),
        states={state.name: state for state in states},
        functions={
            f["name"]: _parse_function(f)
            for f in _entries(document.get("functions"), "functions")
        },
        events={
            e["name"]: _parse_event(e)
            for e in _entries(document.get("events"), "events")
        },
        errors={
            e["name"]: ErrorDef(name=e["name"], code=_optional_str(e.get("code")))
            for e in _entries(document.get("errors"), "errors")
        },
        retries={r["name"]: r for r in _entries(document.get("retries"), "retries")},
        constants=document.get("constants"),
        secrets=tuple(document.get("secrets") or ())
        if isinstance(document.get("secrets"), list)
        else (),
        timeouts=_mapping(document.get("timeouts")),
        annotations=tuple(document.get("annotations") or ()),
        metadata=document.get("metadata") or {},
        expression_lang=document.get("expressionLang") or "jq",
        start_schedule=schedule,
        keep_active=bool(document.get("keepActive", False)),
        auto_retries=bool(document.get("autoRetries", False)),
        lenient=lenient,
        document=document,
    )


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration (`PT15M`, `P2DT3H`); months and years are refused.

    Raises:
        DefinitionError: the text is not a day-time duration.
    """
    try:
        parsed = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError, TypeError) as error:
        raise DefinitionError(
            [Problem(pointer="", reason=f"'{text}' is not an ISO 8601 duration")]
        ) from error
    if not isinstance(parsed, timedelta):
        raise DefinitionError(
            [
                Problem(
                    pointer="",
                    reason=f"duration '{text}' uses months or years; use days instead",
                )
            ]
        )
    return parsed


def _entries(value: Json, key: str) -> list[Mapping[str, Json]]:
    """Definitions given inline as a list, or as `{key: [...]}` from an inlined file."""
    if isinstance(value, dict):
        value = value.get(key, [])
    return [
        entry for entry in value or () if isinstance(entry, dict) and "name" in entry
    ]


def _mapping(value: Json) -> Mapping[str, Json]:
    return value if isinstance(value, dict) else {}


def _optional_str(value: Json) -> str | None:
    return None if value is None else str(value)


def _parse_function(raw: Mapping[str, Json]) -> FunctionDef:
    return FunctionDef(
        name=raw["name"],
        operation=str(raw.get("operation", "")),
        type=raw.get("type", "rest"),
        metadata=raw.get("metadata") or {},
    )


def _parse_event(raw: Mapping[str, Json]) -> EventDef:
    return EventDef(
        name=raw["name"],
        type=str(raw.get("type", "")),
        source=raw.get("source"),
        kind=raw.get("kind", "consumed"),
        correlation=tuple(raw.get("correlation") or ()),
        data_only=bool(raw.get("dataOnly", True)),
    )


def _parse_state(raw: Mapping[str, Json], index: int) -> State:
    kind = StateType(raw["type"])
    timeouts = dict(raw.get("timeouts") or {})
    if (
        "eventTimeout" in raw
    ):  # spec example 08 puts it at state level; SonataFlow accepts it
        timeouts.setdefault("eventTimeout", raw["eventTimeout"])
    return State(
        name=raw["name"],
        type=kind,
        index=index,
        transition=_parse_transition(raw.get("transition")),
        end=_parse_end(raw.get("end")),
        on_errors=tuple(_parse_error_handler(h) for h in raw.get("onErrors") or ()),
        state_data_filter=raw.get("stateDataFilter"),
        compensated_by=raw.get("compensatedBy"),
        used_for_compensation=bool(raw.get("usedForCompensation", False)),
        metadata=raw.get("metadata") or {},
        timeouts=timeouts,
        actions=tuple(_parse_action(a) for a in raw.get("actions") or ()),
        action_mode=raw.get("actionMode", "sequential"),
        data=raw.get("data"),
        data_conditions=tuple(
            _parse_condition(c) for c in raw.get("dataConditions") or ()
        ),
        event_conditions=tuple(
            _parse_condition(c) for c in raw.get("eventConditions") or ()
        ),
        default_condition=_parse_condition(raw["defaultCondition"])
        if raw.get("defaultCondition")
        else None,
        branches=tuple(
            _parse_branch(b, i) for i, b in enumerate(raw.get("branches") or ())
        ),
        completion_type=raw.get("completionType", "allOf"),
        num_completed=raw.get("numCompleted"),
        input_collection=raw.get("inputCollection"),
        output_collection=raw.get("outputCollection"),
        iteration_param=raw.get("iterationParam"),
        batch_size=raw.get("batchSize"),
        mode=raw.get("mode", "parallel"),
        duration=parse_duration(raw["duration"])
        if kind is StateType.SLEEP and raw.get("duration")
        else None,
        on_events=tuple(_parse_on_events(o) for o in raw.get("onEvents") or ()),
        exclusive=bool(raw.get("exclusive", True)),
        action=_parse_action(raw["action"])
        if isinstance(raw.get("action"), dict)
        else None,
        event_ref=raw.get("eventRef") if isinstance(raw.get("eventRef"), str) else None,
        event_data_filter=raw.get("eventDataFilter"),
    )


def _parse_transition(raw: Json) -> Transition | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return Transition(next_state=raw)
    return Transition(
        next_state=raw["nextState"],
        produce_events=tuple(raw.get("produceEvents") or ()),
        compensate=bool(raw.get("compensate", False)),
    )


def _parse_end(raw: Json) -> End | None:
    if raw is None or raw is False:
        return None
    if raw is True:
        return End()
    return End(
        terminate=bool(raw.get("terminate", False)),
        produce_events=tuple(raw.get("produceEvents") or ()),
        compensate=bool(raw.get("compensate", False)),
        continue_as=raw.get("continueAs"),
    )


def _parse_error_handler(raw: Mapping[str, Json]) -> ErrorHandler:
    refs = tuple(raw.get("errorRefs") or ()) or (
        (raw["errorRef"],) if raw.get("errorRef") else ()
    )
    return ErrorHandler(
        error_refs=refs,
        transition=_parse_transition(raw.get("transition")),
        end=_parse_end(raw.get("end")),
    )


def _parse_condition(raw: Mapping[str, Json]) -> Condition:
    return Condition(
        name=raw.get("name"),
        condition=raw.get("condition"),
        event_ref=raw.get("eventRef"),
        event_data_filter=raw.get("eventDataFilter"),
        transition=_parse_transition(raw.get("transition")),
        end=_parse_end(raw.get("end")),
    )


def _parse_branch(raw: Mapping[str, Json], index: int) -> Branch:
    return Branch(
        name=raw.get("name") or f"branch{index}",
        actions=tuple(_parse_action(a) for a in raw.get("actions") or ()),
        timeouts=raw.get("timeouts") or {},
    )


def _parse_on_events(raw: Mapping[str, Json]) -> OnEvents:
    return OnEvents(
        event_refs=tuple(raw.get("eventRefs") or ()),
        action_mode=raw.get("actionMode", "sequential"),
        actions=tuple(_parse_action(a) for a in raw.get("actions") or ()),
        event_data_filter=raw.get("eventDataFilter"),
    )


def _parse_action(raw: Mapping[str, Json]) -> Action:
    sleep = raw.get("sleep") or {}
    return Action(
        name=raw.get("name"),
        function_ref=_parse_function_ref(raw.get("functionRef")),
        event_ref=raw.get("eventRef"),
        sub_flow_ref=_parse_sub_flow_ref(raw.get("subFlowRef")),
        action_data_filter=raw.get("actionDataFilter"),
        condition=raw.get("condition"),
        sleep_before=parse_duration(sleep["before"]) if sleep.get("before") else None,
        sleep_after=parse_duration(sleep["after"]) if sleep.get("after") else None,
        retry_ref=raw.get("retryRef"),
        retryable_errors=tuple(raw.get("retryableErrors") or ()),
        non_retryable_errors=tuple(raw.get("nonRetryableErrors") or ()),
    )


def _parse_function_ref(raw: Json) -> FunctionRef | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return FunctionRef(ref_name=raw)
    return FunctionRef(
        ref_name=raw["refName"],
        arguments=raw.get("arguments"),
        invoke=raw.get("invoke", "sync"),
    )


def _parse_sub_flow_ref(raw: Json) -> SubFlowRef | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return SubFlowRef(workflow_id=raw)
    return SubFlowRef(
        workflow_id=raw["workflowId"],
        version=raw.get("version"),
        invoke=raw.get("invoke", "sync"),
        on_parent_complete=raw.get("onParentComplete", "terminate"),
    )
