"""Parallel state: one child thread per branch, each on its own copy of the state data.

With `completionType: atLeast`, the state completes when `numCompleted` branches are done and
the others are cancelled. Branch results are merged into the state data in branch order.
"""

from __future__ import annotations

from knflow.engine import dataflow, timeouts
from knflow.engine.children import ChildRole, collect_children, start_children
from knflow.engine.context import Run
from knflow.engine.execution import Stage, Thread
from knflow.engine.outcome import Failure
from knflow.engine.results import BLOCKED, Failed, Finished, StateResult
from knflow.errors import ExpressionError
from knflow.workflow.model import State


def run_state(run: Run, thread: Thread, state: State) -> StateResult:
    """Start the branches, then merge the results of those that completed."""
    if thread.stage is Stage.RUN:
        need = None
        if state.completion_type == "atLeast" and state.num_completed not in (None, ""):
            need = min(_num_completed(run, thread, state), len(state.branches))
        for branch in start_children(
            run, thread, role=ChildRole.BRANCH, count=len(state.branches), need=need
        ):
            timeouts.watch_branch(run, branch, state)
        return BLOCKED
    failure = thread.scratch.pop("child_failure", None)
    children = collect_children(run, thread)
    if failure is not None:
        return Failed(failure=Failure.from_json(failure))
    data = thread.data
    scope = run.scope(thread)
    for child in children:
        actions = state.branches[child.index].actions
        for pc, result in child.contributions:
            data = dataflow.merge_action_result(
                run.evaluator, actions[pc].action_data_filter, data, result, scope
            )
    return Finished(data=data)


def _num_completed(run: Run, thread: Thread, state: State) -> int:
    """Read `numCompleted`: a count, or (SonataFlow) an expression on the state data.

    Raises:
        ExpressionError: the expression fails or does not give a whole number.
    """
    written = state.num_completed
    if isinstance(written, int) or (isinstance(written, str) and written.isdigit()):
        return int(written)
    value = run.evaluator.evaluate(str(written), thread.data, run.scope(thread))
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ExpressionError(
        f"numCompleted must give a whole number, got {value!r}",
        expression=str(written),
    )
