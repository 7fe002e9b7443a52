"""The interpreter on real definitions: SonataFlow examples, data flow, branching, errors."""

from __future__ import annotations

from typing import Any

import pytest

from knflow.engine import interpreter
from knflow.engine.context import InstanceContext
from knflow.engine.expressions import Evaluator
from knflow.engine.outcome import (
    CallCompleted,
    CallFunction,
    EmitEvent,
    Failure,
    ScheduleTimer,
    StartSubflow,
)
from knflow.workflow.parsing import parse_definition
from tests.conftest import REFERENCE_DATA
from tests.engine.harness import NOW, definition_from, run

EXAMPLES = REFERENCE_DATA / "sonataflow-examples"


@pytest.mark.parametrize(
    ("path", "data", "expected"),
    [
        (
            "serverless-workflow-hello-world/hello.sw.json",
            {},
            {"greeting": "Hello World", "mantra": "Serverless Workflow is awesome!"},
        ),
        (
            "serverless-workflow-foreach-quarkus/foreach.sw.json",
            {"input": [1, 2, 3]},
            {"output": [4, 6, 8]},
        ),
        (
            "serverless-workflow-parallel-execution/parallel.sw.json",
            {"number": 2},
            {"number": 2, "half": 1, "double": 4},
        ),
        (
            "serverless-workflow-expression-quarkus/expression.sw.json",
            {"numbers": [{"x": 2, "y": 1}, {"x": 4, "y": 3}]},
            {"result": 2.0},
        ),
        (
            "serverless-workflow-compensation-quarkus/compensation.sw.json",
            {"shouldCompensate": True},
            {
                "shouldCompensate": True,
                "compensated": True,
                "compensating_more": "Real Betis Balompie",
            },
        ),
        (
            "serverless-workflow-compensation-quarkus/compensation.sw.json",
            {"shouldCompensate": False},
            {"shouldCompensate": False, "compensated": False},
        ),
    ],
    ids=[
        "hello",
        "foreach",
        "parallel-atleast",
        "expression",
        "compensate",
        "no-compensation",
    ],
)
def test_sonataflow_examples_give_their_stated_outputs(
    path: str, data: Any, expected: Any
) -> None:
    outcome = run(definition_from(EXAMPLES / path), data)
    assert outcome.status == "COMPLETED"
    assert outcome.data == expected


def _operation(actions: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "w",
        "specVersion": "0.8",
        "start": "s",
        "functions": [
            {"name": "svc", "operation": "rest:post:/x", "type": "custom"},
            {"name": "boom", "operation": ".a.b.c", "type": "expression"},
        ],
        "errors": [
            {"name": "notFound", "code": "404"},
            {"name": "odd", "code": "(?i)odd"},
            {"name": "expr", "code": "ExpressionError"},
        ],
        "states": [
            {
                "name": "s",
                "type": "operation",
                "actions": actions,
                "end": True,
                **extra,
            },
            {
                "name": "handled",
                "type": "inject",
                "data": {"handled": True},
                "end": True,
            },
        ],
    }


@pytest.mark.parametrize(
    ("failure", "handled"),
    [
        (Failure(message="nope", kind="HTTP:404", status=404), True),
        (Failure(message="nope", kind="HTTP:500", status=500), False),
        (Failure(message="Odd situation", kind="x"), True),
    ],
    ids=["status-code", "other-status", "message-regex"],
)
def test_on_errors_matches_failures_by_status_and_message(
    failure: Failure, handled: bool
) -> None:
    document = _operation(
        [{"functionRef": "svc"}],
        onErrors=[{"errorRefs": ["notFound", "odd"], "transition": "handled"}],
    )
    outcome = run(parse_definition(document), {}, lambda _call: failure)
    assert outcome.status == ("COMPLETED" if handled else "ERROR")
    assert (outcome.data or {}).get("handled", False) is handled


