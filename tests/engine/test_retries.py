"""Retries as the 0.8 spec defines them: the worked delay sequences and the action retry loop."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from knflow.engine import interpreter, retries
from knflow.engine.context import InstanceContext
from knflow.engine.expressions import Evaluator
from knflow.engine.outcome import CallCompleted, CallFunction, Failure, ScheduleTimer
from knflow.workflow.parsing import parse_definition
from tests.engine.harness import NOW


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"delay": "PT10S", "increment": "PT2S", "maxAttempts": 4}, [10, 12, 14, 16]),
        ({"delay": "PT10S", "multiplier": 2, "maxAttempts": 4}, [10, 20, 40, 80]),
    ],
    ids=["increment", "multiplier"],
)
def test_delays_follow_the_spec_worked_sequences(
    policy: dict[str, Any], expected: list[int]
) -> None:
    delays = [retries.delay_for(policy, n).total_seconds() for n in range(1, 5)]
    assert delays == expected


def test_max_delay_applies_after_multiplier_and_jitter() -> None:
    policy = {
        "delay": "PT10S",
        "maxDelay": "PT100S",
        "multiplier": 4,
        "jitter": "PT1S",
        "maxAttempts": 4,
    }
    delays = [
        retries.delay_for(policy, n, seed="i").total_seconds() for n in range(1, 5)
    ]
    assert 9 <= delays[0] <= 11
    assert 39 <= delays[1] <= 41
    assert delays[2:] == [100, 100]


def test_relative_jitter_stays_within_its_fraction_and_is_reproducible() -> None:
    policy = {"delay": "PT10S", "jitter": 0.5, "maxAttempts": 3}
    first = [
        retries.delay_for(policy, 1, seed=f"i{n}").total_seconds() for n in range(20)
    ]
    assert all(5 <= d <= 15 for d in first)
    assert len(set(first)) > 1
    assert first == [
        retries.delay_for(policy, 1, seed=f"i{n}").total_seconds() for n in range(20)
    ]


def _definition(**action: Any) -> Any:
    return parse_definition(
        {
            "id": "r",
            "specVersion": "0.8",
            "start": "call",
            "functions": [
                {"name": "svc", "type": "custom", "operation": "rest:post:/x"}
            ],
            "errors": [
                {"name": "unavailable", "code": "503"},
                {"name": "bad", "code": "400"},
            ],
            "retries": [{"name": "twice", "delay": "PT3S", "maxAttempts": 2}],
            "states": [
                {
                    "name": "call",
                    "type": "operation",
                    "actions": [{"functionRef": "svc", **action}],
                    "onErrors": [{"errorRef": "unavailable", "end": True}],
                    "end": True,
                }
            ],
        }
    )


def _fail_every_call(definition: Any, failure: Failure) -> tuple[list[float], Any]:
    """Fail each call; fire each retry timer at once; return the retry delays and the outcome."""
    evaluator, instance = Evaluator(), InstanceContext(instance_id="i")
    outcome = interpreter.start(definition, evaluator, instance, data={}, now=NOW)
    delays: list[float] = []
    while outcome.status == "ACTIVE":
        command = outcome.commands[-1]
        if isinstance(command, CallFunction):
            activation = CallCompleted(
                thread_id=command.thread_id, key=command.key, failure=failure
            )
        else:
            assert isinstance(command, ScheduleTimer)
            delays.append((command.due - NOW).total_seconds())
            activation = CallCompleted(
                thread_id=command.thread_id, key=command.key, result={"kind": "timer"}
            )
        outcome = interpreter.advance(
            definition, evaluator, instance, outcome.execution, activation, now=NOW
        )
    return delays, outcome


def test_listed_retryable_error_is_retried_by_its_policy_then_handled() -> None:
    delays, outcome = _fail_every_call(
        _definition(retryRef="twice", retryableErrors=["unavailable"]),
        Failure(message="down", kind="HTTP:503", status=503),
    )
    assert delays == [3, 3]
    assert outcome.status == "COMPLETED"


def test_errors_not_listed_are_not_retried_without_auto_retries() -> None:
    delays, outcome = _fail_every_call(
        _definition(retryRef="twice", retryableErrors=["unavailable"]),
        Failure(message="bad", kind="HTTP:400", status=400),
    )
    assert delays == []
    assert outcome.status == "ERROR"


def test_auto_retries_retry_everything_but_non_retryable_errors() -> None:
    document = _definition(retryRef="twice", nonRetryableErrors=["bad"]).document
    auto = parse_definition({**document, "autoRetries": True})
    retried, _ = _fail_every_call(
        auto, Failure(message="down", kind="HTTP:503", status=503)
    )
    not_retried, _ = _fail_every_call(
        auto, Failure(message="bad", kind="HTTP:400", status=400)
    )
    assert retried == [3, 3]
    assert not_retried == []


def test_default_policy_backs_off_exponentially() -> None:
    assert [retries.delay_for(retries.DEFAULT_POLICY, n) for n in (1, 2, 3)] == [
        timedelta(seconds=1),
        timedelta(seconds=2),
        timedelta(seconds=4),
    ]
