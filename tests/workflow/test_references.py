"""Reference rules: names that must resolve, compensation links, event kinds, operations."""

from __future__ import annotations

from typing import Any

import pytest

from knflow.workflow import references
from knflow.workflow.model import Json


def workflow(*states: Json, **top: Json) -> dict[str, Json]:
    return {"id": "w", "specVersion": "0.8", "states": list(states), **top}


def inject(name: str, **fields: Any) -> dict[str, Json]:
    return {"name": name, "type": "inject", "data": {}, **fields}


def operation(name: str, *actions: Json, **fields: Any) -> dict[str, Json]:
    return {"name": name, "type": "operation", "actions": list(actions), **fields}


EVENTS = [
    {"name": "in", "source": "s", "type": "t.in", "kind": "consumed"},
    {"name": "out", "type": "t.out", "kind": "produced"},
    {"name": "plain", "source": "s", "type": "t.plain"},
]
END = {"end": True}

# (id, document, problems) found in both modes
CASES = [
    (
        "valid",
        workflow(inject("a", transition="b"), inject("b", **END), start="a"),
        [],
    ),
    (
        "unknown-transition",
        workflow(inject("a", transition="nowhere")),
        [("/states/0/transition", "state 'nowhere' is not defined")],
    ),
    (
        "unknown-next-state",
        workflow(inject("a", transition={"nextState": "nowhere"})),
        [("/states/0/transition/nextState", "state 'nowhere' is not defined")],
    ),
    (
        "unknown-targets-of-conditions-and-handlers",
        workflow(
            {
                "name": "a",
                "type": "switch",
                "dataConditions": [{"condition": ".x", "transition": "c1"}],
                "defaultCondition": {"transition": "c2"},
                "onErrors": [{"errorRef": "e", "transition": "c3"}],
            },
            errors=[{"name": "e"}],
        ),
        [
            ("/states/0/onErrors/0/transition", "state 'c3' is not defined"),
            ("/states/0/dataConditions/0/transition", "state 'c1' is not defined"),
            ("/states/0/defaultCondition/transition", "state 'c2' is not defined"),
        ],
    ),
    (
        "duplicate-state-name",
        workflow(inject("a", **END), inject("b", **END), inject("a", **END)),
        [("/states/2/name", "state name 'a' is already taken by /states/0")],
    ),
    (
        "start-names-no-state",
        workflow(inject("a", **END), start="b"),
        [("/start", "start state 'b' is not defined")],
    ),
    (
        "start-object-names-no-state",
        workflow(inject("a", **END), start={"stateName": "b", "schedule": "R/PT1H"}),
        [("/start/stateName", "start state 'b' is not defined")],
    ),
    (
        "undefined-functions",
        workflow(
            operation(
                "a", {"functionRef": "f"}, {"functionRef": {"refName": "g"}}, **END
            ),
            functions=[{"name": "h", "operation": ".", "type": "expression"}],
        ),
        [
            ("/states/0/actions/0/functionRef", "function 'f' is not defined"),
            ("/states/0/actions/1/functionRef/refName", "function 'g' is not defined"),
        ],
    ),
    (
        "functions-of-branches-events-and-callbacks",
        workflow(
            {
                "name": "p",
                "type": "parallel",
                "end": True,
                "branches": [{"name": "b", "actions": [{"functionRef": "f1"}]}],
            },
            {
                "name": "e",
                "type": "event",
                "end": True,
                "onEvents": [{"eventRefs": ["in"], "actions": [{"functionRef": "f2"}]}],
            },
            {
                "name": "c",
                "type": "callback",
                "eventRef": "in",
                "end": True,
                "action": {"functionRef": "f3"},
            },
            events=EVENTS,
        ),
        [
            (
                "/states/0/branches/0/actions/0/functionRef",
                "function 'f1' is not defined",
            ),
            (
                "/states/1/onEvents/0/actions/0/functionRef",
                "function 'f2' is not defined",
            ),
            ("/states/2/action/functionRef", "function 'f3' is not defined"),
        ],
    ),
    (
        "undefined-events",
        workflow(
            {
                "name": "e",
                "type": "event",
                "transition": "c",
                "onEvents": [{"eventRefs": ["nope1"]}],
            },
            {
                "name": "c",
                "type": "callback",
                "eventRef": "nope2",
                "transition": "s",
                "action": {
                    "eventRef": {"triggerEventRef": "nope3", "resultEventRef": "nope4"}
                },
            },
            {
                "name": "s",
                "type": "switch",
                "eventConditions": [
                    {
                        "eventRef": "nope5",
                        "end": {"produceEvents": [{"eventRef": "nope6"}]},
                    }
                ],
                "defaultCondition": {"end": True},
            },
            events=EVENTS,
        ),
        [
            ("/states/0/onEvents/0/eventRefs/0", "event 'nope1' is not defined"),
            ("/states/1/eventRef", "event 'nope2' is not defined"),
            (
                "/states/1/action/eventRef/triggerEventRef",
                "event 'nope3' is not defined",
            ),
            (
                "/states/1/action/eventRef/resultEventRef",
                "event 'nope4' is not defined",
            ),
            (
                "/states/2/eventConditions/0/end/produceEvents/0/eventRef",
                "event 'nope6' is not defined",
            ),
            ("/states/2/eventConditions/0/eventRef", "event 'nope5' is not defined"),
        ],
    ),
    (
        "events-of-the-wrong-kind",
        workflow(
            {
                "name": "e",
                "type": "event",
                "end": {"produceEvents": [{"eventRef": "in"}]},
                "onEvents": [{"eventRefs": ["out"]}],
            },
            events=EVENTS,
        ),
        [
            (
                "/states/0/end/produceEvents/0/eventRef",
                "event 'in' is consumed, so it cannot be produced here",
            ),
            (
                "/states/0/onEvents/0/eventRefs/0",
                "event 'out' is produced, so it cannot be awaited",
            ),
        ],
    ),
    (
        "undefined-errors-and-retries",
        workflow(
            operation(
                "a",
                {"functionRef": "f", "retryRef": "r", "retryableErrors": ["e1"]},
                onErrors=[
                    {"errorRef": "e2", "end": True},
                    {"errorRefs": ["known", "e3"], "end": True},
                ],
                **END,
            ),
            functions=[{"name": "f", "operation": ".", "type": "expression"}],
            errors=[{"name": "known"}],
        ),
        [
            ("/states/0/onErrors/0/errorRef", "error 'e2' is not defined"),
            ("/states/0/onErrors/1/errorRefs/1", "error 'e3' is not defined"),
            ("/states/0/actions/0/retryRef", "retry policy 'r' is not defined"),
            ("/states/0/actions/0/retryableErrors/0", "error 'e1' is not defined"),
        ],
    ),
    (
        "definitions-named-twice",
        workflow(
            inject("a", **END),
            functions=[
                {"name": "f", "operation": "."},
                {"name": "f", "operation": "."},
            ],
            retries=[{"name": "r", "maxAttempts": 1}, {"name": "r", "maxAttempts": 2}],
        ),
        [
            ("/functions/1/name", "function 'f' is defined twice"),
            ("/retries/1/name", "retry policy 'r' is defined twice"),
        ],
    ),
    (
        "unresolved-definition-files-are-not-checked-again",
        workflow(operation("a", {"functionRef": "f"}, **END), functions="f.json"),
        [],
    ),
    (
        "run-before-names-no-state",
        workflow(
            inject("a", **END),
            timeouts={"workflowExecTimeout": {"duration": "PT1H", "runBefore": "b"}},
        ),
        [("/timeouts/workflowExecTimeout/runBefore", "state 'b' is not defined")],
    ),
]

