"""Reference rules of a Serverless Workflow 0.8 document: names that must resolve.

The JSON schema cannot say that a transition names an existing state, that a function,
event, error or retry policy is defined, or how compensation states may be linked; this
module does. It reads documents defensively (structure is `structure.py`'s business) and
does no I/O: OpenAPI/AsyncAPI documents come in as already loaded `resources`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from knflow.errors import Problem
from knflow.workflow.model import Json
from knflow.workflow.shapes import child, quote

REMOTE_PREFIXES: Final = ("http://", "https://")
"""Operation documents at these addresses are fetched by nobody at load time."""

_HTTP_METHODS: Final = (
    "get",
    "put",
    "post",
    "delete",
    "options",
    "head",
    "patch",
    "trace",
)
_NON_WORD: Final = re.compile(r"[^A-Za-z0-9]+")


@dataclass(slots=True, kw_only=True)
class _Names:
    """What the document defines, by name; `None` when a section is an unresolved file."""

    states: dict[str, Mapping[str, Json]] = field(default_factory=dict)
    state_indexes: dict[str, int] = field(default_factory=dict)
    functions: dict[str, Mapping[str, Json]] | None = None
    events: dict[str, Mapping[str, Json]] | None = None
    errors: dict[str, Mapping[str, Json]] | None = None
    retries: dict[str, Mapping[str, Json]] | None = None
    strict: bool = False
    problems: list[Problem] = field(default_factory=list)

    def report(self, pointer: str, reason: str) -> None:
        self.problems.append(Problem(pointer, reason))

    def is_compensation(self, name: str) -> bool:
        return self.states.get(name, {}).get("usedForCompensation") is True


def find_reference_problems(
    document: Json,
    *,
    strict: bool = False,
    resources: Mapping[str, Json] | None = None,
) -> list[Problem]:
    """Return every unresolved or misused name in a workflow document.

    With `resources` (operation documents keyed as written before the `#`), `rest` and
    `asyncapi` operations are checked too; without, they are not.
    """
    if not isinstance(document, dict):
        return []
    names = _collect(document, strict=strict)
    _check_start(document, names)
    _check_run_before(document, names)
    for index, state in _dicts(document.get("states")):
        _check_state(state, child("/states", index), names)
    if resources is not None:
        _check_operations(document, resources, names)
    return names.problems


def operation_document(operation: str) -> str | None:
    """Return the document part of a `<document>#<operationId>` operation, if it has one."""
    document, separator, _ = operation.partition("#")
    return document if separator and document else None


def operation_ids(document: Json) -> set[str]:
    """Return the operation ids an OpenAPI or AsyncAPI (2 or 3) document defines."""
    if not isinstance(document, dict):
        return set()
    found: set[str] = set()
    for _, path_item in _items(document.get("paths")):
        for method in _HTTP_METHODS:
            found |= _operation_id(path_item.get(method))
    for _, channel in _items(document.get("channels")):
        for method in ("publish", "subscribe"):
            found |= _operation_id(channel.get(method))
    operations = document.get("operations")
    if isinstance(operations, dict):
        found |= {key for key in operations if isinstance(key, str)}
    return found


def find_operation_id(document: Json, written: str, *, strict: bool) -> str | None:
    """Return the operation id of `document` that `written` names, or None.

    Strict mode matches exactly. Otherwise SonataFlow's matching applies too: it derives
    a Java method name from each id (`Do Operation` is `doOperation`, `reverse,` is
    `reverse`), so a reference matches an id with the same derived name.
    """
    defined = operation_ids(document)
    if written in defined or strict:
        return written if written in defined else None
    wanted = java_method_name(written)
    return next((i for i in sorted(defined) if java_method_name(i) == wanted), None)


def java_method_name(operation_id: str) -> str:
    """Derive the camel-cased name SonataFlow's OpenAPI generator gives an operation."""
    words = [word for word in _NON_WORD.split(operation_id) if word]
    if not words:
        return ""
    head, *tail = words
    return head[:1].lower() + head[1:] + "".join(w[:1].upper() + w[1:] for w in tail)


