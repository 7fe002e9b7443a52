"""Management interventions: what they run again, where they move, which nodes they close."""

from __future__ import annotations

from typing import Any

import pytest

from knflow.engine import interpreter, interventions
from knflow.engine.context import InstanceContext
from knflow.engine.expressions import Evaluator
from knflow.engine.open_nodes import open_state
from knflow.engine.outcome import CallCompleted, CallFunction, Failure, Outcome
from knflow.errors import NotFoundError
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


def test_retriggering_an_action_in_flight_calls_it_alone_again() -> None:
    second_pending = _answer(_start(), {})
    [node] = [t.node_instance_id for t in second_pending.trace if t.event == "enter"]

    outcome = _act("retrigger_node", second_pending, node_instance_id=node)

    assert _traced(outcome) == [("abort", "second", False), ("enter", "second", True)]
    assert len(_calls(outcome)) == 1


def test_retriggering_the_visit_of_a_waiting_state_enters_it_again() -> None:
    waiting = _waiting()
    visit = open_state(REVIEW, waiting.execution.main)
    assert visit is not None

    outcome = _act("retrigger_node", waiting, node_instance_id=visit.node)

    assert _traced(outcome) == [("abort", "wait", False), ("enter", "wait", True)]
    assert outcome.execution.is_waiting_externally()


def test_skip_leaves_the_waiting_state_as_completed_and_goes_on() -> None:
    outcome = _act("skip", _waiting())

    assert _traced(outcome)[0] == ("exit", "wait", False)
    assert outcome.status == "COMPLETED"


@pytest.mark.parametrize(
    ("node_id", "status", "entered"),
    [
        ("2", "COMPLETED", "publish"),
        ("publish", "COMPLETED", "publish"),
        ("start", "ACTIVE", "prepare"),
        ("end", "COMPLETED", None),
    ],
    ids=["by-index", "by-name", "start-node", "end-node"],
)
def test_triggering_a_node_moves_the_instance_there(
    node_id: str, status: str, entered: str | None
) -> None:
    outcome = _act("trigger_state", _waiting(), node_id=node_id)

    assert _traced(outcome)[0] == ("abort", "wait", False)
    assert [t.name for t in outcome.trace if t.event == "enter"][:1] == (
        [entered] if entered else []
    )
    assert outcome.status == status


def test_triggering_an_unknown_node_is_refused() -> None:
    with pytest.raises(NotFoundError, match="node 'nope' is not a node of workflow"):
        _act("trigger_state", _waiting(), node_id="nope")


def test_cancelling_the_state_visit_leaves_the_instance_idle_until_a_trigger() -> None:
    waiting = _waiting()
    visit = open_state(REVIEW, waiting.execution.main)
    assert visit is not None

    cancelled = _act("cancel_node", waiting, node_instance_id=visit.node)

    assert _traced(cancelled) == [("abort", "wait", False)]
    assert cancelled.status == "ACTIVE"
    assert cancelled.execution.is_waiting_externally()
    assert open_state(REVIEW, cancelled.execution.main) is None
    assert _act("trigger_state", cancelled, node_id="publish").status == "COMPLETED"


def test_cancelling_an_action_leaves_its_state_open_and_waiting() -> None:
    second_pending = _answer(_start(), {})
    [node] = [t.node_instance_id for t in second_pending.trace if t.event == "enter"]

    outcome = _act("cancel_node", second_pending, node_instance_id=node)

    assert _traced(outcome) == [("abort", "second", False)]
    assert open_state(REVIEW, outcome.execution.main) is not None
    assert outcome.execution.is_waiting_externally()
    assert _calls(outcome) == []


def test_a_node_instance_that_is_not_running_is_refused() -> None:
    with pytest.raises(NotFoundError, match="is not running in instance 'i-1'"):
        _act("cancel_node", _waiting(), node_instance_id="n-0")


def test_replaced_data_is_what_a_retrigger_starts_from() -> None:
    failed = _answer(_start(), failure=Failure(message="down"))

    interventions.replace_data(failed.execution, {"n": 2})
    outcome = _act("retrigger", failed)

    assert outcome.execution.main.data == {"n": 2}


@pytest.mark.parametrize(
    ("intervention", "begins"),
    [("retrigger", True), ("skip", False)],
    ids=["retrigger-reruns", "skip-does-not"],
)
def test_only_an_intervention_that_reruns_a_node_begins_an_attempt(
    intervention: str, begins: bool
) -> None:
    failed = _answer(_start(), failure=Failure(message="down"))

    outcome = _act(intervention, failed)

    assert interventions.begins_attempt(outcome) is begins


@pytest.mark.parametrize(
    ("variables", "attempt"),
    [
        ({}, 1),
        (None, 1),
        ({"attempt": 3}, 3),
        ({"attempt": "3"}, 1),
        ({"attempt": True}, 1),
        ({"attempt": 0}, 1),
    ],
    ids=["none-yet", "no-variables", "third", "text", "boolean", "zero"],
)
def test_the_attempt_is_read_from_the_attempt_variable(
    variables: Any, attempt: int
) -> None:
    assert interventions.attempt_of(variables) == attempt