COMPENSATION_CASES = [
    (
        "compensated-by-names-no-state",
        workflow(inject("a", compensatedBy="undo", **END)),
        [("/states/0/compensatedBy", "state 'undo' is not defined")],
    ),
    (
        "compensated-by-a-normal-state",
        workflow(inject("a", compensatedBy="b", **END), inject("b", **END)),
        [
            (
                "/states/0/compensatedBy",
                "state 'b' compensates, so it needs 'usedForCompensation: true'",
            )
        ],
    ),
    (
        "compensated-by-an-event-state",
        workflow(
            inject("a", compensatedBy="e", **END),
            {"name": "e", "type": "event", "onEvents": [], "end": True},
        ),
        [
            (
                "/states/0/compensatedBy",
                "state 'e' is an event state and cannot compensate",
            )
        ],
    ),
    (
        "normal-state-transitions-into-compensation",
        workflow(
            inject("a", transition="undo"),
            inject("undo", usedForCompensation=True),
        ),
        [
            (
                "/states/0/transition",
                "state 'undo' is used for compensation; "
                "only compensation states may transition to it",
            )
        ],
    ),
    (
        "compensation-transitions-to-a-normal-state",
        workflow(
            inject("a", compensatedBy="undo", **END),
            inject("undo", usedForCompensation=True, transition="a"),
        ),
        [
            (
                "/states/1/transition",
                "a compensation state may only transition to compensation states, "
                "and 'a' is not one",
            )
        ],
    ),
    (
        "start-at-a-compensation-state",
        workflow(inject("undo", usedForCompensation=True), start="undo"),
        [("/start", "start state 'undo' is used for compensation and cannot start")],
    ),
    (
        "compensation-chain",
        workflow(
            inject("a", compensatedBy="undo", **END),
            inject("undo", usedForCompensation=True, transition="more"),
            inject("more", usedForCompensation=True),
        ),
        [],
    ),
]