def _collect(document: Mapping[str, Json], *, strict: bool) -> _Names:
    names = _Names(strict=strict)
    for index, state in _dicts(document.get("states")):
        name = state.get("name")
        if not isinstance(name, str):
            continue
        if name in names.states:
            earlier = child("/states", names.state_indexes[name])
            names.report(
                child(child("/states", index), "name"),
                f"state name {quote(name)} is already taken by {earlier}",
            )
            continue
        names.states[name] = state
        names.state_indexes[name] = index
    names.functions = _definitions(document, "functions", "function", names)
    names.events = _definitions(document, "events", "event", names)
    names.errors = _definitions(document, "errors", "error", names)
    names.retries = _definitions(document, "retries", "retry policy", names)
    return names


def _definitions(
    document: Mapping[str, Json], key: str, what: str, names: _Names
) -> dict[str, Mapping[str, Json]] | None:
    section = document.get(key, [])
    if isinstance(section, str):
        return None  # an external file that did not load; the loader reported it
    defined: dict[str, Mapping[str, Json]] = {}
    for index, entry in _dicts(section):
        name = entry.get("name")
        if not isinstance(name, str):
            continue
        if name in defined:
            names.report(
                child(child(f"/{key}", index), "name"),
                f"{what} {quote(name)} is defined twice",
            )
        defined.setdefault(name, entry)
    return defined


def _check_start(document: Mapping[str, Json], names: _Names) -> None:
    start = document.get("start")
    pointer = "/start"
    if isinstance(start, dict):
        start, pointer = start.get("stateName"), "/start/stateName"
    if not isinstance(start, str):
        return
    if start not in names.states:
        names.report(pointer, f"start state {quote(start)} is not defined")
    elif names.is_compensation(start):
        names.report(
            pointer,
            f"start state {quote(start)} is used for compensation and cannot start",
        )


def _check_run_before(document: Mapping[str, Json], names: _Names) -> None:
    timeouts = document.get("timeouts")
    if not isinstance(timeouts, dict):
        return
    exec_timeout = timeouts.get("workflowExecTimeout")
    if isinstance(exec_timeout, dict):
        run_before = exec_timeout.get("runBefore")
        pointer = "/timeouts/workflowExecTimeout/runBefore"
        _check_state_name(run_before, pointer, names)


def _check_state_name(name: Json, pointer: str, names: _Names) -> None:
    if isinstance(name, str) and name not in names.states:
        names.report(pointer, f"state {quote(name)} is not defined")


def _check_state(state: Mapping[str, Json], pointer: str, names: _Names) -> None:
    _check_compensated_by(state, pointer, names)
    for target_pointer, target in _transitions(state, pointer):
        _check_transition(state, target, target_pointer, names)
    for event_pointer, event in _produced_events(state, pointer):
        _check_event(event, event_pointer, names, produced=True)
    for event_pointer, event in _consumed_events(state, pointer):
        _check_event(event, event_pointer, names, produced=False)
    for error_pointer, error in _error_refs(state, pointer):
        _check_defined(error, error_pointer, names, names.errors, "error")
    for action_pointer, action in _actions(state, pointer):
        _check_action(action, action_pointer, names)


def _check_compensated_by(
    state: Mapping[str, Json], pointer: str, names: _Names
) -> None:
    target = state.get("compensatedBy")
    if not isinstance(target, str):
        return
    pointer = child(pointer, "compensatedBy")
    compensator = names.states.get(target)
    if compensator is None:
        names.report(pointer, f"state {quote(target)} is not defined")
    elif compensator.get("type") == "event":
        names.report(
            pointer, f"state {quote(target)} is an event state and cannot compensate"
        )
    elif compensator.get("usedForCompensation") is not True:
        names.report(
            pointer,
            f"state {quote(target)} compensates, so it needs 'usedForCompensation: true'",
        )


def _check_transition(
    state: Mapping[str, Json], target: str, pointer: str, names: _Names
) -> None:
    if target not in names.states:
        names.report(pointer, f"state {quote(target)} is not defined")
        return
    source_compensates = state.get("usedForCompensation") is True
    target_compensates = names.is_compensation(target)
    if target_compensates and not source_compensates:
        names.report(
            pointer,
            f"state {quote(target)} is used for compensation; "
            "only compensation states may transition to it",
        )
    elif (
        source_compensates
        and not target_compensates
        and _is_strict_exit(pointer, names)
    ):
        names.report(
            pointer,
            f"a compensation state may only transition to compensation states, "
            f"and {quote(target)} is not one",
        )


