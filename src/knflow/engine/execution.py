"""Where an instance is: its threads of execution, persisted as one JSON document.

The main thread walks the state machine. A parallel state, a foreach state or an operation with
`actionMode: parallel` starts child threads, one per branch, iteration or action; the parent
blocks until enough children are done. A thread blocked on a side-effecting call records the call
in `wait`, which is the checkpoint: after a crash, only that call is repeated.

`Execution` is a mutable working copy owned by one `advance` call; it is serialised to and from
JSON at the storage boundary, so nothing outside the engine sees it change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from knflow.engine.thread_waits import EXTERNAL, Wait, WaitKind, wait_from_json
from knflow.workflow.model import Json

MAIN: Final = "main"
INPUT_IS_DATA: Final = "input_is_data"
"""Stored on the main thread when its state input was left out because it equals the data."""
THREAD_DEFAULTS: Final[dict[str, Any]] = {
    "parent": None,
    "role": MAIN,
    "index": 0,
    "pc": 0,
    "seq": 0,
    "wait": None,
    "last_result": None,
    "contributions": [],
    "error": None,
    "node": None,
    "scratch": {},
}
"""A thread's fields that are left out of storage when they hold these values: what
`Thread.from_json` assumes for an absent field. (`data` is never left out for this: on the
main thread, an absent `data` means the instance's workflow data.)"""
EXECUTION_DEFAULTS: Final[dict[str, Any]] = {
    "completed": [],
    "compensating": None,
    "timed_out": False,
    "expiring": False,
    "variables": {},
}
"""The same for the execution's own fields, as `Execution.from_json` assumes them."""
DATA_OVER_PARENT: Final = "data_over_parent"
"""Stored on a child thread instead of its data: the top-level members that differ from its
parent's data (a foreach iteration's data is the state data plus the item)."""


class ThreadStatus(StrEnum):
    """Lifecycle of one thread."""

    RUNNABLE = "RUNNABLE"
    BLOCKED = "BLOCKED"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class Stage(StrEnum):
    """Where the main thread is inside its current state."""

    ENTER = "enter"
    RUN = "run"
    COLLECT = "collect"


@dataclass(slots=True, kw_only=True)
class Thread:
    """One path of execution."""

    id: str
    """`main`, or `<parent>/<state>#<visit>/<kind><index>` for children."""
    parent: str | None = None
    """The thread waiting for this one."""
    state: str = ""
    """Main: the current state. Child: the state that started it."""
    stage: Stage = Stage.ENTER
    """Main: progress inside the current state."""
    role: str = MAIN
    """`main`, `branch`, `iteration` or `action`."""
    index: int = 0
    """Child: branch, iteration or action index."""
    pc: int = 0
    """Index of the next action to run in the thread's action list."""
    data: Json = None
    """The thread's working data."""
    status: ThreadStatus = ThreadStatus.RUNNABLE
    """Lifecycle."""
    seq: int = 0
    """Bumped on every change; a step event for an older value is stale."""
    wait: Wait | None = None
    """What it is blocked on; for calls, the call itself (the checkpoint)."""
    last_result: Json = None
    """Result of the previous action (`$WORKFLOW.prevActionResult`)."""
    contributions: list[list[Any]] = field(default_factory=list)
    """Child: `[action index, raw result]` pairs the parent replays onto its data."""
    error: dict[str, Any] | None = None
    """A failure that ends the thread: `{kind, status, message, state}`."""
    node: str | None = None
    """Node instance id of the state (main) or action (child) in progress."""
    scratch: dict[str, Any] = field(default_factory=dict)
    """State-type specific working values (foreach items, pending children, visits)."""

    def to_json(self) -> dict[str, Any]:
        """Render for storage; a field holding what `from_json` assumes when it is absent
        is left out (see `_without_defaults`)."""
        return _without_defaults(
            {
                "id": self.id,
                "parent": self.parent,
                "state": self.state,
                "stage": str(self.stage),
                "role": self.role,
                "index": self.index,
                "pc": self.pc,
                "data": self.data,
                "status": str(self.status),
                "seq": self.seq,
                "wait": None if self.wait is None else self.wait.to_json(),
                "last_result": self.last_result,
                "contributions": self.contributions,
                "error": self.error,
                "node": self.node,
                "scratch": self.scratch,
            },
            THREAD_DEFAULTS,
        )

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Thread:
        """Rebuild from storage."""
        return cls(
            id=raw["id"],
            parent=raw.get("parent"),
            state=raw.get("state", ""),
            stage=Stage(raw.get("stage", Stage.ENTER)),
            role=raw.get("role", MAIN),
            index=raw.get("index", 0),
            pc=raw.get("pc", 0),
            data=raw.get("data"),
            status=ThreadStatus(raw.get("status", ThreadStatus.RUNNABLE)),
            seq=raw.get("seq", 0),
            wait=wait_from_json(raw.get("wait")),
            last_result=raw.get("last_result"),
            contributions=raw.get("contributions") or [],
            error=raw.get("error"),
            node=raw.get("node"),
            scratch=raw.get("scratch") or {},
        )

    @property
    def is_open(self) -> bool:
        """Still running or waiting."""
        return self.status in (ThreadStatus.RUNNABLE, ThreadStatus.BLOCKED)


@dataclass(slots=True, kw_only=True)
class Execution:
    """All threads of an instance plus instance-wide counters."""

    threads: dict[str, Thread] = field(default_factory=dict)
    """Threads by id; finished children are removed once their parent collected them."""
    counter: int = 0
    """Source of node instance numbers and visit numbers (deterministic ids)."""
    completed: list[str] = field(default_factory=list)
    """Completed states that name a compensating state, oldest first."""
    compensating: dict[str, Any] | None = None
    """While compensating: the states still to run and where to go afterwards."""
    timed_out: bool = False
    """`workflowExecTimeout` expired: the instance ends ABORTED (after `runBefore`)."""
    expiring: bool = False
    """`workflowExecTimeout` expired without `interrupt`: stop when the current state ends."""
    variables: dict[str, Json] = field(default_factory=dict)
    """Variables inherited from the parent (a foreach's iteration variable), for subflows."""

    def to_json(self, *, workflow_data: Json = None) -> dict[str, Any]:
        """Render for storage, leaving out what the instance row already holds.

        The main thread's data is the instance's workflow data, stored in its own column: it
        is left out when it equals `workflow_data`, and so is the current state's input when
        it equals the data (a foreach over thousands of items would otherwise store them
        three times on every step). A child's data keeps only the members that differ from
        its parent's: an iteration's data holds the state data, collection included.
        """
        threads = {tid: t.to_json() for tid, t in self.threads.items()}
        for tid, thread in self.threads.items():
            parent = self.threads.get(thread.parent or "")
            if parent is not None:
                _leave_out_parent_data(threads[tid], thread.data, parent.data)
        main = threads.get(MAIN)
        if main is not None:
            _leave_out_workflow_data(main, workflow_data)
        return _without_defaults(
            {
                "threads": threads,
                "counter": self.counter,
                "completed": self.completed,
                "compensating": self.compensating,
                "timed_out": self.timed_out,
                "expiring": self.expiring,
                "variables": self.variables,
            },
            EXECUTION_DEFAULTS,
        )

    @classmethod
    def from_json(
        cls, raw: dict[str, Any] | None, *, workflow_data: Json = None
    ) -> Execution:
        """Rebuild from storage; `workflow_data` is the instance's data column."""
        raw = raw or {}
        threads = {
            tid: Thread.from_json(t) for tid, t in (raw.get("threads") or {}).items()
        }
        main = threads.get(MAIN)
        if main is not None:
            _restore_workflow_data(main, raw["threads"][MAIN], workflow_data)
        _restore_parent_data(threads, raw.get("threads") or {})
        return cls(
            threads=threads,
            counter=raw.get("counter", 0),
            completed=list(raw.get("completed") or ()),
            compensating=raw.get("compensating"),
            timed_out=bool(raw.get("timed_out", False)),
            expiring=bool(raw.get("expiring", False)),
            variables=dict(raw.get("variables") or {}),
        )

    @property
    def main(self) -> Thread:
        """The state-machine thread."""
        return self.threads[MAIN]

    def next_number(self) -> int:
        """Return a fresh number for ids, unique within the instance."""
        self.counter += 1
        return self.counter

    def children_of(self, parent_id: str) -> list[Thread]:
        """Return the children of a thread, ordered by index."""
        return sorted(
            (t for t in self.threads.values() if t.parent == parent_id),
            key=lambda t: t.index,
        )

    def runnable(self) -> list[Thread]:
        """Return the threads ready to run, main first."""
        return [t for t in self.threads.values() if t.status is ThreadStatus.RUNNABLE]

    def is_waiting_externally(self) -> bool:
        """Tell whether every open thread waits for an event or a timer (nothing to run now)."""
        open_threads = [t for t in self.threads.values() if t.is_open]
        return (
            bool(open_threads)
            and all(
                t.status is ThreadStatus.BLOCKED
                and t.wait is not None
                and t.wait.kind in EXTERNAL
                for t in open_threads
            )
            and any(
                t.wait is not None and t.wait.kind in (WaitKind.EVENT, WaitKind.TIMER)
                for t in open_threads
            )
        )


def _leave_out_workflow_data(main: dict[str, Any], workflow_data: Json) -> None:
    data = main["data"]
    if data is None or data != workflow_data:
        return
    del main["data"]
    scratch = main.get("scratch") or {}
    if "input" in scratch and scratch["input"] == data:
        rest = {k: v for k, v in scratch.items() if k != "input"}
        if rest:
            main["scratch"] = rest
        else:  # absent means empty (THREAD_DEFAULTS)
            main.pop("scratch", None)
        main[INPUT_IS_DATA] = True


def _restore_workflow_data(
    main: Thread, stored: dict[str, Any], workflow_data: Json
) -> None:
    if "data" in stored:
        return
    main.data = workflow_data
    if stored.get(INPUT_IS_DATA):
        main.scratch["input"] = workflow_data


def _without_defaults(raw: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Drop the fields holding their default value.

    The execution document is rewritten by every step and kept in each row version until
    PostgreSQL prunes it, so its size counts several times per instance; most fields of a
    thread hold their default most of the time. The type is compared too, so that `False`
    never stands for `0`.
    """
    return {
        key: value
        for key, value in raw.items()
        if key not in defaults
        or type(value) is not type(defaults[key])
        or value != defaults[key]
    }


def _leave_out_parent_data(
    child: dict[str, Any], data: Json, parent_data: Json
) -> None:
    """Store a child's object data as its differences from its parent's object data.

    A member counts as shared only when it is the parent's very value: data is never
    changed in place, so a child shares what it did not replace, and identity costs
    nothing where equality would compare a large collection (and take 1 for true).
    Only when the child has every member of the parent: what it dropped could not be told
    apart from what it shares.
    """
    if not isinstance(data, dict) or not isinstance(parent_data, dict):
        return
    if any(key not in data for key in parent_data):
        return
    child[DATA_OVER_PARENT] = {
        key: value
        for key, value in data.items()
        if key not in parent_data or value is not parent_data[key]
    }
    del child["data"]


def _restore_parent_data(
    threads: dict[str, Thread], stored: dict[str, dict[str, Any]]
) -> None:
    """Rebuild children's data from their parents', parents first.

    A child's id extends its parent's, so sorting by id length puts parents first.
    """
    for tid in sorted(stored, key=len):
        over = stored[tid].get(DATA_OVER_PARENT)
        thread = threads.get(tid)
        if over is None or thread is None:
            continue
        parent = threads.get(thread.parent or "")
        parent_data = parent.data if parent is not None else None
        base = parent_data if isinstance(parent_data, dict) else {}
        thread.data = {**base, **over}
