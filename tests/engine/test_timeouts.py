"""Timeouts: every kind of the 0.8 spec is scheduled and takes the path the spec gives."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from knflow.engine import interpreter
from knflow.engine.context import InstanceContext
from knflow.engine.expressions import Evaluator
from knflow.engine.outcome import (
    CallCompleted,
    CallFunction,
    Deadline,
    Outcome,
    ScheduleTimer,
)
from knflow.workflow.model import Definition
from knflow.workflow.parsing import parse_definition
from tests.engine.harness import NOW

INSTANCE = InstanceContext(instance_id="i")
SERVICE = [{"name": "svc", "type": "custom", "operation": "rest:post:/x"}]


def _start(document: dict[str, Any]) -> tuple[Definition, Outcome]:
    definition = parse_definition(
        {"id": "t", "specVersion": "0.8", "functions": SERVICE, **document}
    )
    return definition, interpreter.start(
        definition, Evaluator(), INSTANCE, data={}, now=NOW
    )


def _timer(outcome: Outcome, scope: str) -> ScheduleTimer:
    return next(
        c
        for c in outcome.commands
        if isinstance(c, ScheduleTimer) and c.deadline == scope
    )


def _fire(definition: Definition, outcome: Outcome, timer: ScheduleTimer) -> Outcome:
    assert timer.node is not None
    deadline = Deadline(
        thread_id=timer.thread_id, scope=timer.deadline or "", node=timer.node
    )
    return interpreter.advance(
        definition, Evaluator(), INSTANCE, outcome.execution, deadline, now=timer.due
    )


CALLING_STATE = {
    "name": "call",
    "type": "operation",
    "actions": [{"functionRef": "svc"}],
}


def test_state_timeout_fails_the_state_into_on_errors() -> None:
    definition, started = _start(
        {
            "start": "call",
            "errors": [{"name": "slow", "code": "TimeoutError"}],
            "states": [
                {
                    **CALLING_STATE,
                    "timeouts": {"stateExecTimeout": "PT5S"},
                    "onErrors": [{"errorRef": "slow", "transition": "late"}],
                    "end": True,
                },
                {"name": "late", "type": "inject", "data": {"late": True}, "end": True},
            ],
        }
    )
    timer = _timer(started, "state")
    assert timer.due == NOW + timedelta(seconds=5)
    outcome = _fire(definition, started, timer)
    assert outcome.status == "COMPLETED"
    assert outcome.data == {"late": True}


def test_state_timeout_total_of_the_object_form_applies() -> None:
    _, started = _start(
        {
            "start": "call",
            "states": [
                {
                    **CALLING_STATE,
                    "timeouts": {
                        "stateExecTimeout": {"single": "PT1S", "total": "PT9S"}
                    },
                    "end": True,
                }
            ],
        }
    )
    assert _timer(started, "state").due == NOW + timedelta(seconds=9)


def test_a_state_timeout_after_the_state_ended_is_ignored() -> None:
    definition, started = _start(
        {
            "start": "call",
            "states": [
                {
                    **CALLING_STATE,
                    "timeouts": {"stateExecTimeout": "PT5S"},
                    "transition": "wait",
                },
                {"name": "wait", "type": "sleep", "duration": "PT1H", "end": True},
            ],
        }
    )
    call = started.commands[-1]
    moved = interpreter.advance(
        definition,
        Evaluator(),
        INSTANCE,
        started.execution,
        CallCompleted(thread_id=call.thread_id, key=call.key, result={}),
        now=NOW,
    )  # type: ignore[union-attr]
    assert _fire(definition, moved, _timer(started, "state")).ignored


def test_workflow_timeout_runs_run_before_then_aborts() -> None:
    definition, started = _start(
        {
            "start": "wait",
            "timeouts": {
                "workflowExecTimeout": {"duration": "PT1M", "runBefore": "cleanup"}
            },
            "states": [
                {"name": "wait", "type": "sleep", "duration": "PT1H", "end": True},
                {
                    "name": "cleanup",
                    "type": "inject",
                    "data": {"cleaned": True},
                    "end": True,
                },
            ],
        }
    )
    outcome = _fire(definition, started, _timer(started, "workflow"))
    assert outcome.status == "ABORTED"
    assert outcome.data == {"cleaned": True}


def test_workflow_timeout_without_interrupt_lets_the_current_state_finish() -> None:
    definition, started = _start(
        {
            "start": "call",
            "timeouts": {
                "workflowExecTimeout": {"duration": "PT1M", "interrupt": False}
            },
            "states": [
                {**CALLING_STATE, "transition": "next"},
                {"name": "next", "type": "inject", "data": {"next": True}, "end": True},
            ],
        }
    )
    expired = _fire(definition, started, _timer(started, "workflow"))
    assert expired.status == "ACTIVE"
    call = started.commands[-1]
    outcome = interpreter.advance(
        definition,
        Evaluator(),
        INSTANCE,
        expired.execution,
        CallCompleted(thread_id=call.thread_id, key=call.key, result={"done": 1}),  # type: ignore[union-attr]
        now=NOW,
    )
    assert outcome.status == "ABORTED"
    assert outcome.data == {"done": 1}


def test_branch_timeout_fails_the_parallel_state() -> None:
    definition, started = _start(
        {
            "start": "par",
            "states": [
                {
                    "name": "par",
                    "type": "parallel",
                    "timeouts": {"branchExecTimeout": "PT2S"},
                    "branches": [
                        {"name": "a", "actions": [{"functionRef": "svc"}]},
                        {"name": "b", "actions": [{"functionRef": "svc"}]},
                    ],
                    "end": True,
                }
            ],
        }
    )
    outcome = _fire(definition, started, _timer(started, "branch"))
    assert outcome.status == "ERROR"
    assert outcome.failure is not None
    assert "timed out" in outcome.failure.message


def test_event_timeout_moves_an_event_state_on_without_its_actions() -> None:
    definition, started = _start(
        {
            "start": "wait",
            "events": [{"name": "go", "type": "org.go", "source": ""}],
            "states": [
                {
                    "name": "wait",
                    "type": "event",
                    "timeouts": {"eventTimeout": "PT30S"},
                    "onEvents": [
                        {"eventRefs": ["go"], "actions": [{"functionRef": "svc"}]}
                    ],
                    "transition": "after",
                },
                {
                    "name": "after",
                    "type": "inject",
                    "data": {"after": True},
                    "end": True,
                },
            ],
        }
    )
    timer = next(c for c in started.commands if isinstance(c, ScheduleTimer))
    assert timer.due == NOW + timedelta(seconds=30)
    outcome = interpreter.advance(
        definition,
        Evaluator(),
        INSTANCE,
        started.execution,
        CallCompleted(
            thread_id=timer.thread_id, key=timer.key, result={"kind": "timer"}
        ),
        now=timer.due,
    )
    assert outcome.status == "COMPLETED"
    assert outcome.data == {"after": True}


def test_keep_active_accumulates_events_until_the_workflow_timeout() -> None:
    definition, started = _start(
        {
            "start": "reading",
            "keepActive": True,
            "timeouts": {
                "workflowExecTimeout": {"duration": "PT1H", "runBefore": "report"}
            },
            "events": [{"name": "reading", "type": "org.room.reading", "source": ""}],
            "states": [
                {
                    "name": "reading",
                    "type": "event",
                    "end": True,
                    "onEvents": [
                        {
                            "eventRefs": ["reading"],
                            "eventDataFilter": {"toStateData": "${ .readings }"},
                        }
                    ],
                },
                {
                    "name": "report",
                    "type": "inject",
                    "data": {"reported": True},
                    "end": True,
                },
            ],
        }
    )
    outcome = started
    for value in (20, 21):
        wait = outcome.execution.main.wait
        assert wait is not None
        arrival = {"kind": "event", "events": [{"ref": "reading", "payload": [value]}]}
        outcome = interpreter.advance(
            definition,
            Evaluator(),
            INSTANCE,
            outcome.execution,
            CallCompleted(thread_id="main", key=str(wait.key), result=arrival),
            now=NOW,
        )
        assert outcome.status == "ACTIVE"
    final = _fire(definition, outcome, _timer(started, "workflow"))
    assert final.status == "COMPLETED"
    assert final.data == {"readings": [20, 21], "reported": True}


def test_a_timed_out_parallel_state_leaves_no_branch_behind() -> None:
    definition, started = _start(
        {
            "start": "first",
            "errors": [{"name": "slow", "code": "TimeoutError"}],
            "states": [
                {
                    "name": "first",
                    "type": "parallel",
                    "timeouts": {"stateExecTimeout": "PT1S"},
                    "branches": [
                        {"name": f"b{i}", "actions": [{"functionRef": "svc"}]}
                        for i in range(3)
                    ],
                    "onErrors": [{"errorRef": "slow", "transition": "second"}],
                    "end": True,
                },
                {
                    "name": "second",
                    "type": "parallel",
                    "end": True,
                    "branches": [{"name": "only", "actions": [{"functionRef": "svc"}]}],
                },
            ],
        }
    )
    moved = _fire(definition, started, _timer(started, "state"))
    assert moved.status == "ACTIVE"
    assert len([t for t in moved.execution.threads.values() if t.role == "branch"]) == 1


def test_a_run_before_state_ends_the_instance_whatever_its_transition() -> None:
    definition, started = _start(
        {
            "start": "wait",
            "timeouts": {
                "workflowExecTimeout": {"duration": "PT1M", "runBefore": "cleanup"}
            },
            "states": [
                {"name": "wait", "type": "sleep", "duration": "PT1H", "end": True},
                {
                    "name": "cleanup",
                    "type": "inject",
                    "data": {"cleaned": True},
                    "transition": "wait",
                },
            ],
        }
    )
    outcome = _fire(definition, started, _timer(started, "workflow"))
    assert outcome.status == "ABORTED"
    assert outcome.data == {"cleaned": True}


def test_continue_as_ends_a_keep_active_instance() -> None:
    _, started = _start(
        {
            "start": "done",
            "keepActive": True,
            "states": [
                {
                    "name": "done",
                    "type": "inject",
                    "data": {"n": 1},
                    "end": {"continueAs": "next"},
                }
            ],
        }
    )
    assert started.status == "COMPLETED"
    assert [type(c).__name__ for c in started.commands] == ["ContinueAs"]


def test_action_exec_timeout_of_the_branch_then_state_then_workflow_bounds_calls() -> (
    None
):
    _, started = _start(
        {
            "start": "par",
            "timeouts": {"actionExecTimeout": "PT9S"},
            "states": [
                {
                    "name": "par",
                    "type": "parallel",
                    "timeouts": {"actionExecTimeout": "PT5S"},
                    "end": True,
                    "branches": [
                        {
                            "name": "own",
                            "timeouts": {"actionExecTimeout": "PT2S"},
                            "actions": [{"functionRef": "svc"}],
                        },
                        {"name": "inherits", "actions": [{"functionRef": "svc"}]},
                    ],
                }
            ],
        }
    )
    calls = sorted(
        (c.thread_id, c.timeout)
        for c in started.commands
        if isinstance(c, CallFunction)
    )
    assert [limit for _, limit in calls] == [timedelta(seconds=2), timedelta(seconds=5)]
