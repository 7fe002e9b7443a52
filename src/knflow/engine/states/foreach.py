"""ForEach state: one child thread per element of `inputCollection`, `batchSize` at a time.

The items are read where the state's data holds them (a plain path such as `.items`), or
else kept on the state's thread; an iteration's thread exists only while it runs, and its
result is kept apart until the state collects them all (`engine.children`).

The iteration parameter is visible both as a variable (`$item`, SonataFlow) and as a field of
the iteration data (`.item`, the spec). Each iteration's result is the result of its last
action; results are appended to `outputCollection` in input order.
"""

from __future__ import annotations

from typing import Final

from knflow.engine import dataflow
from knflow.engine.children import (
    ITEMS,
    ITEMS_AT,
    ChildRole,
    collect_children,
    defer_until_results,
    start_children,
)
from knflow.engine.context import Run
from knflow.engine.execution import Stage, Thread
from knflow.engine.outcome import Failure
from knflow.engine.results import BLOCKED, Failed, Finished, StateResult
from knflow.errors import ExpressionError
from knflow.workflow.model import Json, State

DEFAULT_PARAM: Final = "item"


def run_state(run: Run, thread: Thread, state: State) -> StateResult:
    """Start the iterations, then collect their results."""
    if thread.stage is Stage.RUN:
        return _start(run, thread, state)
    if defer_until_results(run, thread):
        return BLOCKED
    failure = thread.scratch.pop("child_failure", None)
    children = collect_children(run, thread)
    thread.scratch.pop(ITEMS, None)
    thread.scratch.pop(ITEMS_AT, None)
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
    path = _collection_path(run, thread, state, items)
    if path is None:
        thread.scratch[ITEMS] = items
    else:
        thread.scratch[ITEMS_AT] = path
    start_children(
        run,
        thread,
        role=ChildRole.ITERATION,
        count=len(items),
        batch=_batch(state, len(items)),
        keep_results=bool(state.output_collection),
    )
    return BLOCKED


def _collection_path(
    run: Run, thread: Thread, state: State, items: list[Json]
) -> list[str | int] | None:
    """Return where the state's data holds the collection, when it is a plain path.

    The collection is then read from the data on each iteration rather than copied into
    the execution, which every step rewrites.
    """
    try:
        path = run.evaluator.assign_path(
            state.input_collection or "", thread.data, run.scope(thread)
        )
    except ExpressionError:
        return None
    return path if dataflow.value_at(thread.data, path) == items else None


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
