"""Whether an instance can move to another revision of its definition (an operator's migration).

Kogito's "migrate process instance" maps the nodes an instance is in onto the target process.
Here a state is a node and its name is its identity: an instance can move when every state one
of its unfinished threads is in exists in the target with the same type. What a state does from
then on is the target's; a wait already open (a timer, an event subscription) keeps what it was
opened with.
"""

from __future__ import annotations

from typing import Final

from knflow.engine.execution import Execution, ThreadStatus
from knflow.workflow.model import Definition

FINISHED_THREADS: Final = frozenset({ThreadStatus.DONE, ThreadStatus.CANCELLED})


def find_migration_problems(
    execution: Execution, current: Definition, target: Definition
) -> list[str]:
    """Return why the instance cannot run on `target` from where it stands; empty when it can.

    One sentence per state, in name order: missing from `target`, or of another type there.
    """
    problems = []
    for name in sorted(open_states(execution)):
        found = target.states.get(name)
        if found is None:
            problems.append(f"state '{name}' does not exist in the target")
            continue
        was = current.states.get(name)
        if was is not None and was.type is not found.type:
            problems.append(
                f"state '{name}' is of type {found.type.value} in the target,"
                f" not {was.type.value}"
            )
    return problems


def open_states(execution: Execution) -> set[str]:
    """Return the states the unfinished threads of an execution are in (or started from)."""
    return {
        thread.state
        for thread in execution.threads.values()
        if thread.state and thread.status not in FINISHED_THREADS
    }
