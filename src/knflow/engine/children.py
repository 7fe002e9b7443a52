"""Child threads: parallel branches, foreach iterations and parallel actions.

A parent thread starts its children and blocks; at most `batch` children run at once. A child
exists as a thread only while it runs: the next one is created when a slot frees, and a child
that finishes is folded into its parent (its result kept, its thread dropped). So the execution
stays small however many iterations a foreach has, and each step stores work proportional to
what runs, not to what is queued or done. When enough children are done (all, or
`numCompleted`), the rest are cancelled and the parent runs again to collect the results. A
failed child fails the parent's state.

A foreach's iteration results are kept apart from the execution (`KeepChildResult`, stored
by the runtime) and handed back when the parent collects them, in a step of its own: the
execution, rewritten on every step, then stays the same size from the first iteration to
the last.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from knflow.engine.context import Run
from knflow.engine.dataflow import value_at
from knflow.engine.execution import Execution, Stage, Thread, ThreadStatus
from knflow.engine.outcome import KeepChildResult
from knflow.engine.thread_waits import ChildrenWait
from knflow.workflow.model import Json

FAMILY: str = "children"
"""The parent's scratch entry describing its children (the recipe of those not started yet)."""
FINISHED: str = "finished"
"""The parent's scratch entry collecting what its finished children produced."""
ITEMS: str = "items"
"""The parent's scratch entry holding a foreach's collection."""
ITEMS_AT: str = "items_at"
"""The parent's scratch entry naming where its data holds the collection, instead of a copy."""