def test_unhandled_failure_puts_the_instance_in_error_with_state_and_message() -> None:
    outcome = run(
        parse_definition(_operation([{"functionRef": "svc"}])),
        {},
        lambda _call: Failure(message="service down", kind="HTTP:503", status=503),
    )
    assert outcome.status == "ERROR"
    assert outcome.failed_state == "s"
    assert outcome.failure is not None
    assert outcome.failure.message == "service down"
    assert [t.event for t in outcome.trace][-1] == "error"


def test_a_jq_error_puts_the_instance_in_error_naming_the_expression() -> None:
    outcome = run(parse_definition(_operation([{"functionRef": "boom"}])), {"a": [1]})
    assert outcome.status == "ERROR"
    assert outcome.failure is not None
    assert outcome.failure.kind == "ExpressionError"
    assert ".a.b.c" in outcome.failure.message


def test_a_jq_error_can_be_handled_by_its_kind_name() -> None:
    document = _operation(
        [{"functionRef": "boom"}],
        onErrors=[{"errorRef": "expr", "transition": "handled"}],
    )
    assert run(parse_definition(document), {"a": [1]}).data == {
        "a": [1],
        "handled": True,
    }


def test_call_arguments_are_evaluated_and_non_object_results_go_under_response() -> (
    None
):
    document = _operation(
        [{"functionRef": {"refName": "svc", "arguments": {"n": "${ .n + 1 }"}}}]
    )
    calls: list[CallFunction] = []
    outcome = run(
        parse_definition(document), {"n": 1}, lambda call: calls.append(call) or 42
    )
    assert calls[0].arguments == {"n": 2}
    assert outcome.data == {"n": 1, "response": 42}


def test_parallel_action_mode_calls_every_action_before_any_result() -> None:
    document = _operation(
        [
            {"functionRef": "svc", "actionDataFilter": {"toStateData": "${ .a }"}},
            {"functionRef": "svc", "actionDataFilter": {"toStateData": "${ .b }"}},
        ],
        actionMode="parallel",
    )
    definition = parse_definition(document)
    evaluator = Evaluator(functions=definition.expression_functions)
    started = interpreter.start(
        definition, evaluator, InstanceContext(instance_id="i"), data={}, now=NOW
    )
    assert len([c for c in started.commands if isinstance(c, CallFunction)]) == 2
    outcome = run(
        definition, {}, lambda call: {"from": call.thread_id.rsplit("/", 1)[-1]}
    )
    assert outcome.data == {"a": {"from": "action0"}, "b": {"from": "action1"}}


def test_sequential_foreach_runs_one_iteration_at_a_time() -> None:
    document = {
        "id": "f",
        "specVersion": "0.8",
        "start": "each",
        "functions": [{"name": "svc", "operation": "rest:post:/x", "type": "custom"}],
        "states": [
            {
                "name": "each",
                "type": "foreach",
                "inputCollection": "${ .items }",
                "iterationParam": "it",
                "outputCollection": "${ .out }",
                "mode": "sequential",
                "actions": [
                    {
                        "functionRef": {
                            "refName": "svc",
                            "arguments": {"v": "${ $it }", "w": "${ .it }"},
                        }
                    }
                ],
                "end": True,
            }
        ],
    }
    seen: list[Any] = []
    outcome = run(
        parse_definition(document),
        {"items": [1, 2, 3]},
        lambda call: seen.append(call.arguments) or call.arguments["v"] * 10,
    )
    assert seen == [{"v": 1, "w": 1}, {"v": 2, "w": 2}, {"v": 3, "w": 3}]
    assert outcome.data == {"items": [1, 2, 3], "out": [10, 20, 30]}


def test_switch_without_a_matching_condition_or_default_fails_clearly() -> None:
    document = {
        "id": "s",
        "specVersion": "0.8",
        "start": "choose",
        "states": [
            {
                "name": "choose",
                "type": "switch",
                "dataConditions": [{"condition": "${ .x == 1 }", "end": True}],
            }
        ],
    }
    outcome = run(parse_definition(document), {"x": 2})
    assert outcome.status == "ERROR"
    assert outcome.failure is not None
    assert "no condition" in outcome.failure.message


