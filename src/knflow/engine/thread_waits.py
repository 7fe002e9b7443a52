"""What a blocked thread waits for, one typed value per kind, stored inside the execution JSON.

A wait is the thread's checkpoint: a call wait holds the call itself, so after a crash only that
call is repeated. The runtime reads waits to claim calls and to subscribe to events; it never
builds or indexes their JSON, which only `to_json`/`wait_from_json` know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Final

from knflow.workflow.model import Json


class WaitKind(StrEnum):
    """What a blocked thread waits for."""

    CALL = "call"
    SUBFLOW = "subflow"
    CHILDREN = "children"
    TIMER = "timer"
    EVENT = "event"
    QUEUED = "queued"
    """A child not started yet (`batchSize`)."""


class WaitLevel(StrEnum):
    """Whether a timer or event wait belongs to the state itself or to one of its actions."""

    STATE = "state"
    """The state waits (sleep, event, callback, event switch): the state runs again after."""
    ACTION = "action"
    """An action waits (`resultEventRef`, `sleep`): the action's result completes it."""


@dataclass(slots=True, kw_only=True)
class CallWait:
    """A side-effecting service call in flight; who performs it, and until when."""

    kind: ClassVar[WaitKind] = WaitKind.CALL
    key: str
    """The wait key the call's result must name."""
    function: str
    """The function definition's name."""
    arguments: Json
    """The evaluated arguments (so a repeat sends the same)."""
    node: str
    """The action's node instance id."""
    timeout: timedelta | None = None
    """`actionExecTimeout` of the call, when declared."""
    claimed_until: datetime | None = None
    """The claiming executor owns the call until then; past it, another may claim it."""
    paced_until: datetime | None = None
    """The call holds a turn of its function's rate limit from then on (none: not taken)."""

    def to_json(self) -> dict[str, Any]:
        """Render for storage."""
        raw: dict[str, Any] = {
            "kind": self.kind.value,
            "key": self.key,
            "function": self.function,
            "arguments": self.arguments,
            "node": self.node,
        }
        if self.timeout is not None:
            raw["timeout"] = self.timeout.total_seconds()
        if self.claimed_until is not None:
            raw["claimed_until"] = self.claimed_until.isoformat()
        if self.paced_until is not None:
            raw["paced_until"] = self.paced_until.isoformat()
        return raw


@dataclass(slots=True, kw_only=True)
class SubflowWait:
    """A sync subflow running as its own instance."""

    kind: ClassVar[WaitKind] = WaitKind.SUBFLOW
    key: str
    """The key the child's end completes (also the child's identity)."""
    workflow: str
    """The child's workflow id."""
    node: str
    """The action's node instance id."""

    def to_json(self) -> dict[str, Any]:
        """Render for storage."""
        return {
            "kind": self.kind.value,
            "key": self.key,
            "workflow": self.workflow,
            "node": self.node,
        }


@dataclass(slots=True, kw_only=True)
class ChildrenWait:
    """Branches, iterations or parallel actions running as child threads."""

    kind: ClassVar[WaitKind] = WaitKind.CHILDREN
    key: ClassVar[None] = None
    need: int
    """How many children must be done (all, or `numCompleted`)."""
    batch: int
    """How many run at once (`batchSize`)."""

    def to_json(self) -> dict[str, Any]:
        """Render for storage."""
        return {"kind": self.kind.value, "need": self.need, "batch": self.batch}


@dataclass(slots=True, kw_only=True)
class QueuedWait:
    """A child thread not started yet: its parent's batch is full."""

    kind: ClassVar[WaitKind] = WaitKind.QUEUED
    key: ClassVar[None] = None

    def to_json(self) -> dict[str, Any]:
        """Render for storage."""
        return {"kind": self.kind.value}


@dataclass(slots=True, kw_only=True)
class TimerWait:
    """A sleep, an action's `sleep`, or a retry's back-off."""

    kind: ClassVar[WaitKind] = WaitKind.TIMER
    key: str
    """The key the timer's firing names."""
    due: datetime
    """When it fires."""
    level: WaitLevel = WaitLevel.ACTION
    """`STATE` for a sleep state."""
    phase: str | None = None
    """Action sleeps and retries: `before:<pc>`, `after:<pc>` or `retry:<pc>`."""
    failure: dict[str, Any] | None = None
    """A retry: the failure being retried."""

    def to_json(self) -> dict[str, Any]:
        """Render for storage."""
        raw: dict[str, Any] = {
            "kind": self.kind.value,
            "key": self.key,
            "due": self.due.isoformat(),
        }
        if self.level is WaitLevel.STATE:
            raw["level"] = self.level.value
        if self.phase is not None:
            raw["phase"] = self.phase
        if self.failure is not None:
            raw["failure"] = self.failure
        return raw


