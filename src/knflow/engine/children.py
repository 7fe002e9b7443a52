"""Child threads: parallel branches, foreach iterations and parallel actions.

A parent thread starts its children and blocks; at most `batch` children run at once. A child
exists as a thread only while it runs: the next one is created when a slot frees, and a child
that finishes is folded into its parent (its result kept, its thread dropped). So the execution
stays small however many iterations a foreach has, and each step stores work proportional to
what runs, not to what is queued or done. When enough children are done (all, or
`numCompleted`), the rest are cancelled and the parent runs again to collect the results. A
failed child fails the parent's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from knflow.engine.context import Run
from knflow.engine.execution import Stage, Thread, ThreadStatus
from knflow.engine.thread_waits import ChildrenWait
from knflow.workflow.model import Json

FAMILY: str = "children"
"""The parent's scratch entry describing its children (the recipe of those not started yet)."""
FINISHED: str = "finished"
"""The parent's scratch entry collecting what its finished children produced."""


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

    Iterations read their item from `parent.scratch["items"]` (set by the foreach state);
    `carried` is scratch every child starts with. Without `keep_results` (a foreach with no
    `outputCollection`) finished children leave only their count.
    """
    parent.scratch[FAMILY] = {
        "role": role.value,
        "visit": run.execution.next_number(),
        "total": count,
        "started": 0,
        "carried": carried or {},
        "keep_results": keep_results,
    }
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
    finished = parent.scratch.setdefault(FINISHED, [])
    finished.append(_leftover(parent.scratch.get(FAMILY) or {}, child))
    if len(finished) >= parent.wait.need:
        cancel_children(run, parent)
        _wake(parent)
        return
    _start_next(run, parent)


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
        item = parent.scratch["items"][index]
        data = iteration_data(parent.data, param, item)
        scratch |= {"param": param, "item": item}
    child = Thread(
        id=f"{parent.id}/{parent.state}#{family['visit']}/{role.value}{index}",
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
