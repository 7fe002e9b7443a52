"""Switch state: the first data condition that holds wins, else the default condition.

Event-based switches wait for the first of their events (see `events.py`).
"""

from __future__ import annotations

from knflow.engine.context import Run
from knflow.engine.execution import Thread
from knflow.engine.outcome import Failure
from knflow.engine.results import Failed, Finished, StateResult
from knflow.engine.states import waits
from knflow.workflow.model import State


def run_state(run: Run, thread: Thread, state: State) -> StateResult:
    """Choose the exit of a data switch, or wait for the events of an event switch."""
    if state.event_conditions:
        return waits.run_event_switch(run, thread, state)
    scope = run.scope(thread)
    for condition in state.data_conditions:
        if condition.condition and run.evaluator.is_true(
            condition.condition, thread.data, scope
        ):
            return Finished(
                data=thread.data, transition=condition.transition, end=condition.end
            )
    default = state.default_condition
    if default is None:
        return Failed(
            failure=Failure(
                message=f"no condition of switch state '{state.name}' holds and it has no defaultCondition",
                kind="NoMatchingCondition",
            )
        )
    return Finished(data=thread.data, transition=default.transition, end=default.end)
