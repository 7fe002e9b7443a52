"""Engine behaviours SonataFlow's tests assert: `$WORKFLOW.input`/`.identity`, dotted
`$SECRET` names, `numCompleted` expressions, the output schema, timeouts as errors, PATCH
and compensation on abort."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from knflow.engine import interpreter, interventions
from knflow.engine.context import InstanceContext
from knflow.engine.execution import Execution
from knflow.engine.expressions import Evaluator
from knflow.engine.outcome import CallCompleted, EmitEvent, ScheduleTimer
from knflow.workflow.model import Definition
from knflow.workflow.parsing import parse_definition
from tests.engine.harness import NOW, run

INSTANCE = InstanceContext(instance_id="i", secrets={"expression.my_name": "Ann"})


def _definition(states: list[dict[str, Any]], **fields: Any) -> Definition:
    return parse_definition({"id": "w", "states": states, **fields})


def _inject(name: str, data: dict[str, Any], **exits: Any) -> dict[str, Any]:
    return {"name": name, "type": "inject", "data": data, **(exits or {"end": True})}


def _start(definition: Definition, data: Any) -> Any:
    evaluator = Evaluator(functions=definition.expression_functions)
    return interpreter.start(definition, evaluator, INSTANCE, data=data, now=NOW)


def test_expressions_see_the_input_the_identity_and_dotted_secrets() -> None:
    definition = _definition(
        [
            {
                "name": "s",
                "type": "operation",
                "actions": [{"functionRef": "f"}],
                "stateDataFilter": {"input": "{}"},
                "end": True,
            }
        ],
        functions=[
            {
                "name": "f",
                "type": "expression",
                "operation": "{first: $WORKFLOW.input.n, who: $WORKFLOW.identity,"
                " name: $SECRET.expression.my_name}",
            }
        ],
    )

    outcome = _start(definition, {"n": 1})

    assert outcome.data == {"first": 1, "who": "anonymous", "name": "Ann"}


def test_num_completed_may_be_an_expression_on_the_state_data() -> None:
    branches = [
        {"name": f"b{i}", "actions": [{"functionRef": f"f{i}"}]} for i in range(3)
    ]
    definition = _definition(
        [
            {
                "name": "p",
                "type": "parallel",
                "branches": branches,
                "completionType": "atLeast",
                "numCompleted": ".n",
                "end": True,
            }
        ],
        functions=[
            {"name": f"f{i}", "type": "custom", "operation": "rest:get:/x"}
            for i in range(3)
        ],
    )

    outcome = run(definition, {"n": 2}, lambda call: {call.function_name: True})

    assert outcome.status == "COMPLETED"
    assert len([k for k in outcome.data if k.startswith("f")]) == 2


def test_output_violating_the_output_schema_fails_the_instance() -> None:
    definition = dataclasses.replace(
        _definition([_inject("s", {"a": 1})]),
        output_schema={"type": "object", "required": ["message"]},
    )

    outcome = _start(definition, {})

    assert outcome.status == "ERROR"
    assert outcome.failure is not None
    assert "'message' is a required property" in outcome.failure.message


def test_an_event_timeout_with_a_handler_is_an_error() -> None:
    definition = _definition(
        [
            {
                "name": "wait",
                "type": "event",
                "onEvents": [{"eventRefs": ["e"]}],
                "timeouts": {"eventTimeout": "PT1S"},
                "onErrors": [{"errorRef": "timeout", "transition": "late"}],
                "end": True,
            },
            _inject("late", {"late": True}),
        ],
        events=[{"name": "e", "type": "t", "source": "s"}],
        errors=[{"name": "timeout", "code": "TimedOut"}],
    )
    started = _start(definition, {})
    timer = next(c for c in started.commands if isinstance(c, ScheduleTimer))

    outcome = interpreter.advance(
        definition,
        Evaluator(),
        INSTANCE,
        started.execution,
        CallCompleted(
            thread_id=timer.thread_id, key=timer.key, result={"kind": "timer"}
        ),
        now=NOW + timedelta(seconds=2),
    )

    assert outcome.status == "COMPLETED"
    assert outcome.data == {"late": True}


def test_patched_data_is_the_input_of_a_retriggered_state() -> None:
    definition = _definition(
        [
            {
                "name": "divide",
                "type": "operation",
                "actions": [{"functionRef": "divide"}],
                "end": True,
            }
        ],
        functions=[{"name": "divide", "type": "expression", "operation": ".a / .b"}],
    )
    failed = _start(definition, {"a": 2, "b": 0})
    execution = Execution.from_json(failed.execution.to_json())

    interventions.patch_data(execution, {"b": 1})
    outcome = interventions.retrigger(
        definition, Evaluator(), INSTANCE, execution, now=NOW
    )

    assert failed.status == "ERROR"
    assert outcome.status == "COMPLETED"
    assert outcome.data["response"] == 2


def test_abort_runs_the_compensation_then_ends_aborted() -> None:
    definition = _definition(
        [
            {
                **_inject("double", {"doubled": True}, transition="wait"),
                "compensatedBy": "undo",
            },
            {
                "name": "wait",
                "type": "event",
                "onEvents": [{"eventRefs": ["e"]}],
                "end": True,
            },
            {
                **_inject("undo", {"undone": True}),
                "usedForCompensation": True,
            },
        ],
        events=[{"name": "e", "type": "t", "source": "s"}],
    )
    waiting = _start(definition, {})

    outcome = interventions.abort(
        definition, Evaluator(), INSTANCE, waiting.execution, now=NOW
    )

    assert outcome is not None
    assert outcome.status == "ABORTED"
    assert outcome.data == {"doubled": True, "undone": True}


def test_abort_without_completed_compensable_states_is_left_to_the_runtime() -> None:
    definition = _definition(
        [
            {
                "name": "wait",
                "type": "event",
                "onEvents": [{"eventRefs": ["e"]}],
                "end": True,
            }
        ],
        events=[{"name": "e", "type": "t", "source": "s"}],
    )
    waiting = _start(definition, {})

    assert (
        interventions.abort(
            definition, Evaluator(), INSTANCE, waiting.execution, now=NOW
        )
        is None
    )


def test_an_asyncapi_send_emits_on_its_channel() -> None:
    from knflow.workflow.model import AsyncAction, AsyncOperation

    definition = dataclasses.replace(
        _definition(
            [
                {
                    "name": "s",
                    "type": "operation",
                    "actions": [{"functionRef": "p"}],
                    "end": True,
                }
            ],
            functions=[{"name": "p", "type": "asyncapi", "operation": "a.yaml#p"}],
        ),
        async_operations={
            "p": AsyncOperation(action=AsyncAction.SEND, channel="results")
        },
    )

    outcome = _start(definition, {"x": 1})

    emitted = [c for c in outcome.commands if isinstance(c, EmitEvent)]
    assert outcome.status == "COMPLETED"
    assert [(e.type, e.data) for e in emitted] == [("results", {"x": 1})]