@pytest.mark.parametrize(
    ("document", "problems"),
    [case[1:] for case in CASES + COMPENSATION_CASES],
    ids=[case[0] for case in CASES + COMPENSATION_CASES],
)
def test_each_reference_rule_gives_its_pointer_and_reason(
    document: Json, problems: list[tuple[str, str]]
) -> None:
    for strict in (True, False):
        found = references.find_reference_problems(document, strict=strict)

        assert [(p.pointer, p.reason) for p in found] == problems


def test_an_event_without_kind_is_consumed_in_strict_mode_only() -> None:
    produce = {"produceEvents": [{"eventRef": "plain"}]}
    document = workflow(
        operation("a", {"eventRef": {"triggerEventRef": "plain"}}, end=produce),
        events=EVENTS,
    )

    strict = references.find_reference_problems(document, strict=True)
    lenient = references.find_reference_problems(document, strict=False)

    reason = "event 'plain' is consumed, so it cannot be produced here"
    assert [(p.pointer, p.reason) for p in strict] == [
        ("/states/0/end/produceEvents/0/eventRef", reason),
        ("/states/0/actions/0/eventRef/triggerEventRef", reason),
    ]
    assert lenient == []


OPENAPI = {
    "paths": {
        "/a": {"get": {"operationId": "getA"}, "parameters": []},
        "/b": {"post": {"operationId": "postB"}},
    }
}
ASYNCAPI_2 = {"channels": {"c": {"publish": {"operationId": "send"}}}}
ASYNCAPI_3 = {"operations": {"receive": {"action": "receive"}}}


@pytest.mark.parametrize(
    ("function", "problem"),
    [
        ({"operation": "api.json#getA"}, None),
        ({"operation": "api.json#postB", "type": "rest"}, None),
        ({"operation": "async2.yaml#send", "type": "asyncapi"}, None),
        ({"operation": "async3.yaml#receive", "type": "asyncapi"}, None),
        ({"operation": "https://remote/api.json#any"}, None),
        ({"operation": "rest:get:/a", "type": "custom"}, None),
        ({"operation": "api.json#nope"}, "document 'api.json' has no operation 'nope'"),
        ({"operation": "other.json#getA"}, "document 'other.json' is not loaded"),
        (
            {"operation": "api.json"},
            "operation 'api.json' needs the form '<document>#<operationId>'",
        ),
    ],
    ids=[
        "openapi",
        "openapi-post",
        "asyncapi-2",
        "asyncapi-3",
        "remote",
        "custom",
        "unknown-operation",
        "not-loaded",
        "no-operation-id",
    ],
)
def test_operations_refer_to_loaded_documents(
    function: dict[str, Json], problem: str | None
) -> None:
    document = workflow(inject("a", **END), functions=[{"name": "f", **function}])
    resources = {
        "api.json": OPENAPI,
        "async2.yaml": ASYNCAPI_2,
        "async3.yaml": ASYNCAPI_3,
    }

    found = references.find_reference_problems(document, resources=resources)

    expected = [] if problem is None else [("/functions/0/operation", problem)]
    assert [(p.pointer, p.reason) for p in found] == expected


def test_operations_are_not_checked_without_resources() -> None:
    document = workflow(inject("a", **END), functions=[{"name": "f", "operation": "x"}])

    assert references.find_reference_problems(document) == []


def test_malformed_documents_give_no_reference_problems() -> None:
    document = {"states": [5, {"name": 3}, {"name": "a", "transition": 7}], "start": []}

    assert references.find_reference_problems(document) == []
    assert references.find_reference_problems("not a workflow") == []
