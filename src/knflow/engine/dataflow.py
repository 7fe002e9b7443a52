"""SW 0.8 "Workflow Data": state, action and event data filters, and data merging.

Filters arrive as the raw JSON objects of the definition (`stateDataFilter`,
`actionDataFilter`, `eventDataFilter`); an absent filter or field is the identity. Every
function here is pure and never mutates its arguments; expressions are evaluated by the
`Evaluator` the caller passes in.
"""

from __future__ import annotations

from typing import Any, Final

from knflow.engine.expressions import Evaluator, Scope
from knflow.workflow.model import Json

# SonataFlow stores a result that is not an object under this key.
RESPONSE_KEY: Final = "response"
# Levels copied by recursion (two frames each, comprehensions being frames in 3.11);
# deeper data is copied by a loop, so no data depth reaches the recursion limit.
_RECURSIVE_LEVELS: Final = 100


def merge(target: Json, incoming: Json) -> Json:
    """Merge `incoming` into `target` and return the result (SW 0.8, Data Merging).

    Objects merge key by key, recursively, the incoming value winning; arrays
    concatenate, existing elements first; anything else, mismatched types included, is
    replaced by the incoming value. Neither argument is mutated, and the result shares
    nothing with them. The walk is a loop, so data of any depth merges.
    """
    if isinstance(target, list) and isinstance(incoming, list):
        return [*copy_json(target), *copy_json(incoming)]
    if not (isinstance(target, dict) and isinstance(incoming, dict)):
        return copy_json(incoming)
    merged: dict[str, Json] = {}
    pending = [(target, incoming, merged)]
    while pending:
        old, new, into = pending.pop()
        for key, value in old.items():
            if key not in new:
                into[key] = copy_json(value)
            elif isinstance(value, dict) and isinstance(new[key], dict):
                into[key] = {}
                pending.append((value, new[key], into[key]))
            else:
                into[key] = merge(value, new[key])
        for key, value in new.items():
            if key not in old:
                into[key] = copy_json(value)
    return merged


def merge_at(data: Json, path: list[str | int], value: Json) -> Json:
    """Merge `value` into the element of `data` at `path`, creating it when missing.

    An empty path merges into the top level. Containers missing along the path (or of
    the wrong type) are created: an object for a name, an array padded with nulls for an
    index. Only the containers along the path are copied; the result shares every other
    member with `data` (workflow data is never changed in place), so merging one result
    into large data costs the path, not the data (a foreach over thousands of items
    merges each iteration's result into data that holds all of them).
    """
    if not path:
        return merge(data, value)
    key, rest = path[0], path[1:]
    if isinstance(key, str):
        container: Any = dict(data) if isinstance(data, dict) else {}
        container[key] = merge_at(container.get(key), rest, value)
        return container
    items: list[Json] = list(data) if isinstance(data, list) else []
    index = key if key >= 0 else len(items) + key
    if index < 0:
        index = 0
    while len(items) <= index:
        items.append(None)
    items[index] = merge_at(items[index], rest, value)
    return items


def value_at(data: Json, path: list[str | int]) -> Json:
    """Return the element of `data` at `path` (as `merge_at` walks it); null when missing."""
    found: Any = data
    for key in path:
        if isinstance(key, str) and isinstance(found, dict):
            found = found.get(key)
        elif (
            isinstance(key, int)
            and isinstance(found, list)
            and -len(found) <= key < len(found)
        ):
            found = found[key]
        else:
            return None
    return found


def filter_state_input(
    evaluator: Evaluator, filter: Json | None, data: Json, scope: Scope
) -> Json:
    """Apply `stateDataFilter.input` on entering a state.

    A filter that is absent or selects nothing (null) leaves the data unchanged.

    Raises:
        ExpressionError: the filter expression fails.
    """
    return _select(evaluator, _field(filter, "input"), data, scope)


def filter_state_output(
    evaluator: Evaluator, filter: Json | None, data: Json, scope: Scope
) -> Json:
    """Apply `stateDataFilter.output` on leaving a state.

    As for the input filter, a filter that selects nothing (null) leaves the data as it
    is ("If `output` is not defined or does not select any parts of the state's data
    output, its data output is not filtered", SW 0.8, State data filters).

    Raises:
        ExpressionError: the filter expression fails.
    """
    return _select(evaluator, _field(filter, "output"), data, scope)


