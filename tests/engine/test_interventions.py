"""Management interventions: what they run again, where they move, which nodes they close."""

from __future__ import annotations

from typing import Any

from knflow.engine import interpreter, interventions
from knflow.engine.context import InstanceContext
from knflow.engine.expressions import Evaluator
from knflow.engine.outcome import CallCompleted, CallFunction, Failure, Outcome
from knflow.workflow.parsing import parse_definition
from tests.engine.harness import NOW

REVIEW = parse_definition(
    {
        "id": "review",
        "specVersion": "0.8",
        "start": "prepare",
        "functions": [{"name": "svc", "operation": "rest:post:/x", "type": "custom"}],
        "events": [{"name": "reviewed", "type": "org.example.reviewed", "source": ""}],
        "states": [
            {
                "name": "prepare",
                "type": "operation",
                "actions": [
                    {"name": "first", "functionRef": "svc"},
                    {"name": "second", "functionRef": "svc"},
                ],
                "transition": "wait",
            },
            {
                "name": "wait",
                "type": "event",
                "onEvents": [{"eventRefs": ["reviewed"]}],
                "transition": "publish",
            },
            {"name": "publish", "type": "inject", "data": {"ok": 1}, "end": True},
        ],
    }
)
INSTANCE = InstanceContext(instance_id="i-1")


def _start() -> Outcome:
    return interpreter.start(REVIEW, Evaluator(), INSTANCE, data={"n": 1}, now=NOW)


def _answer(
    outcome: Outcome, result: Any = None, failure: Failure | None = None
) -> Outcome:
    [call] = _calls(outcome)
    activation = CallCompleted(
        thread_id=call.thread_id, key=call.key, result=result, failure=failure
    )
    return interpreter.advance(
        REVIEW, Evaluator(), INSTANCE, outcome.execution, activation, now=NOW
    )


def _waiting() -> Outcome:
    """An instance waiting in `wait` for its event."""
    return _answer(_answer(_start(), {}), {})


def _calls(outcome: Outcome) -> list[CallFunction]:
    return [c for c in outcome.commands if isinstance(c, CallFunction)]


def _act(name: str, outcome: Outcome, **arguments: Any) -> Outcome:
    intervene = getattr(interventions, name)
    return intervene(  # type: ignore[no-any-return]
        REVIEW, Evaluator(), INSTANCE, outcome.execution, now=NOW, **arguments
    )


def _traced(outcome: Outcome) -> list[tuple[str, str, bool]]:
    return [(t.event, t.name, t.retrigger) for t in outcome.trace]


def test_retrigger_closes_the_failed_visit_and_its_action_and_runs_the_state_again() -> (
    None
):
    failed = _answer(_start(), failure=Failure(message="down"))

    outcome = _act("retrigger", failed)

    assert _traced(outcome) == [
        ("abort", "first", False),
        ("abort", "prepare", False),
        ("enter", "prepare", True),
        ("enter", "first", False),
    ]
    assert outcome.status == "ACTIVE"
    assert len(_calls(outcome)) == 1


def test_skip_leaves_the_waiting_state_as_completed_and_goes_on() -> None:
    outcome = _act("skip", _waiting())

    assert _traced(outcome)[0] == ("exit", "wait", False)
    assert outcome.status == "COMPLETED"
