"""Durations and counts the engine computes with are refused at validation when malformed."""

from __future__ import annotations

from typing import Any

import pytest

from knflow.workflow.validation import find_problems

BASE: dict[str, Any] = {"id": "v", "specVersion": "0.8", "start": "s"}


@pytest.mark.parametrize(
    ("document", "pointer", "reason"),
    [
        (
            {
                "timeouts": {"workflowExecTimeout": "soon"},
                "states": [{"name": "s", "type": "inject", "data": {}, "end": True}],
            },
            "/timeouts/workflowExecTimeout",
            "not an ISO 8601 duration",
        ),
        (
            {
                "states": [
                    {"name": "s", "type": "sleep", "duration": "P1M", "end": True}
                ]
            },
            "/states/0/duration",
            "months or years",
        ),
        (
            {
                "states": [
                    {
                        "name": "s",
                        "type": "inject",
                        "data": {},
                        "end": True,
                        "timeouts": {
                            "stateExecTimeout": {"single": "PT1S", "total": "forever"}
                        },
                    }
                ]
            },
            "/states/0/timeouts/stateExecTimeout/total",
            "not an ISO 8601 duration",
        ),
        (
            {
                "states": [
                    {
                        "name": "s",
                        "type": "parallel",
                        "completionType": "atLeast",
                        "numCompleted": "several",
                        "branches": [{"name": "b", "actions": []}],
                        "end": True,
                    }
                ]
            },
            "/states/0/numCompleted",
            "not a whole number",
        ),
        (
            {
                "retries": [{"name": "r", "delay": "10s", "maxAttempts": 3}],
                "states": [{"name": "s", "type": "inject", "data": {}, "end": True}],
            },
            "/retries/0/delay",
            "not an ISO 8601 duration",
        ),
    ],
    ids=["workflow-timeout", "months", "total", "num-completed", "retry-delay"],
)
def test_malformed_durations_and_counts_are_refused(
    document: dict[str, Any], pointer: str, reason: str
) -> None:
    problems = find_problems({**BASE, **document})
    assert any(p.pointer == pointer and reason in p.reason for p in problems), problems


def test_well_formed_values_pass() -> None:
    document = {
        **BASE,
        "timeouts": {"workflowExecTimeout": {"duration": "PT1H"}},
        "states": [{"name": "s", "type": "sleep", "duration": "PT0.5S", "end": True}],
    }
    assert find_problems(document) == []
