"""Operation state: its actions in sequence, or all at once with `actionMode: parallel`."""

from __future__ import annotations

from knflow.engine import dataflow
from knflow.engine.actions import run_actions
from knflow.engine.children import ChildRole, collect_children, start_children
from knflow.engine.context import Run
from knflow.engine.execution import Stage, Thread
from knflow.engine.outcome import Failure
from knflow.engine.results import BLOCKED, Failed, Finished, StateResult
from knflow.workflow.model import Action, State


def run_state(run: Run, thread: Thread, state: State) -> StateResult:
    """Run the state's actions; in parallel mode each action is a child thread."""
    if state.action_mode == "parallel" and len(state.actions) > 1:
        return run_in_parallel(run, thread, state, state.actions)
    outcome = run_actions(run, thread, state.actions, state)
    if outcome is BLOCKED:
        return BLOCKED
    if isinstance(outcome, Failure):
        return Failed(failure=outcome)
    return Finished(data=thread.data)


def run_in_parallel(
    run: Run, thread: Thread, state: State, actions: tuple[Action, ...]
) -> StateResult:
    """Run each action as its own child thread, then merge their results in action order."""
    if thread.stage is Stage.RUN:
        carried = (
            {"matched": thread.scratch["matched"]}
            if "matched" in thread.scratch
            else {}
        )
        start_children(
            run, thread, role=ChildRole.ACTION, count=len(actions), carried=carried
        )
        return BLOCKED
    failure = thread.scratch.pop("child_failure", None)
    children = collect_children(run, thread)
    if failure is not None:
        return Failed(failure=Failure.from_json(failure))
    data = thread.data
    scope = run.scope(thread)
    for child in children:
        action = actions[child.index]
        for _pc, result in child.contributions:
            data = dataflow.merge_action_result(
                run.evaluator, action.action_data_filter, data, result, scope
            )
    return Finished(data=data)
