"""The parsed form of a Serverless Workflow 0.8 definition, as the engine navigates it.

`workflow.parsing.parse_definition` turns a validated document into these frozen values. Filters, arguments and event data stay raw JSON: they are
expressions the engine evaluates, not structure it navigates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, Final, TypeAlias

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


class AsyncAction(StrEnum):
    """What the workflow does on the channel."""

    SEND = "send"
    RECEIVE = "receive"


@dataclass(frozen=True, slots=True, kw_only=True)
class AsyncOperation:
    """An AsyncAPI operation as a workflow uses it."""

    action: AsyncAction
    """Publish (`send`) or wait (`receive`)."""
    channel: str
    """The channel's address: the CloudEvent type sent or awaited."""


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
    async_operations: Mapping[str, AsyncOperation] = field(default_factory=dict)
    """The AsyncAPI operation of each `asyncapi` function, by function name."""
    output_schema: Json = None
    """SonataFlow's `workflow-output-schema`, when output that violates it fails the instance."""
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