def _is_strict_exit(pointer: str, names: _Names) -> bool:
    # SonataFlow lets a compensation state's error handler leave the compensation
    # (its compensation example does); the 0.8 prose does not, so strict mode refuses it.
    return names.strict or "/onErrors/" not in pointer


def _check_event(event: str, pointer: str, names: _Names, *, produced: bool) -> None:
    if names.events is None:
        return
    definition = names.events.get(event)
    if definition is None:
        names.report(pointer, f"event {quote(event)} is not defined")
        return
    kind = definition.get("kind")
    # SW 0.8: an event without `kind` is consumed. SonataFlow produces such events
    # too (its callback and events examples do), so lenient mode lets either use it.
    if kind is None and not names.strict:
        return
    kind = kind or "consumed"
    if produced and kind != "produced":
        names.report(
            pointer, f"event {quote(event)} is {kind}, so it cannot be produced here"
        )
    elif not produced and kind == "produced":
        names.report(
            pointer, f"event {quote(event)} is produced, so it cannot be awaited"
        )


def _check_action(action: Mapping[str, Json], pointer: str, names: _Names) -> None:
    function_ref = action.get("functionRef")
    if isinstance(function_ref, str):
        function_pointer = child(pointer, "functionRef")
        _check_defined(
            function_ref, function_pointer, names, names.functions, "function"
        )
    elif isinstance(function_ref, dict):
        ref_name = function_ref.get("refName")
        ref_pointer = child(child(pointer, "functionRef"), "refName")
        _check_defined(ref_name, ref_pointer, names, names.functions, "function")
    event_ref = action.get("eventRef")
    if isinstance(event_ref, dict):
        event_pointer = child(pointer, "eventRef")
        for key, produced in (("triggerEventRef", True), ("resultEventRef", False)):
            event = event_ref.get(key)
            if isinstance(event, str):
                _check_event(event, child(event_pointer, key), names, produced=produced)
    retry_pointer = child(pointer, "retryRef")
    retry = action.get("retryRef")
    _check_defined(retry, retry_pointer, names, names.retries, "retry policy")
    for key in ("retryableErrors", "nonRetryableErrors"):
        for index, error in _strings(action.get(key)):
            error_pointer = child(child(pointer, key), index)
            _check_defined(error, error_pointer, names, names.errors, "error")


def _check_defined(
    name: Json,
    pointer: str,
    names: _Names,
    defined: Mapping[str, Json] | None,
    what: str,
) -> None:
    if isinstance(name, str) and defined is not None and name not in defined:
        names.report(pointer, f"{what} {quote(name)} is not defined")


def _transitions(state: Mapping[str, Json], pointer: str) -> Iterator[tuple[str, str]]:
    for holder, holder_pointer in _exits(state, pointer):
        transition = holder.get("transition")
        transition_pointer = child(holder_pointer, "transition")
        if isinstance(transition, str):
            yield transition_pointer, transition
        elif isinstance(transition, dict):
            target = transition.get("nextState")
            if isinstance(target, str):
                yield child(transition_pointer, "nextState"), target


def _produced_events(
    state: Mapping[str, Json], pointer: str
) -> Iterator[tuple[str, str]]:
    for holder, holder_pointer in _exits(state, pointer):
        for key in ("transition", "end"):
            exit_value = holder.get(key)
            if not isinstance(exit_value, dict):
                continue
            events_pointer = child(child(holder_pointer, key), "produceEvents")
            for index, produced in _dicts(exit_value.get("produceEvents")):
                event = produced.get("eventRef")
                if isinstance(event, str):
                    yield child(child(events_pointer, index), "eventRef"), event