def test_end_produce_events_become_emit_commands_with_evaluated_data() -> None:
    document = {
        "id": "p",
        "specVersion": "0.8",
        "start": "done",
        "events": [{"name": "out", "type": "org.done", "kind": "produced"}],
        "states": [
            {
                "name": "done",
                "type": "inject",
                "data": {"v": 1},
                "end": {
                    "produceEvents": [{"eventRef": "out", "data": "${ {value: .v} }"}]
                },
            }
        ],
    }
    outcome = run(parse_definition(document), {})
    emitted = [c for c in outcome.commands if isinstance(c, EmitEvent)]
    assert [(e.type, e.data) for e in emitted] == [("org.done", {"value": 1})]


def test_subflow_and_sleep_actions_become_commands() -> None:
    document = {
        "id": "c",
        "specVersion": "0.8",
        "start": "s",
        "states": [
            {
                "name": "s",
                "type": "operation",
                "actions": [{"subFlowRef": "child", "sleep": {"before": "PT1S"}}],
                "end": True,
            }
        ],
    }
    definition = parse_definition(document)
    started = interpreter.start(
        definition, Evaluator(), InstanceContext(instance_id="i"), data={}, now=NOW
    )
    assert [type(c) for c in started.commands] == [ScheduleTimer]
    assert started.commands[0].due.timestamp() - NOW.timestamp() == 1  # type: ignore[union-attr]
    timer = started.commands[0]
    woken = interpreter.advance(
        definition,
        Evaluator(),
        InstanceContext(instance_id="i"),
        started.execution,
        CallCompleted(
            thread_id=timer.thread_id, key=timer.key, result={"kind": "timer"}
        ),  # type: ignore[union-attr]
        now=NOW,
    )
    assert [type(c) for c in woken.commands] == [StartSubflow]


def test_error_message_metadata_fails_the_instance() -> None:
    document = {
        "id": "m",
        "specVersion": "0.8",
        "start": "s",
        "states": [
            {
                "name": "s",
                "type": "inject",
                "data": {"odd": True},
                "metadata": {
                    "errorMessage": '${ if .odd then "Is Odd number!!!!" else null end }'
                },
                "end": True,
            }
        ],
    }
    outcome = run(parse_definition(document), {})
    assert outcome.status == "ERROR"
    assert outcome.failure is not None
    assert outcome.failure.message == "Is Odd number!!!!"


def test_a_stale_activation_is_ignored() -> None:
    definition = parse_definition(_operation([{"functionRef": "svc"}]))
    instance = InstanceContext(instance_id="i")
    started = interpreter.start(definition, Evaluator(), instance, data={}, now=NOW)
    stale = CallCompleted(thread_id="main", key="not-the-key", result={})
    outcome = interpreter.advance(
        definition, Evaluator(), instance, started.execution, stale, now=NOW
    )
    assert outcome.ignored
    assert outcome.status == "ACTIVE"


def _vet_appointment() -> Any:
    return parse_definition(
        {
            "id": "vet",
            "specVersion": "0.8",
            "start": "book",
            "events": [
                {"name": "make", "type": "org.vet.make", "kind": "produced"},
                {"name": "made", "type": "org.vet.made", "source": ""},
            ],
            "errors": [{"name": "slow", "code": "TimeoutError"}],
            "states": [
                {
                    "name": "book",
                    "type": "operation",
                    "actions": [
                        {
                            "eventRef": {
                                "triggerEventRef": "make",
                                "resultEventRef": "made",
                                "resultEventTimeout": "PT15M",
                                "data": "${ .patient }",
                            },
                            "actionDataFilter": {"toStateData": "${ .appointment }"},
                        }
                    ],
                    "onErrors": [{"errorRef": "slow", "end": True}],
                    "end": True,
                }
            ],
        }
    )


