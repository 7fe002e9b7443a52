"""The foreach state: results kept apart from the execution, the collection read from the data."""

from __future__ import annotations

import random
from typing import Any

from knflow.engine import interpreter, interventions
from knflow.engine.children import (
    FAMILY,
    FINISHED,
    ITEMS,
    ITEMS_AT,
    kept_results_family,
)
from knflow.engine.context import InstanceContext
from knflow.engine.expressions import Evaluator
from knflow.engine.outcome import (
    CallCompleted,
    CallFunction,
    KeepChildResult,
    Outcome,
    RunThread,
    ScheduleThread,
)
from knflow.workflow.model import Definition
from knflow.workflow.parsing import parse_definition
from tests.engine.harness import NOW

INSTANCE = InstanceContext(instance_id="00000000-0000-0000-0000-000000000002")
EVALUATOR = Evaluator()


def _foreach(collection: str) -> Definition:
    return parse_definition(
        {
            "id": "each",
            "version": "1.0",
            "specVersion": "0.8",
            "start": "each",
            "functions": [{"name": "svc", "operation": "http://svc/x#op"}],
            "states": [
                {
                    "name": "each",
                    "type": "foreach",
                    "inputCollection": collection,
                    "iterationParam": "item",
                    "outputCollection": ".results",
                    "mode": "sequential",
                    "actions": [
                        {"functionRef": {"refName": "svc", "arguments": {"n": "$item"}}}
                    ],
                    "end": True,
                }
            ],
        }
    )


def _start(definition: Definition, data: Any) -> Outcome:
    return interpreter.start(definition, EVALUATOR, INSTANCE, data=data, now=NOW)


def _answer(definition: Definition, outcome: Outcome) -> Outcome:
    """Answer the pending call with `{"r": 10 * n}`."""
    [call] = [c for c in outcome.commands if isinstance(c, CallFunction)]
    activation = CallCompleted(
        thread_id=call.thread_id, key=call.key, result={"r": 10 * call.arguments["n"]}
    )
    return interpreter.advance(
        definition, EVALUATOR, INSTANCE, outcome.execution, activation, now=NOW
    )


def _kept(outcome: Outcome) -> list[KeepChildResult]:
    return [c for c in outcome.commands if isinstance(c, KeepChildResult)]


def test_each_iteration_leaves_its_result_to_keep_and_none_in_the_execution() -> None:
    definition = _foreach(".items")
    outcome = _start(definition, {"items": [1, 2, 3]})

    first = _answer(definition, outcome)
    second = _answer(definition, first)

    [one], [two] = _kept(first), _kept(second)
    assert (one.index, two.index) == (0, 1)
    assert one.family == two.family
    assert one.leftover == {"index": 0, "last_result": {"r": 10}}
    assert FINISHED not in second.execution.main.scratch


def test_a_collection_at_a_plain_path_is_read_from_the_data_not_copied() -> None:
    outcome = _start(_foreach("${ .items }"), {"items": [1, 2, 3]})

    scratch = outcome.execution.main.scratch
    assert scratch[ITEMS_AT] == ["items"]
    assert ITEMS not in scratch


def test_a_computed_collection_is_kept_on_the_thread() -> None:
    definition = _foreach("[.items[] | . * 2]")
    outcome = _start(definition, {"items": [1, 2, 3]})

    [call] = [c for c in outcome.commands if isinstance(c, CallFunction)]
    assert outcome.execution.main.scratch[ITEMS] == [2, 4, 6]
    assert call.arguments == {"n": 2}


def test_the_parent_collects_in_a_step_of_its_own_with_results_in_item_order() -> None:
    definition = _foreach(".items")
    outcome = _start(definition, {"items": [1, 2, 3]})
    kept: list[Any] = []
    for _ in range(3):
        outcome = _answer(definition, outcome)
        kept += [command.leftover for command in _kept(outcome)]
    [deferred] = [c for c in outcome.commands if isinstance(c, ScheduleThread)]
    family = kept_results_family(outcome.execution, deferred.thread_id)
    random.Random(7).shuffle(kept)

    done = interpreter.advance(
        definition,
        EVALUATOR,
        INSTANCE,
        outcome.execution,
        RunThread(thread_id=deferred.thread_id, kept_results=kept),
        now=NOW,
    )

    assert outcome.status == "ACTIVE"
    assert family == _kept(outcome)[0].family
    assert done.status == "COMPLETED"
    assert done.data["results"] == [{"r": 10}, {"r": 20}, {"r": 30}]


def test_replacing_the_data_mid_foreach_keeps_the_items_it_started_with() -> None:
    definition = _foreach(".items")
    outcome = _start(definition, {"items": [1, 2]})

    interventions.replace_data(outcome.execution, {"items": [7, 8]})
    following = _answer(definition, outcome)

    [call] = [c for c in following.commands if isinstance(c, CallFunction)]
    assert call.arguments == {"n": 2}
    assert FAMILY in following.execution.main.scratch
