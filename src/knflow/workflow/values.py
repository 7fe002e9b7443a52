"""Values the engine computes with, checked before a definition is accepted.

The 0.8 schema types durations and counts as plain strings; a definition that passes it can
still carry `"soon"` as a timeout or `"${ .n }"` as `numCompleted`. These are refused here, at
registration, instead of failing an instance halfway through.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from knflow.errors import DefinitionError, Problem
from knflow.workflow import flow_limits
from knflow.workflow.model import Json
from knflow.workflow.parsing import parse_duration

TIMEOUT_KEYS: Final = (
    "workflowExecTimeout",
    "stateExecTimeout",
    "actionExecTimeout",
    "branchExecTimeout",
    "eventTimeout",
)
RETRY_DURATIONS: Final = ("delay", "maxDelay", "increment")
STATE_COUNTS: Final = ("numCompleted", "batchSize")


def find_value_problems(document: Json) -> list[Problem]:
    """Return every duration that does not parse and every count that is not a whole number."""
    if not isinstance(document, dict):
        return []
    return [
        *_timeout_problems(document.get("timeouts"), "/timeouts"),
        *_retry_problems(document.get("retries")),
        *_state_problems(document.get("states")),
        *flow_limits.find_problems(document),
    ]


def _state_problems(states: Json) -> Iterator[Problem]:
    for index, state in enumerate(states if isinstance(states, list) else ()):
        if not isinstance(state, dict):
            continue
        pointer = f"/states/{index}"
        yield from _timeout_problems(state.get("timeouts"), f"{pointer}/timeouts")
        if state.get("type") == "sleep":
            yield from _duration_problem(state.get("duration"), f"{pointer}/duration")
        for key in STATE_COUNTS:
            yield from _count_problem(state.get(key), f"{pointer}/{key}")
        for b_index, branch in enumerate(state.get("branches") or ()):
            if isinstance(branch, dict):
                yield from _timeout_problems(
                    branch.get("timeouts"), f"{pointer}/branches/{b_index}/timeouts"
                )


def _timeout_problems(timeouts: Json, pointer: str) -> Iterator[Problem]:
    if not isinstance(timeouts, dict):
        return
    for key in TIMEOUT_KEYS:
        value = timeouts.get(key)
        if isinstance(value, dict):
            for part in ("duration", "single", "total"):
                yield from _duration_problem(value.get(part), f"{pointer}/{key}/{part}")
        else:
            yield from _duration_problem(value, f"{pointer}/{key}")


def _retry_problems(retries: Json) -> Iterator[Problem]:
    for index, retry in enumerate(retries if isinstance(retries, list) else ()):
        if not isinstance(retry, dict):
            continue
        for key in RETRY_DURATIONS:
            yield from _duration_problem(retry.get(key), f"/retries/{index}/{key}")
        if isinstance(retry.get("jitter"), str):
            yield from _duration_problem(retry["jitter"], f"/retries/{index}/jitter")
        yield from _count_problem(
            retry.get("maxAttempts"), f"/retries/{index}/maxAttempts"
        )


def _duration_problem(value: Json, pointer: str) -> Iterator[Problem]:
    if not isinstance(value, str):
        return
    try:
        parse_duration(value)
    except DefinitionError as error:
        yield from (Problem(pointer, problem.reason) for problem in error.problems)


def _count_problem(value: Json, pointer: str) -> Iterator[Problem]:
    # SonataFlow evaluates `numCompleted: ".numCompleted"` on the state's data; a bare
    # path (or `${ }`) is an expression the engine evaluates, anything else a typo.
    if isinstance(value, str) and value.strip().startswith((".", "${", "$")):
        return
    if isinstance(value, str) and not value.strip().isdigit():
        yield Problem(pointer, f"'{value}' is not a whole number")