def action_input(
    evaluator: Evaluator, action_filter: Json | None, data: Json, scope: Scope
) -> Json:
    """Return what the action's arguments see: `actionDataFilter.fromStateData` of the
    data.

    Raises:
        ExpressionError: the filter expression fails.
    """
    expression = _field(action_filter, "fromStateData")
    if expression is None:
        return data
    return evaluator.evaluate(expression, data, scope)


def filter_action_result(
    evaluator: Evaluator, action_filter: Json | None, result: Json, scope: Scope
) -> Json:
    """Apply `actionDataFilter.results` to an action result.

    Raises:
        ExpressionError: the filter expression fails.
    """
    expression = _field(action_filter, "results")
    if expression is None:
        return result
    return evaluator.evaluate(expression, result, scope)


def merge_action_result(
    evaluator: Evaluator,
    action_filter: Json | None,
    data: Json,
    result: Json,
    scope: Scope,
) -> Json:
    """Return the state data after an action: filter its result and merge it in.

    `useResults: false` keeps the data; `results` filters the result; `toStateData`
    names the element to merge into (created when missing). A null result merges
    nothing. A result that is not an object, with no `toStateData`, is stored under
    `response`, as SonataFlow does.

    Raises:
        ExpressionError: a filter expression fails or `toStateData` is not a path.
    """
    if not _flag(action_filter, "useResults"):
        return data
    selected = filter_action_result(evaluator, action_filter, result, scope)
    if selected is None:
        return data
    target = _field(action_filter, "toStateData")
    if target is not None:
        return merge_at(data, evaluator.assign_path(target, data, scope), selected)
    if isinstance(selected, dict):
        return merge(data, selected)
    stored: Any = copy_json(data) if isinstance(data, dict) else {}
    stored[RESPONSE_KEY] = copy_json(selected)
    return stored


def merge_event_data(
    evaluator: Evaluator,
    event_filter: Json | None,
    data: Json,
    event_payload: Json,
    scope: Scope,
) -> Json:
    """Return the state data after consuming an event (`eventDataFilter`).

    The caller chooses `event_payload` per the event's `dataOnly` (the data alone, or
    the whole CloudEvent as a dict). `useData: false` keeps the data; `data` selects
    part of the payload; `toStateData` names the element to merge into. A null selection
    merges nothing.

    Raises:
        ExpressionError: a filter expression fails or `toStateData` is not a path.
    """
    if not _flag(event_filter, "useData"):
        return data
    expression = _field(event_filter, "data")
    selected = (
        event_payload
        if expression is None
        else evaluator.evaluate(expression, event_payload, scope)
    )
    if selected is None:
        return data
    target = _field(event_filter, "toStateData")
    if target is None:
        return merge(data, selected)
    return merge_at(data, evaluator.assign_path(target, data, scope), selected)


def copy_json(value: Json) -> Json:
    """Return a deep copy of a JSON value (faster than `copy.deepcopy` for JSON).

    Data of any depth copies: the first `_RECURSIVE_LEVELS` levels recurse (the fastest
    copy of usual data), deeper levels continue in a loop with its own stack instead of
    reaching Python's recursion limit.
    """
    return _copy(value, _RECURSIVE_LEVELS)


def _copy(value: Json, levels: int) -> Json:
    if isinstance(value, dict):
        if not levels:
            return _copy_by_loop(value)
        return {key: _copy(item, levels - 1) for key, item in value.items()}
    if isinstance(value, list):
        if not levels:
            return _copy_by_loop(value)
        return [_copy(item, levels - 1) for item in value]
    return value


def _copy_by_loop(value: dict[str, Json] | list[Json]) -> Json:
    """Copy each container shallowly, then replace its container members by copies."""
    root = value.copy()
    pending: list[Any] = [root]
    while pending:
        node = pending.pop()
        members = node.items() if isinstance(node, dict) else enumerate(node)
        for key, member in members:
            if isinstance(member, dict | list):
                copied = member.copy()
                node[key] = copied
                pending.append(copied)
    return root


def _select(evaluator: Evaluator, expression: Json, data: Json, scope: Scope) -> Json:
    if expression is None:
        return data
    selected = evaluator.evaluate(expression, data, scope)
    return data if selected is None else selected


def _field(data_filter: Json | None, name: str) -> Json:
    if not isinstance(data_filter, dict):
        return None
    value = data_filter.get(name)
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _flag(data_filter: Json | None, name: str) -> bool:
    if not isinstance(data_filter, dict):
        return True
    value = data_filter.get(name, True)
    if isinstance(value, str):
        return value.strip().lower() != "false"
    return value is not False