def _exits(
    state: Mapping[str, Json], pointer: str
) -> Iterator[tuple[Mapping[str, Json], str]]:
    """Yield every object that may carry a `transition` or an `end` inside a state."""
    yield state, pointer
    for key in ("onErrors", "dataConditions", "eventConditions"):
        for index, holder in _dicts(state.get(key)):
            yield holder, child(child(pointer, key), index)
    default = state.get("defaultCondition")
    if isinstance(default, dict):
        yield default, child(pointer, "defaultCondition")


def _consumed_events(
    state: Mapping[str, Json], pointer: str
) -> Iterator[tuple[str, str]]:
    for index, on_events in _dicts(state.get("onEvents")):
        refs_pointer = child(child(child(pointer, "onEvents"), index), "eventRefs")
        for ref_index, event in _strings(on_events.get("eventRefs")):
            yield child(refs_pointer, ref_index), event
    for index, condition in _dicts(state.get("eventConditions")):
        awaited = condition.get("eventRef")
        if isinstance(awaited, str):
            condition_pointer = child(child(pointer, "eventConditions"), index)
            yield child(condition_pointer, "eventRef"), awaited
    if state.get("type") == "callback" and isinstance(state.get("eventRef"), str):
        yield child(pointer, "eventRef"), state["eventRef"]


def _error_refs(state: Mapping[str, Json], pointer: str) -> Iterator[tuple[str, str]]:
    for index, handler in _dicts(state.get("onErrors")):
        handler_pointer = child(child(pointer, "onErrors"), index)
        error = handler.get("errorRef")
        if isinstance(error, str):
            yield child(handler_pointer, "errorRef"), error
        for ref_index, name in _strings(handler.get("errorRefs")):
            yield child(child(handler_pointer, "errorRefs"), ref_index), name


def _actions(
    state: Mapping[str, Json], pointer: str
) -> Iterator[tuple[str, Mapping[str, Json]]]:
    for index, action in _dicts(state.get("actions")):
        yield child(child(pointer, "actions"), index), action
    for key in ("onEvents", "branches"):
        for index, holder in _dicts(state.get(key)):
            holder_pointer = child(child(pointer, key), index)
            for action_index, action in _dicts(holder.get("actions")):
                yield child(child(holder_pointer, "actions"), action_index), action
    single = state.get("action")
    if isinstance(single, dict):
        yield child(pointer, "action"), single


def _check_operations(
    document: Mapping[str, Json], resources: Mapping[str, Json], names: _Names
) -> None:
    for index, function in _dicts(document.get("functions")):
        if function.get("type", "rest") not in ("rest", "asyncapi"):
            continue
        operation = function.get("operation")
        if not isinstance(operation, str):
            continue
        pointer = child(child("/functions", index), "operation")
        source = operation_document(operation)
        if source is None:
            names.report(
                pointer,
                f"operation {quote(operation)} needs the form '<document>#<operationId>'",
            )
        elif not source.startswith(REMOTE_PREFIXES):
            _check_operation(operation, source, resources, pointer, names)


def _check_operation(
    operation: str,
    source: str,
    resources: Mapping[str, Json],
    pointer: str,
    names: _Names,
) -> None:
    operation_id = operation.partition("#")[2]
    if source not in resources:
        names.report(pointer, f"document {quote(source)} is not loaded")
    elif (
        find_operation_id(resources[source], operation_id, strict=names.strict) is None
    ):
        names.report(
            pointer,
            f"document {quote(source)} has no operation {quote(operation_id)}",
        )


def _operation_id(operation: Json) -> set[str]:
    if isinstance(operation, dict) and isinstance(operation.get("operationId"), str):
        return {operation["operationId"]}
    return set()


def _items(value: Json) -> Iterator[tuple[str, Mapping[str, Json]]]:
    if isinstance(value, dict):
        for key, element in value.items():
            if isinstance(element, dict):
                yield key, element


def _dicts(value: Json) -> Iterator[tuple[int, Mapping[str, Json]]]:
    if isinstance(value, list):
        for index, element in enumerate(value):
            if isinstance(element, dict):
                yield index, element


def _strings(value: Json) -> Iterator[tuple[int, str]]:
    if isinstance(value, list):
        for index, element in enumerate(value):
            if isinstance(element, str):
                yield index, element
