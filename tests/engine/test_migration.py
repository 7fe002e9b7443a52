"""Whether an instance's position exists in another revision (the migration rule)."""

from __future__ import annotations

from typing import Any

import pytest

from knflow.engine import migration
from knflow.engine.execution import Execution, Thread, ThreadStatus
from knflow.workflow.parsing import parse_definition


def definition(*states: tuple[str, str]) -> Any:
    """A definition whose states have the given (name, type); sleeps and injects chain."""
    documents: list[dict[str, Any]] = []
    for index, (name, kind) in enumerate(states):
        state: dict[str, Any] = {"name": name, "type": kind}
        if kind == "sleep":
            state["duration"] = "PT1S"
        else:
            state["data"] = {}
        if index + 1 < len(states):
            state["transition"] = states[index + 1][0]
        else:
            state["end"] = True
        documents.append(state)
    return parse_definition(
        {"id": "w", "specVersion": "0.8", "start": states[0][0], "states": documents}
    )


def at(*threads: tuple[str, ThreadStatus]) -> Execution:
    """An execution with one thread per (state, status)."""
    return Execution(
        threads={
            f"t{index}": Thread(id=f"t{index}", state=state, status=status)
            for index, (state, status) in enumerate(threads)
        }
    )


CURRENT = definition(("a", "inject"), ("nap", "sleep"), ("b", "inject"))


@pytest.mark.parametrize(
    ("target", "execution", "problems"),
    [
        (
            definition(("nap", "sleep"), ("c", "inject")),
            at(("nap", ThreadStatus.BLOCKED)),
            [],
        ),
        (
            definition(("snooze", "sleep")),
            at(("nap", ThreadStatus.BLOCKED)),
            ["state 'nap' does not exist in the target"],
        ),
        (
            definition(("nap", "inject")),
            at(("nap", ThreadStatus.BLOCKED)),
            ["state 'nap' is of type inject in the target, not sleep"],
        ),
        (
            definition(("nap", "sleep")),
            at(("a", ThreadStatus.DONE), ("nap", ThreadStatus.FAILED)),
            [],
        ),
    ],
    ids=["same-state", "missing-state", "other-type", "finished-threads-ignored"],
)
def test_migration_problems_name_each_open_state_the_target_lacks(
    target: Any, execution: Execution, problems: list[str]
) -> None:
    assert migration.find_migration_problems(execution, CURRENT, target) == problems
