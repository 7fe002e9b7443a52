"""Structural rules: each gives its pointer and reason, strict and lenient as documented."""

from __future__ import annotations

from typing import Any

import pytest

from knflow.workflow import structure
from knflow.workflow.model import Json


def workflow(*states: Json, **top: Json) -> dict[str, Json]:
    """A valid workflow around the given states (one inject state when none)."""
    return {
        "id": "w",
        "specVersion": "0.8",
        "states": list(states) or [inject()],
        **top,
    }


def inject(name: str = "s", **fields: Any) -> dict[str, Json]:
    state = {"name": name, "type": "inject", "data": {}, **fields}
    if "transition" not in state and not state.get("usedForCompensation"):
        state.setdefault("end", True)
    return state


def operation(*actions: Json, **fields: Any) -> dict[str, Json]:
    return {
        "name": "op",
        "type": "operation",
        "actions": list(actions),
        "end": True,
        **fields,
    }


def callback(**fields: Any) -> dict[str, Json]:
    action = {"eventRef": {"triggerEventRef": "out", "resultEventRef": "in"}}
    return {
        "name": "cb",
        "type": "callback",
        "action": action,
        "eventRef": "in",
        "end": True,
        **fields,
    }


def switch(**fields: Any) -> dict[str, Json]:
    return {"name": "sw", "type": "switch", **fields}


DATA_CONDITIONS = [{"condition": "${ .a }", "end": True}]
DEFAULT = {"end": True}
NOT_ONE = "it takes only one of them"

