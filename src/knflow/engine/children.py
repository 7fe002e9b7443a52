"""Child threads: parallel branches, foreach iterations and parallel actions.

A parent thread starts its children and blocks; at most `batch` children run at once. When
enough children are done (all, or `numCompleted`), the rest are cancelled and the parent runs
again to collect their results. A failed child fails the parent's state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from knflow.engine.context import Run
from knflow.engine.execution import Stage, Thread, ThreadStatus
from knflow.engine.thread_waits import ChildrenWait, QueuedWait
from knflow.workflow.model import Json


def start_children(
    run: Run,
    parent: Thread,
    *,
    role: str,
    inputs: Sequence[Json],
    need: int | None = None,
    batch: int | None = None,
    scratch: Sequence[dict[str, Any]] | None = None,
) -> list[Thread]:
    """Create one child per input, block `parent` until `need` of them are done; return them."""
    visit = run.execution.next_number()
    created = []
    for index, data in enumerate(inputs):
        child = Thread(
            id=f"{parent.id}/{parent.state}#{visit}/{role}{index}",
            parent=parent.id,
            state=parent.state,
            role=role,
            index=index,
            data=data,
            status=ThreadStatus.BLOCKED,
            wait=QueuedWait(),
            scratch=dict(scratch[index]) if scratch else {},
        )
        run.execution.threads[child.id] = child
        created.append(child)
    parent.status = ThreadStatus.BLOCKED
    parent.stage = Stage.COLLECT
    parent.wait = ChildrenWait(
        need=len(created) if need is None else need,
        batch=batch or len(created) or 1,
    )
    if not created:
        _wake(parent)
        return created
    _start_queued(run, parent)
    return created


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
    siblings = run.execution.children_of(parent.id)
    done = sum(1 for t in siblings if t.status is ThreadStatus.DONE)
    if done >= parent.wait.need:
        cancel_children(run, parent)
        _wake(parent)
        return
    _start_queued(run, parent)


def collect_children(run: Run, parent: Thread) -> list[Thread]:
    """Return the parent's finished children in index order and forget all of them."""
    children = run.execution.children_of(parent.id)
    for child in children:
        run.execution.threads.pop(child.id, None)
    return [c for c in children if c.status is ThreadStatus.DONE]


def cancel_children(run: Run, parent: Thread) -> None:
    """Drop every open child of `parent` (and theirs): late results and timers find no thread."""
    for child in run.execution.children_of(parent.id):
        if child.is_open:
            cancel_children(run, child)
            run.execution.threads.pop(child.id, None)


def _start_queued(run: Run, parent: Thread) -> None:
    if not isinstance(parent.wait, ChildrenWait):
        return
    batch = parent.wait.batch
    children = run.execution.children_of(parent.id)
    running = sum(
        1 for t in children if t.is_open and not isinstance(t.wait, QueuedWait)
    )
    for child in children:
        if running >= batch:
            return
        if child.status is ThreadStatus.BLOCKED and isinstance(child.wait, QueuedWait):
            child.status = ThreadStatus.RUNNABLE
            child.wait = None
            child.seq += 1
            running += 1


def _wake(parent: Thread) -> None:
    parent.status = ThreadStatus.RUNNABLE
    parent.wait = None
    parent.seq += 1