def test_result_event_ref_waits_for_the_result_event_and_merges_it() -> None:
    definition = _vet_appointment()
    evaluator, instance = Evaluator(), InstanceContext(instance_id="i")
    started = interpreter.start(
        definition, evaluator, instance, data={"patient": {"name": "Mia"}}, now=NOW
    )
    emitted = [c for c in started.commands if isinstance(c, EmitEvent)]
    timer = next(c for c in started.commands if isinstance(c, ScheduleTimer))
    assert [(e.type, e.data) for e in emitted] == [("org.vet.make", {"name": "Mia"})]
    arrival = {"kind": "event", "events": [{"ref": "made", "payload": {"at": "10:00"}}]}
    done = interpreter.advance(
        definition,
        evaluator,
        instance,
        started.execution,
        CallCompleted(thread_id=timer.thread_id, key=timer.key, result=arrival),
        now=NOW,
    )
    assert done.status == "COMPLETED"
    assert done.data["appointment"] == {"at": "10:00"}


def test_result_event_timeout_is_an_error_on_errors_can_handle() -> None:
    definition = _vet_appointment()
    evaluator, instance = Evaluator(), InstanceContext(instance_id="i")
    started = interpreter.start(
        definition, evaluator, instance, data={"patient": {}}, now=NOW
    )
    timer = next(c for c in started.commands if isinstance(c, ScheduleTimer))
    expired = interpreter.advance(
        definition,
        evaluator,
        instance,
        started.execution,
        CallCompleted(
            thread_id=timer.thread_id, key=timer.key, result={"kind": "timer"}
        ),
        now=timer.due,
    )
    assert expired.status == "COMPLETED"
    assert "appointment" not in expired.data


def test_on_events_in_parallel_action_mode_call_every_action_at_once() -> None:
    definition = parse_definition(
        {
            "id": "e",
            "specVersion": "0.8",
            "start": "wait",
            "functions": [
                {"name": "svc", "type": "custom", "operation": "rest:post:/x"}
            ],
            "events": [{"name": "go", "type": "org.go", "source": ""}],
            "states": [
                {
                    "name": "wait",
                    "type": "event",
                    "end": True,
                    "onEvents": [
                        {
                            "eventRefs": ["go"],
                            "actionMode": "parallel",
                            "actions": [
                                {
                                    "functionRef": "svc",
                                    "actionDataFilter": {"toStateData": "${ .a }"},
                                },
                                {
                                    "functionRef": "svc",
                                    "actionDataFilter": {"toStateData": "${ .b }"},
                                },
                            ],
                        }
                    ],
                }
            ],
        }
    )
    evaluator, instance = Evaluator(), InstanceContext(instance_id="i")
    waiting = interpreter.start(definition, evaluator, instance, data={}, now=NOW)
    wait = waiting.execution.main.wait
    assert wait is not None
    key = wait.key
    assert key is not None
    arrival = {"kind": "event", "events": [{"ref": "go", "payload": {}}]}
    woken = interpreter.advance(
        definition,
        evaluator,
        instance,
        waiting.execution,
        CallCompleted(thread_id="main", key=key, result=arrival),
        now=NOW,
    )
    calls = [c for c in woken.commands if isinstance(c, CallFunction)]
    assert len(calls) == 2
    outcome = woken
    for call in calls:
        outcome = interpreter.advance(
            definition,
            evaluator,
            instance,
            outcome.execution,
            CallCompleted(
                thread_id=call.thread_id, key=call.key, result=call.thread_id[-1]
            ),
            now=NOW,
        )
    assert outcome.status == "COMPLETED"
    assert outcome.data == {"a": "0", "b": "1"}


def test_an_expression_failing_in_produced_event_data_puts_the_instance_in_error() -> (
    None
):
    document = {
        "id": "p",
        "specVersion": "0.8",
        "start": "done",
        "events": [{"name": "out", "type": "org.done", "kind": "produced"}],
        "states": [
            {
                "name": "done",
                "type": "inject",
                "data": {},
                "end": {
                    "produceEvents": [{"eventRef": "out", "data": '${ error("boom") }'}]
                },
            }
        ],
    }
    outcome = run(parse_definition(document), {})
    assert outcome.status == "ERROR"
    assert outcome.failure is not None
    assert "boom" in outcome.failure.message
