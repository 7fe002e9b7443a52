"""Flow-control metadata: read from definitions, refused at validation when malformed."""

from __future__ import annotations

from typing import Any

import pytest

from knflow.config import Settings
from knflow.errors import InputError
from knflow.workflow import flow_limits
from knflow.workflow.model import FunctionDef
from knflow.workflow.validation import find_problems

STATES: list[dict[str, Any]] = [
    {"name": "s", "type": "inject", "data": {}, "end": True}
]


def _document(**parts: Any) -> dict[str, Any]:
    return {"id": "v", "specVersion": "0.8", "start": "s", "states": STATES, **parts}


@pytest.mark.parametrize("value", ["0", "-2", "1.5", "many"])
def test_a_max_active_that_is_not_a_positive_whole_number_is_refused(
    value: str,
) -> None:
    problems = find_problems(_document(metadata={"knflow.maxActiveInstances": value}))

    assert [p.pointer for p in problems] == ["/metadata/knflow.maxActiveInstances"]


@pytest.mark.parametrize("value", ["0", "-1", "fast", "inf"])
def test_a_call_rate_that_is_not_a_positive_number_is_refused(value: str) -> None:
    function = {
        "name": "f",
        "operation": "rest:get:/x",
        "type": "custom",
        "metadata": {"knflow.callsPerSecond": value},
    }

    problems = find_problems(_document(functions=[function]))

    assert [p.pointer for p in problems] == [
        "/functions/0/metadata/knflow.callsPerSecond"
    ]


def test_a_function_shares_the_bucket_its_rate_limit_key_names() -> None:
    named = FunctionDef(
        name="f",
        operation="x",
        metadata={"knflow.callsPerSecond": "2.5", "knflow.rateLimitKey": "api.host"},
    )
    unnamed = FunctionDef(name="f", operation="x")

    assert flow_limits.calls_per_second(named) == 2.5
    assert flow_limits.rate_key("w", named) == "api.host"
    assert flow_limits.rate_key("w", unnamed) == "w/f"
    assert flow_limits.calls_per_second(unnamed) is None


def test_deployment_overrides_are_read_as_name_value_pairs() -> None:
    settings = Settings.from_environment(
        {
            "KNFLOW_MAX_ACTIVE_INSTANCES": "onboarding=5, nightly=1",
            "KNFLOW_CALL_RATE_LIMITS": "api.example.com=0.5",
        }
    )

    assert settings.flow_control.max_active == {"onboarding": 5, "nightly": 1}
    assert settings.flow_control.calls_per_second == {"api.example.com": 0.5}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KNFLOW_MAX_ACTIVE_INSTANCES", "onboarding"),
        ("KNFLOW_MAX_ACTIVE_INSTANCES", "onboarding=0"),
        ("KNFLOW_MAX_ACTIVE_INSTANCES", "onboarding=2.5"),
        ("KNFLOW_CALL_RATE_LIMITS", "=3"),
        ("KNFLOW_CALL_RATE_LIMITS", "api=-1"),
    ],
)
def test_a_malformed_override_is_refused_naming_the_setting(
    name: str, value: str
) -> None:
    with pytest.raises(InputError, match=name):
        Settings.from_environment({name: value})