# (id, document, problems) alike in strict and lenient mode
BOTH_MODES = [
    ("valid", workflow(), []),
    (
        "no-id",
        {"specVersion": "0.8", "states": [inject()]},
        [("", "a workflow needs the property 'id' (or 'key')")],
    ),
    (
        "id-and-key",
        workflow(key="k"),
        [("", f"a workflow has 'id' and 'key'; {NOT_ONE}")],
    ),
    ("no-states", workflow(states=[]), [("/states", "must have at least 1 item(s)")]),
    ("not-an-object", ["a", "list"], [("", "expected an object, got an array")]),
    (
        "unknown-state-type",
        workflow({"name": "s", "type": "wait", "end": True}),
        [
            (
                "/states/0/type",
                "'wait' is not a state type; use one of sleep, event, "
                "operation, parallel, switch, inject, foreach, callback",
            )
        ],
    ),
    (
        "state-without-type",
        workflow({"name": "s", "end": True}),
        [("/states/0", "a state needs the property 'type'")],
    ),
    (
        "unknown-property",
        workflow(inject(colour="red")),
        [("/states/0/colour", "property 'colour' is not allowed in an inject state")],
    ),
    (
        "wrong-type",
        workflow(inject(data="x")),
        [("/states/0/data", "expected an object, got a string")],
    ),
    (
        "not-in-enum",
        workflow(operation(actionMode="fast")),
        [("/states/0/actionMode", "'fast' is not one of 'sequential', 'parallel'")],
    ),
    (
        "empty-name",
        workflow(functions=[{"name": "", "operation": "x"}]),
        [("/functions/0/name", "must not be empty")],
    ),
    (
        "metadata-value-not-a-string",
        workflow(metadata={"x": 1}),
        [("/metadata/x", "expected a string, got a number")],
    ),
    (
        "transition-and-end",
        workflow(inject(transition="s", end=True)),
        [("/states/0", f"an inject state has 'transition' and 'end'; {NOT_ONE}")],
    ),
    (
        "neither-transition-nor-end",
        workflow({"name": "s", "type": "sleep", "duration": "PT1S"}),
        [("/states/0", "a sleep state needs 'transition' or 'end'")],
    ),
    (
        "compensation-state-needs-neither",
        workflow(inject(), inject("undo", usedForCompensation=True)),
        [],
    ),
    (
        "event-state-cannot-compensate",
        workflow(
            {
                "name": "e",
                "type": "event",
                "onEvents": [{"eventRefs": ["in"]}],
                "usedForCompensation": False,
                "end": True,
            }
        ),
        [
            (
                "/states/0/usedForCompensation",
                "property 'usedForCompensation' is not allowed in an event state",
            )
        ],
    ),
    (
        "switch-with-both-condition-kinds",
        workflow(
            switch(
                dataConditions=DATA_CONDITIONS,
                eventConditions=[],
                defaultCondition=DEFAULT,
            )
        ),
        [
            (
                "/states/0",
                f"a switch state has 'dataConditions' and 'eventConditions'; {NOT_ONE}",
            )
        ],
    ),
    (
        "switch-without-conditions",
        workflow(switch(defaultCondition=DEFAULT)),
        [("/states/0", "a switch state needs 'dataConditions' or 'eventConditions'")],
    ),
    (
        "switch-with-its-own-end",
        workflow(
            switch(dataConditions=DATA_CONDITIONS, defaultCondition=DEFAULT, end=True)
        ),
        [
            (
                "/states/0/end",
                "a switch state has no 'end' of its own; "
                "its conditions say where to go",
            )
        ],
    ),
    (
        "condition-with-transition-and-end",
        workflow(
            switch(
                dataConditions=[{"condition": "x", "end": True, "transition": "sw"}],
                defaultCondition=DEFAULT,
            )
        ),
        [
            (
                "/states/0/dataConditions/0",
                f"a data condition has 'transition' and 'end'; {NOT_ONE}",
            )
        ],
    ),
    (
        "action-with-two-references",
        workflow(operation({"functionRef": "f", "subFlowRef": "child"})),
        [
            (
                "/states/0/actions/0",
                f"an action has 'functionRef' and 'subFlowRef'; {NOT_ONE}",
            )
        ],
    ),
    (
        "action-without-reference",
        workflow(operation({"name": "nothing"})),
        [
            (
                "/states/0/actions/0",
                "an action needs 'functionRef', 'eventRef' or 'subFlowRef'",
            )
        ],
    ),
    (
        "state-level-event-timeout-on-an-operation",
        workflow(operation(eventTimeout="PT1M")),
        [
            (
                "/states/0/eventTimeout",
                "property 'eventTimeout' is not allowed in an operation state",
            )
        ],
    ),
    (
        "unlisted-state-timeouts-are-ignored",
        workflow(inject(timeouts={"eventTimeout": 5})),
        [],
    ),
    (
        "repeated-event-refs",
        workflow(
            {
                "name": "e",
                "type": "event",
                "end": True,
                "onEvents": [{"eventRefs": ["in", "in"]}],
            }
        ),
        [("/states/0/onEvents/0/eventRefs/1", "'in' is listed twice")],
    ),
    (
        "start-object-without-schedule",
        workflow(start={"stateName": "s"}),
        [("/start", "a start definition needs the property 'schedule'")],
    ),
    (
        "auth-properties-of-no-scheme",
        workflow(auth=[{"name": "a", "properties": {}}]),
        [
            (
                "/auth/0/properties",
                "auth properties need 'username' and 'password', "
                "'token', or 'grantType' and 'clientId'",
            )
        ],
    ),
    (
        "transition-object-without-next-state",
        workflow(inject(end=None, transition={"compensate": True})),
        [
            ("/states/0/end", "expected a boolean or an end object, got null"),
            ("/states/0/transition", "a transition needs the property 'nextState'"),
            ("/states/0", f"an inject state has 'transition' and 'end'; {NOT_ONE}"),
        ],
    ),
]
# (id, document, problems in strict mode, problems in lenient mode)
MODE_DEPENDENT = [
    (
        "event-switch-without-default",
        workflow(switch(eventConditions=[{"eventRef": "in", "end": True}])),
        [
            (
                "/states/0",
                "an event-based switch state needs the property 'defaultCondition'",
            )
        ],
        [],
    ),
    (
        "consumed-event-without-source",
        workflow(events=[{"name": "in", "type": "t"}]),
        [("/events/0", "a consumed event definition needs the property 'source'")],
        [],
    ),
    (
        "no-spec-version",
        {"id": "w", "states": [inject()]},
        [("", "a workflow needs the property 'specVersion'")],
        [],
    ),
    (
        "data-switch-without-default",
        workflow(switch(dataConditions=DATA_CONDITIONS)),
        [
            (
                "/states/0",
                "a data-based switch state needs the property 'defaultCondition'",
            )
        ],
        [],
    ),
    (
        "arguments-as-a-jq-string",
        workflow(operation({"functionRef": {"refName": "f", "arguments": "{a: .b}"}})),
        [
            (
                "/states/0/actions/0/functionRef/arguments",
                "expected an object, got a string",
            )
        ],
        [],
    ),
    (
        "function-ref-with-a-name",
        workflow(operation({"functionRef": {"refName": "f", "name": "call f"}})),
        [
            (
                "/states/0/actions/0/functionRef/name",
                "property 'name' is not allowed in a functionRef",
            )
        ],
        [],
    ),
    (
        "event-ref-without-result",
        workflow(operation({"eventRef": {"triggerEventRef": "out"}})),
        [
            (
                "/states/0/actions/0/eventRef",
                "an eventRef needs the property 'resultEventRef'",
            )
        ],
        [],
    ),
    (
        "state-level-event-timeout",
        workflow(callback(eventTimeout="PT1M")),
        [
            (
                "/states/0/eventTimeout",
                "property 'eventTimeout' is not allowed in a callback state",
            )
        ],
        [],
    ),
    (
        "inject-with-error-handlers",
        workflow(inject(onErrors=[{"errorRef": "e", "end": True}])),
        [
            (
                "/states/0/onErrors",
                "property 'onErrors' is not allowed in an inject state",
            )
        ],
        [],
    ),
    (
        "action-sleep-before-and-after",
        workflow(
            operation(
                {"functionRef": "f", "sleep": {"before": "PT1S", "after": "PT1S"}}
            )
        ),
        [
            (
                "/states/0/actions/0/sleep",
                "an action sleep has 'before' and 'after'; the 0.8 schema takes only one",
            )
        ],
        [],
    ),
    (
        "retry-multiplier-of-a-float-rounding",
        workflow(retries=[{"name": "r", "maxAttempts": 0, "multiplier": 0.07}]),
        [
            ("/retries/0/maxAttempts", "must be at least 1"),
            ("/retries/0/multiplier", "must be a multiple of 0.01"),
        ],
        [("/retries/0/maxAttempts", "must be at least 1")],
    ),
    (
        "input-schema-inline-and-without-flag",
        workflow(dataInputSchema={"schema": {"type": "object"}}),
        [
            (
                "/dataInputSchema",
                "a dataInputSchema needs the property 'failOnValidationErrors'",
            ),
            ("/dataInputSchema/schema", "expected a string, got an object"),
        ],
        [],
    ),
]


@pytest.mark.parametrize(
    ("document", "problems"),
    [case[1:] for case in BOTH_MODES],
    ids=[case[0] for case in BOTH_MODES],
)
def test_each_rule_gives_its_pointer_and_reason_in_both_modes(
    document: Json, problems: list[tuple[str, str]]
) -> None:
    for strict in (True, False):
        found = structure.find_structure_problems(document, strict=strict)

        assert [(p.pointer, p.reason) for p in found] == problems


@pytest.mark.parametrize(
    ("document", "strict_problems", "lenient_problems"),
    [case[1:] for case in MODE_DEPENDENT],
    ids=[case[0] for case in MODE_DEPENDENT],
)
def test_lenient_mode_accepts_what_sonataflow_accepts(
    document: Json,
    strict_problems: list[tuple[str, str]],
    lenient_problems: list[tuple[str, str]],
) -> None:
    strict = structure.find_structure_problems(document, strict=True)
    lenient = structure.find_structure_problems(document, strict=False)

    assert [(p.pointer, p.reason) for p in strict] == strict_problems
    assert [(p.pointer, p.reason) for p in lenient] == lenient_problems
