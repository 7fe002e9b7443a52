"""ForEach state: one child thread per element of `inputCollection`, `batchSize` at a time.

The items are kept on the state's thread; an iteration's thread exists only while it runs
(`engine.children`).

The iteration parameter is visible both as a variable (`$item`, SonataFlow) and as a field of
the iteration data (`.item`, the spec). Each iteration's result is the result of its last
action; results are appended to `outputCollection` in input order.
"""

from __future__ import annotations

from typing import Final

from knflow.engine import dataflow
from knflow.engine.children import ChildRole, collect_children, start_children
from knflow.engine.context import Run
from knflow.engine.execution import Stage, Thread
from knflow.engine.outcome import Failure
from knflow.engine.results import BLOCKED, Failed, Finished, StateResult
from knflow.workflow.model import State

DEFAULT_PARAM: Final = "item"


def run_state(run: Run, thread: Thread, state: State) -> StateResult:
    """Start the iterations, then collect their results."""
    if thread.stage is Stage.RUN:
        return _start(run, thread, state)
    failure = thread.scratch.pop("child_failure", None)
    children = collect_children(run, thread)
    thread.scratch.pop("items", None)
    thread.scratch.pop("param", None)
    if failure is not None:
        return Failed(failure=Failure.from_json(failure))
    if not state.output_collection:
        return Finished(data=thread.data)
    scope = run.scope(thread)
    path = run.evaluator.assign_path(state.output_collection, thread.data, scope)
    results = [child.last_result for child in children]
    return Finished(data=dataflow.merge_at(thread.data, path, results))


def _start(run: Run, thread: Thread, state: State) -> StateResult:
    items = run.evaluator.evaluate(
        state.input_collection or "", thread.data, run.scope(thread)
    )
    if not isinstance(items, list):
        return Failed(
            failure=Failure(
                message=f"inputCollection '{state.input_collection}' of foreach state '{state.name}'"
                f" gave {type(items).__name__}, not an array",
                kind="ExpressionError",
            )
        )
    thread.scratch["param"] = _param_name(state.iteration_param)
    thread.scratch["items"] = items
    start_children(
        run,
        thread,
        role=ChildRole.ITERATION,
        count=len(items),
        batch=_batch(state, len(items)),
        keep_results=bool(state.output_collection),
    )
    return BLOCKED


def _param_name(declared: str | None) -> str:
    """Spec example 28 writes the name as an expression (`${ .tx }`); take the bare name."""
    if not declared:
        return DEFAULT_PARAM
    name = declared.strip()
    if name.startswith("${") and name.endswith("}"):
        name = name[2:-1].strip()
    return name.lstrip(".$") or DEFAULT_PARAM


def _batch(state: State, count: int) -> int:
    if state.mode == "sequential":
        return 1
    if state.batch_size in (None, "", 0, "0"):
        return max(count, 1)
    return max(int(state.batch_size), 1)