class ChildRole(StrEnum):
    """What a child thread runs."""

    BRANCH = "branch"
    """A parallel state's branch, on a copy of the state data."""
    ITERATION = "iteration"
    """A foreach iteration, on the state data plus the iteration parameter."""
    ACTION = "action"
    """One action of an operation (or event) state with `actionMode: parallel`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FinishedChild:
    """What a finished child leaves its parent."""

    index: int
    """Its branch, iteration or action index."""
    last_result: Json
    """The filtered result of its last action (a foreach iteration's result)."""
    contributions: list[list[Any]]
    """`[action index, raw result]` pairs, replayed by the parent onto its data."""


def start_children(
    run: Run,
    parent: Thread,
    *,
    role: ChildRole,
    count: int,
    need: int | None = None,
    batch: int | None = None,
    carried: dict[str, Any] | None = None,
    keep_results: bool = True,
) -> list[Thread]:
    """Block `parent` on `count` children, start the first `batch`; return those started.

    Iterations read their item from the parent's collection (`ITEMS` or `ITEMS_AT`, set by
    the foreach state); `carried` is scratch every child starts with. Without
    `keep_results` (a foreach with no `outputCollection`) finished children leave only
    their count; with it, iterations leave their results apart (`KeepChildResult`).
    """
    apart = role is ChildRole.ITERATION and keep_results
    parent.scratch[FAMILY] = {
        "role": role.value,
        "visit": run.execution.next_number(),
        "total": count,
        "started": 0,
        "carried": carried or {},
        "keep_results": keep_results,
        "apart": apart,
        "done": 0,
    }
    if not apart:
        parent.scratch[FINISHED] = []
    parent.status = ThreadStatus.BLOCKED
    parent.stage = Stage.COLLECT
    parent.wait = ChildrenWait(
        need=count if need is None else need, batch=batch or count or 1
    )
    if count == 0:
        _wake(parent)
        return []
    return _start_next(run, parent)


def child_finished(run: Run, child: Thread) -> None:
    """Update the parent after `child` ended (done or failed)."""
    parent = run.execution.threads.get(child.parent or "")
    if parent is None or not isinstance(parent.wait, ChildrenWait):
        return
    if child.status is ThreadStatus.FAILED:
        parent.scratch["child_failure"] = child.error
        cancel_children(run, parent)
        _wake(parent)
        return
    run.execution.threads.pop(child.id, None)
    if _record_finished(run, parent, child) >= parent.wait.need:
        cancel_children(run, parent)
        _wake(parent)
        return
    _start_next(run, parent)


def kept_results_family(execution: Execution, thread_id: str) -> str | None:
    """Name the family whose kept results `thread_id` needs to run on, if it needs them.

    The runtime hands them back in `RunThread.kept_results` (and may forget them then).
    """
    thread = execution.threads.get(thread_id)
    if thread is None or thread.status is not ThreadStatus.RUNNABLE:
        return None
    family = thread.scratch.get(FAMILY)
    if not family or not family.get("apart") or FINISHED in thread.scratch:
        return None
    return _family_key(thread, family)


def hand_back_results(thread: Thread, kept: list[Json]) -> None:
    """Give a parent the results its children left apart, for it to collect."""
    thread.scratch[FINISHED] = list(kept)


def defer_until_results(run: Run, parent: Thread) -> bool:
    """Leave a parent whose children's results are kept apart to a step that brings them.

    Returns whether it was deferred (the state runner then stops).
    """
    if kept_results_family(run.execution, parent.id) is None:
        return False
    run.defer(parent)
    return True


def items_of(parent: Thread) -> list[Json]:
    """Return a foreach's collection: read where the parent's data holds it, or its copy."""
    path = parent.scratch.get(ITEMS_AT)
    if path is None:
        items: list[Json] = parent.scratch[ITEMS]
        return items
    found = value_at(parent.data, path)
    return found if isinstance(found, list) else []


def pin_items(execution: Execution) -> None:
    """Copy the collections read from threads' data before that data is replaced.

    A management change of the workflow data must not change the items of a foreach
    already running.
    """
    for thread in execution.threads.values():
        if ITEMS_AT in thread.scratch:
            thread.scratch[ITEMS] = items_of(thread)
            del thread.scratch[ITEMS_AT]


def collect_children(run: Run, parent: Thread) -> list[FinishedChild]:
    """Return what the parent's finished children left, in index order, and forget them all."""
    for child in run.execution.children_of(parent.id):
        run.execution.threads.pop(child.id, None)
    parent.scratch.pop(FAMILY, None)
    finished = parent.scratch.pop(FINISHED, [])
    return sorted(
        (
            FinishedChild(
                index=int(raw["index"]),
                last_result=raw.get("last_result"),
                contributions=list(raw.get("contributions") or ()),
            )
            for raw in finished
        ),
        key=lambda child: child.index,
    )


def cancel_children(run: Run, parent: Thread) -> None:
    """Drop every open child of `parent` (and theirs): late results and timers find no thread."""
    family = parent.scratch.get(FAMILY)
    if family is not None:
        family["started"] = family["total"]  # nothing queued starts any more
    for child in run.execution.children_of(parent.id):
        if child.is_open:
            cancel_children(run, child)
            run.execution.threads.pop(child.id, None)


def iteration_data(data: Json, param: str, item: Json) -> Json:
    """Return a foreach iteration's data: the state data plus the iteration parameter."""
    if isinstance(data, dict):
        return {**data, param: item}
    return {param: item}


def _record_finished(run: Run, parent: Thread, child: Thread) -> int:
    """Keep what a finished child leaves; return how many children have finished."""
    family = parent.scratch.get(FAMILY) or {}
    leftover = _leftover(family, child)
    if family.get("apart"):
        family["done"] = int(family.get("done", 0)) + 1
        run.command(
            KeepChildResult(
                family=_family_key(parent, family), index=child.index, leftover=leftover
            )
        )
        return int(family["done"])
    finished = parent.scratch.setdefault(FINISHED, [])
    finished.append(leftover)
    return len(finished)


def _family_key(parent: Thread, family: dict[str, Any]) -> str:
    """The family's name, unique within the instance (its children's ids extend it)."""
    return f"{parent.id}/{parent.state}#{family['visit']}"


def _leftover(family: dict[str, Any], child: Thread) -> dict[str, Any]:
    """What a finished child leaves its parent: its result or contributions, if they count."""
    if not family.get("keep_results", True):
        return {"index": child.index}
    if family.get("role") == ChildRole.ITERATION:
        return {"index": child.index, "last_result": child.last_result}
    return {"index": child.index, "contributions": child.contributions}


def _start_next(run: Run, parent: Thread) -> list[Thread]:
    """Start queued children until `batch` run at once; return those started."""
    family = parent.scratch[FAMILY]
    assert isinstance(parent.wait, ChildrenWait), (
        "only a waiting parent starts children"
    )
    running = sum(1 for t in run.execution.children_of(parent.id) if t.is_open)
    started = []
    while running < parent.wait.batch and family["started"] < family["total"]:
        started.append(_new_child(run, parent, family, family["started"]))
        family["started"] += 1
        running += 1
    return started


def _new_child(run: Run, parent: Thread, family: dict[str, Any], index: int) -> Thread:
    role = ChildRole(family["role"])
    scratch = dict(family["carried"])
    data: Json = parent.data
    if role is ChildRole.ITERATION:
        param = str(parent.scratch["param"])
        item = items_of(parent)[index]
        data = iteration_data(parent.data, param, item)
        scratch |= {"param": param, "item": item}
    child = Thread(
        id=f"{_family_key(parent, family)}/{role.value}{index}",
        parent=parent.id,
        state=parent.state,
        role=role.value,
        index=index,
        data=data,
        status=ThreadStatus.RUNNABLE,
        scratch=scratch,
    )
    run.execution.threads[child.id] = child
    return child


def _wake(parent: Thread) -> None:
    parent.status = ThreadStatus.RUNNABLE
    parent.wait = None
    parent.seq += 1
