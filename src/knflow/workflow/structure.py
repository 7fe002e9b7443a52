"""The structural rules of a Serverless Workflow 0.8 document, strict and lenient.

Strict mode accepts exactly what the 0.8 JSON schema (`workflow.json` and the files it
refers to) accepts; lenient mode also accepts what SonataFlow accepts. The rules are our
own description of that structure, written with `workflow/shapes.py`; references between
parts (state names, function names...) are checked in `workflow/references.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from knflow.errors import Problem
from knflow.workflow import structure_parts as parts
from knflow.workflow.model import Json
from knflow.workflow.shapes import (
    ObjectShape,
    Rule,
    Shape,
    Walk,
    anything_of,
    array,
    boolean,
    child,
    choice,
    either,
    exactly_one,
    number_or_string,
    quote,
)

STATE_TYPES: Final = (
    "sleep",
    "event",
    "operation",
    "parallel",
    "switch",
    "inject",
    "foreach",
    "callback",
)


def find_structure_problems(document: Json, *, strict: bool = False) -> list[Problem]:
    """Return every structural problem of a workflow document, in document order."""
    walk = Walk(strict=strict)
    _WORKFLOW(document, "", walk)
    return walk.problems


_COMMON_STATE_FIELDS: Final[Mapping[str, Shape]] = {
    "id": parts.NAME,
    "name": parts.TEXT,
    "type": parts.TEXT,
    "stateDataFilter": parts.STATE_DATA_FILTER,
    "onErrors": parts.ON_ERRORS,
    "transition": parts.TRANSITION,
    "end": parts.END,
    "compensatedBy": parts.NAME,
    "usedForCompensation": boolean(),
    "metadata": parts.METADATA,
}


def _transition_or_end(what: str) -> Rule:
    def rule(value: Mapping[str, Json], pointer: str, walk: Walk) -> None:
        # SW 0.8 schema `if usedForCompensation then ... else oneOf(end, transition)`:
        # compensation states may leave both out (or give both).
        if value.get("usedForCompensation") is True:
            return
        exactly_one("transition", "end", what=what)(value, pointer, walk)

    return rule


def _state(
    what: str,
    required: tuple[str, ...],
    specific: Mapping[str, Shape],
    *,
    without: tuple[str, ...] = (),
    lenient_fields: Mapping[str, Shape] | None = None,
) -> ObjectShape:
    fields = {**_COMMON_STATE_FIELDS, **specific}
    for name in without:
        del fields[name]
    if "usedForCompensation" in fields:
        rule = _transition_or_end(what)
    else:
        rule = exactly_one("transition", "end", what=what)
    return ObjectShape(
        what=what,
        fields=fields,
        required=("name", "type", *required),
        lenient_fields=lenient_fields or {},
        rules=(rule,),
    )


# SonataFlow (and spec example 08) accept `eventTimeout` at state level.
_LENIENT_EVENT_TIMEOUT: Final = {"eventTimeout": parts.DURATION}

_SLEEP_STATE: Final = _state(
    "a sleep state",
    ("duration",),
    {"duration": parts.TEXT, "timeouts": parts.state_timeouts("stateExecTimeout")},
)
_EVENT_STATE: Final = _state(
    "an event state",
    ("onEvents",),
    {
        "exclusive": boolean(),
        "onEvents": array(
            ObjectShape(
                what="an onEvents entry",
                fields={
                    "eventRefs": array(parts.TEXT, min_items=1, unique=True),
                    "actionMode": choice("sequential", "parallel"),
                    "actions": parts.ACTIONS,
                    "eventDataFilter": parts.EVENT_DATA_FILTER,
                },
                required=("eventRefs",),
            )
        ),
        "timeouts": parts.state_timeouts(
            "stateExecTimeout", "actionExecTimeout", "eventTimeout"
        ),
    },
    without=("usedForCompensation",),
    lenient_fields=_LENIENT_EVENT_TIMEOUT,
)
_OPERATION_STATE: Final = _state(
    "an operation state",
    ("actions",),
    {
        "actionMode": choice("sequential", "parallel"),
        "actions": parts.ACTIONS,
        "timeouts": parts.state_timeouts("stateExecTimeout", "actionExecTimeout"),
    },
)
_PARALLEL_STATE: Final = _state(
    "a parallel state",
    ("branches",),
    {
        "branches": array(
            ObjectShape(
                what="a branch",
                fields={
                    "name": parts.TEXT,
                    "timeouts": parts.state_timeouts(
                        "actionExecTimeout", "branchExecTimeout"
                    ),
                    "actions": parts.ACTIONS,
                },
                required=("name", "actions"),
                # SonataFlow names a nameless branch by its position and runs a branch
                # without actions as done.
                lenient_optional=("name", "actions"),
            )
        ),
        "completionType": choice("allOf", "atLeast"),
        "numCompleted": number_or_string(minimum=0),
        "timeouts": parts.state_timeouts("stateExecTimeout", "branchExecTimeout"),
    },
)
_INJECT_STATE: Final = _state(
    "an inject state",
    ("data",),
    {
        "data": anything_of("object"),
        "timeouts": parts.state_timeouts("stateExecTimeout"),
    },
    without=("onErrors",),
    # The 0.8 prose lists `onErrors` for every state; only the schema leaves it out.
    lenient_fields={"onErrors": parts.ON_ERRORS},
)
_FOREACH_STATE: Final = _state(
    "a foreach state",
    ("inputCollection", "actions"),
    {
        "inputCollection": parts.TEXT,
        "outputCollection": parts.TEXT,
        "iterationParam": parts.TEXT,
        "batchSize": number_or_string(minimum=0),
        "actions": parts.ACTIONS,
        "mode": choice("sequential", "parallel"),
        "timeouts": parts.state_timeouts("stateExecTimeout", "actionExecTimeout"),
    },
)
_CALLBACK_STATE: Final = _state(
    "a callback state",
    ("action", "eventRef"),
    {
        "action": parts.ACTION,
        "eventRef": parts.TEXT,
        "eventDataFilter": parts.EVENT_DATA_FILTER,
        "timeouts": parts.state_timeouts(
            "stateExecTimeout", "actionExecTimeout", "eventTimeout"
        ),
    },
    lenient_fields=_LENIENT_EVENT_TIMEOUT,
)
_DEFAULT_CONDITION: Final = ObjectShape(
    what="a defaultCondition",
    fields={"transition": parts.TRANSITION, "end": parts.END},
    rules=(exactly_one("transition", "end", what="a defaultCondition"),),
)


def _condition(what: str, key: str, specific: Mapping[str, Shape]) -> ObjectShape:
    return ObjectShape(
        what=what,
        fields={
            "name": parts.TEXT,
            key: parts.TEXT,
            "transition": parts.TRANSITION,
            "end": parts.END,
            "metadata": parts.METADATA,
            **specific,
        },
        required=(key,),
        rules=(exactly_one("transition", "end", what=what),),
    )


_DATA_CONDITION: Final = _condition("a data condition", "condition", {})
_EVENT_CONDITION: Final = _condition(
    "an event condition", "eventRef", {"eventDataFilter": parts.EVENT_DATA_FILTER}
)
_DATA_CONDITIONS: Final = array(_DATA_CONDITION)
_EVENT_CONDITIONS: Final = array(_EVENT_CONDITION)
_SWITCH_FIELDS: Final = {
    key: shape
    for key, shape in _COMMON_STATE_FIELDS.items()
    if key not in ("transition", "end")
}
_DATA_SWITCH_STATE: Final = ObjectShape(
    what="a data-based switch state",
    fields={
        **_SWITCH_FIELDS,
        "dataConditions": _DATA_CONDITIONS,
        "defaultCondition": _DEFAULT_CONDITION,
        "timeouts": parts.state_timeouts("stateExecTimeout"),
    },
    required=("name", "type", "dataConditions", "defaultCondition"),
    # SonataFlow: a data switch without a matching condition and no default fails at run
    # time instead of at load time.
    lenient_optional=("defaultCondition",),
)
_EVENT_SWITCH_STATE: Final = ObjectShape(
    what="an event-based switch state",
    fields={
        **_SWITCH_FIELDS,
        "eventConditions": _EVENT_CONDITIONS,
        "defaultCondition": _DEFAULT_CONDITION,
        "timeouts": parts.state_timeouts("stateExecTimeout", "eventTimeout"),
    },
    required=("name", "type", "eventConditions", "defaultCondition"),
    lenient_fields=_LENIENT_EVENT_TIMEOUT,
    # SonataFlow: without a default, the state waits for one of its events.
    lenient_optional=("defaultCondition",),
)

# A switch of unclear kind (both or no condition lists): the common properties only.
_BARE_SWITCH_STATE: Final = ObjectShape(
    what="a switch state",
    fields={**_SWITCH_FIELDS, "defaultCondition": _DEFAULT_CONDITION},
    required=("name", "type"),
    closed=False,
)


def _switch_state(value: Json, pointer: str, walk: Walk) -> None:
    has_data = "dataConditions" in value
    has_events = "eventConditions" in value
    if has_data and has_events:
        walk.report(
            pointer,
            "a switch state has 'dataConditions' and 'eventConditions'; "
            "it takes only one of them",
        )
    elif not has_data and not has_events:
        walk.report(
            pointer, "a switch state needs 'dataConditions' or 'eventConditions'"
        )
    for name in ("transition", "end"):
        if name in value:
            walk.report(
                child(pointer, name),
                f"a switch state has no {quote(name)} of its own; "
                "its conditions say where to go",
            )
    # The problems above are reported once; the rest is checked by the matching shape.
    rest = {k: v for k, v in value.items() if k not in ("transition", "end")}
    if has_events and not has_data:
        _EVENT_SWITCH_STATE(rest, pointer, walk)
    elif has_data and not has_events:
        _DATA_SWITCH_STATE(rest, pointer, walk)
    else:
        _check_unsure_switch(rest, pointer, walk)


def _check_unsure_switch(value: dict[str, Json], pointer: str, walk: Walk) -> None:
    for key, conditions in (
        ("dataConditions", _DATA_CONDITIONS),
        ("eventConditions", _EVENT_CONDITIONS),
    ):
        if key in value:
            conditions(value.pop(key), child(pointer, key), walk)
    _BARE_SWITCH_STATE(value, pointer, walk)


_STATE_SHAPES: Final[Mapping[str, Shape]] = {
    "sleep": _SLEEP_STATE,
    "event": _EVENT_STATE,
    "operation": _OPERATION_STATE,
    "parallel": _PARALLEL_STATE,
    "switch": _switch_state,
    "inject": _INJECT_STATE,
    "foreach": _FOREACH_STATE,
    "callback": _CALLBACK_STATE,
}


def _any_state(value: Json, pointer: str, walk: Walk) -> None:
    if not isinstance(value, dict):
        walk.report(pointer, "a state must be an object")
        return
    if "type" not in value:
        walk.report(pointer, "a state needs the property 'type'")
        return
    kind = value["type"]
    shape = _STATE_SHAPES.get(kind) if isinstance(kind, str) else None
    if shape is None:
        listed = ", ".join(STATE_TYPES)
        walk.report(
            child(pointer, "type"),
            f"{quote(kind)} is not a state type; use one of {listed}",
        )
        return
    shape(value, pointer, walk)


_SCHEDULE: Final = either(
    ("string", parts.NAME),
    (
        "object",
        ObjectShape(
            what="a schedule",
            fields={
                "interval": parts.NAME,
                "cron": either(
                    ("string", parts.NAME),
                    (
                        "object",
                        ObjectShape(
                            what="a cron definition",
                            fields={"expression": parts.NAME, "validUntil": parts.TEXT},
                            required=("expression",),
                        ),
                    ),
                    expected="a cron expression or a cron object",
                ),
                "timezone": parts.TEXT,
            },
            rules=(exactly_one("interval", "cron", what="a schedule"),),
        ),
    ),
    expected="an interval or a schedule object",
)
_START: Final = either(
    ("string", parts.NAME),
    (
        "object",
        ObjectShape(
            what="a start definition",
            fields={"stateName": parts.NAME, "schedule": _SCHEDULE},
            required=("stateName", "schedule"),
        ),
    ),
    expected="a state name or a start object",
)
_DATA_INPUT_SCHEMA: Final = either(
    ("string", parts.NAME),
    (
        "object",
        ObjectShape(
            what="a dataInputSchema",
            fields={"schema": parts.NAME, "failOnValidationErrors": boolean()},
            required=("schema", "failOnValidationErrors"),
            # SonataFlow: the schema may be inline, and the flag defaults to true.
            lenient_fields={
                "schema": either(
                    ("string", parts.NAME),
                    ("object", anything_of("object")),
                    expected="a file name or a JSON schema object",
                )
            },
            lenient_optional=("failOnValidationErrors",),
        ),
    ),
    expected="a file name or a dataInputSchema object",
)


def _identity_rule(value: Mapping[str, Json], pointer: str, walk: Walk) -> None:
    # SW 0.8 schema: `oneOf` requires `id` or `key` (never both).
    if "id" in value and "key" in value:
        walk.report(pointer, "a workflow has 'id' and 'key'; it takes only one of them")
    elif "id" not in value and "key" not in value:
        walk.report(pointer, "a workflow needs the property 'id' (or 'key')")


_WORKFLOW: Final = ObjectShape(
    what="a workflow",
    fields={
        "id": parts.NAME,
        "key": parts.NAME,
        "name": parts.NAME,
        "description": parts.TEXT,
        "version": parts.NAME,
        "annotations": array(parts.TEXT, min_items=1),
        "dataInputSchema": _DATA_INPUT_SCHEMA,
        "secrets": either(
            ("string", parts.TEXT),
            ("array", array(parts.TEXT, min_items=1)),
            expected="a file name or a list of secret names",
        ),
        "constants": anything_of("string", "object"),
        "start": _START,
        "specVersion": parts.NAME,
        "expressionLang": parts.NAME,
        "timeouts": parts.TIMEOUTS,
        "errors": parts.file_or_list(parts.ERROR, "error definitions"),
        "keepActive": boolean(),
        "metadata": parts.METADATA,
        "events": parts.file_or_list(parts.EVENT, "event definitions"),
        "functions": parts.file_or_list(parts.FUNCTION, "function definitions"),
        "autoRetries": boolean(),
        "retries": parts.file_or_list(parts.RETRY, "retry definitions"),
        "auth": parts.file_or_list(parts.AUTH, "auth definitions"),
        "states": array(_any_state, min_items=1),
    },
    required=("specVersion", "states"),
    closed=False,
    # SonataFlow does not require `specVersion`.
    lenient_optional=("specVersion",),
    rules=(_identity_rule,),
)