@dataclass(frozen=True, slots=True, kw_only=True)
class AwaitedEvent:
    """One event a wait is for, as the definition names it."""

    ref: str
    """The event definition's name."""
    type: str
    """Its CloudEvent type."""
    source: str | None = None
    """Its source, when the definition names one."""

    def to_json(self) -> dict[str, Any]:
        """Render for storage."""
        return {"ref": self.ref, "type": self.type, "source": self.source}


@dataclass(slots=True, kw_only=True)
class EventWait:
    """Events a state (or an action's `resultEventRef`) waits for, with their timeout."""

    kind: ClassVar[WaitKind] = WaitKind.EVENT
    key: str
    """The key an arrival names."""
    level: WaitLevel
    """Whose wait it is."""
    events: list[AwaitedEvent] = field(default_factory=list)
    """The awaited events (none: a `keepActive` instance idling)."""
    all: bool = False
    """SW 0.8 `exclusive: false`: every event must arrive."""
    received: list[dict[str, Json]] = field(default_factory=list)
    """Arrivals gathered so far (`{ref, payload}`), while waiting for all."""
    node: str | None = None
    """The action's node instance id (`ACTION` level)."""
    due: datetime | None = None
    """When the wait times out, if it does."""

    def to_json(self) -> dict[str, Any]:
        """Render for storage."""
        raw: dict[str, Any] = {
            "kind": self.kind.value,
            "key": self.key,
            "level": self.level.value,
            "events": [event.to_json() for event in self.events],
            "all": self.all,
            "received": self.received,
        }
        if self.node is not None:
            raw["node"] = self.node
        if self.due is not None:
            raw["due"] = self.due.isoformat()
        return raw

    def pending(self) -> list[AwaitedEvent]:
        """Return the awaited events that have not arrived yet."""
        arrived = {str(received["ref"]) for received in self.received}
        return [event for event in self.events if event.ref not in arrived]


Wait = CallWait | SubflowWait | ChildrenWait | QueuedWait | TimerWait | EventWait

EXTERNAL: Final = (WaitKind.EVENT, WaitKind.TIMER, WaitKind.SUBFLOW, WaitKind.CHILDREN)
"""Waits nothing in this instance can end by running: only an event, a timer or a child."""


def wait_from_json(raw: dict[str, Any] | None) -> Wait | None:
    """Rebuild a stored wait."""
    if not raw:
        return None
    kind = WaitKind(raw["kind"])
    if kind is WaitKind.CALL:
        return _call_wait(raw)
    if kind is WaitKind.SUBFLOW:
        return SubflowWait(
            key=str(raw["key"]), workflow=str(raw["workflow"]), node=str(raw["node"])
        )
    if kind is WaitKind.CHILDREN:
        return ChildrenWait(need=int(raw["need"]), batch=int(raw["batch"]))
    if kind is WaitKind.QUEUED:
        return QueuedWait()
    if kind is WaitKind.TIMER:
        return _timer_wait(raw)
    return _event_wait(raw)


def event_arrival(ref: str, payload: Json) -> dict[str, Json]:
    """Return the activation result that delivers one awaited event (`ref`) to a thread."""
    return {"kind": WaitKind.EVENT.value, "events": [{"ref": ref, "payload": payload}]}


TIMER_FIRED: Final[dict[str, Json]] = {"kind": WaitKind.TIMER.value}
"""The activation result of a fired timer."""


def _call_wait(raw: dict[str, Any]) -> CallWait:
    timeout = raw.get("timeout")
    claimed = raw.get("claimed_until")
    paced = raw.get("paced_until")
    return CallWait(
        key=str(raw["key"]),
        function=str(raw["function"]),
        arguments=raw.get("arguments"),
        node=str(raw.get("node", "")),
        timeout=None if timeout is None else timedelta(seconds=float(timeout)),
        claimed_until=None if claimed is None else datetime.fromisoformat(claimed),
        paced_until=None if paced is None else datetime.fromisoformat(paced),
    )


def _timer_wait(raw: dict[str, Any]) -> TimerWait:
    return TimerWait(
        key=str(raw["key"]),
        due=datetime.fromisoformat(raw["due"]),
        level=WaitLevel(raw.get("level", WaitLevel.ACTION)),
        phase=raw.get("phase"),
        failure=raw.get("failure"),
    )


def _event_wait(raw: dict[str, Any]) -> EventWait:
    due = raw.get("due")
    return EventWait(
        key=str(raw["key"]),
        level=WaitLevel(raw.get("level", WaitLevel.STATE)),
        events=[
            AwaitedEvent(
                ref=str(event["ref"]),
                type=str(event["type"]),
                source=event.get("source"),
            )
            for event in raw.get("events", ())
        ],
        all=bool(raw.get("all", False)),
        received=list(raw.get("received") or ()),
        node=raw.get("node"),
        due=None if due is None else datetime.fromisoformat(due),
    )
