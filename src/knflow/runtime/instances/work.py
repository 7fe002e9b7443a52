"""A unit of work: one transaction over instances, and what it leaves for after the commit.

Every use case that changes instances opens one (`transaction.unit_of_work`). Inside it, commits
queue outgoing events and claim service calls (`AfterCommit`, carried out once the transaction
committed), and queue their consequences for other instances (`Consequence`: a child to start, a
parent to resume...), which the unit of work carries out, in order, before it commits — so one
transaction holds a whole cascade without recursion between the modules that commit. Queued
events are written to the outbox together, just before the commit, with each instance's process
events grouped into one CloudEvent.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from knflow.engine.outcome import ContinueAs, StartSubflow
from knflow.events import kogito
from knflow.events.codec import Event
from knflow.runtime.catalog import LoadedDefinition
from knflow.runtime.instances import job_status, publishing
from knflow.runtime.instances.deferral import Outgoing
from knflow.runtime.services import Services
from knflow.store.db import Connection
from knflow.store.instances import InstanceRow
from knflow.store.jobs import JobRow
from knflow.workflow.model import Json

UNBOUNDED: Final = 1_000_000
"""Calls a process keeps when there is no broker to hand them to (a local run)."""


class CallPolicy(StrEnum):
    """Which service calls a unit of work performs in this process after its commit."""

    KEEP_FIRST = "keep-first"
    """Perform the first call here; the others go to step-executor as step events."""
    HAND_OVER = "hand-over"
    """Hand every call to step-executor (a timer firing, a spent step budget)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingCall:
    """A service call claimed by this process, to perform after commit."""

    instance_id: str
    """The calling instance."""
    thread_id: str
    """The thread blocked on the call (none waits for `invoke: async`)."""
    key: str
    """The wait key its result completes."""
    function_name: str
    """The function definition called."""
    arguments: Json
    """The evaluated arguments."""
    loaded: LoadedDefinition
    """The definition the call belongs to (function type, operation, resources)."""
    headers: Mapping[str, str]
    """The kept tokens the function's definition asks for (`instances.tokens.headers_for`)."""
    asynchronous: bool = False
    """`invoke: async`: nobody waits for the result."""
    timeout: timedelta | None = None
    """`actionExecTimeout` of the call, when declared."""
    claimed_until: datetime | None = None
    """The claim this process holds on the call, as committed (None for `invoke: async`)."""


@dataclass(slots=True)
class AfterCommit:
    """What the unit of work leaves for after its commit: events to publish, calls to perform."""

    outgoing: list[Outgoing] = field(default_factory=list)
    """Events written in the transaction, to publish."""
    calls: list[PendingCall] = field(default_factory=list)
    """Calls claimed by this process."""
    committed: dict[str, InstanceRow] = field(default_factory=dict)
    """Each instance the unit advanced, as committed: what this process last knows of it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StartChild:
    """Start the subflow a parent's commit asked for."""

    parent: InstanceRow
    """The parent as committed."""
    command: StartSubflow
    """What to start."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContinueInstance:
    """Start the instance an ended one continues as (`end.continueAs`)."""

    ended: InstanceRow
    """The instance that ended."""
    command: ContinueAs
    """What to start."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EndChildren:
    """Abort the subflows that cannot outlive their parent."""

    parent: InstanceRow
    """The parent that ended or was aborted."""
    everyone: bool
    """Every running child (abort), or only those bound to the parent's end."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeParent:
    """Hand a finished sync subflow's output (or failure) to its waiting parent."""

    child: InstanceRow
    """The child as it ended."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TakeBacklog:
    """Give an instance that just began waiting an event that arrived before it did."""

    instance_id: str
    """The waiting instance."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StartQueued:
    """Start the oldest queued instances of a workflow that has free slots again."""

    workflow_id: str
    """The workflow one of whose instances ended."""


Consequence = (
    StartChild
    | ContinueInstance
    | EndChildren
    | ResumeParent
    | TakeBacklog
    | StartQueued
)


@dataclass(slots=True)
class ProcessEvents:
    """The Kogito process events one instance's commits queued in a unit of work."""

    events: list[Event] = field(default_factory=list)
    """In commit order."""
    state: int = kogito.INSTANCE_STATES.index("ACTIVE")
    """The instance's state number after the last of those commits."""
    trace: dict[str, str] = field(default_factory=dict)
    """The trace context of the first commit (the grouped event's `traceparent`)."""


@dataclass(slots=True, kw_only=True)
class UnitOfWork:
    """One transaction over instances; built by `transaction.unit_of_work`, never by hand."""

    services: Services
    """The process's dependencies."""
    conn: Connection
    """The connection holding the transaction."""
    now: datetime
    """The one moment every change of this unit is dated with."""
    calls_left: int
    """How many more calls this process may claim for after the commit."""
    after_commit: AfterCommit = field(default_factory=AfterCommit)
    """Events and calls for after the commit."""
    consequences: deque[Consequence] = field(default_factory=deque)
    """Changes of other instances still to make in this transaction, in order."""
    events: list[tuple[Event, str | None]] = field(default_factory=list)
    """Events to write to the outbox, with the instance each is about."""
    process_events: dict[str, ProcessEvents] = field(default_factory=dict)
    """Kogito process events to group, by instance."""
    sealed: set[str] = field(default_factory=set)
    """Instances created in this unit that were given sealed tokens (others have none yet)."""

    def queue_event(self, event: Event, *, instance_id: str | None) -> None:
        """Write `event` to the outbox with this transaction, to publish after the commit.

        It carries the current trace context (CloudEvents distributed-tracing extension).
        """
        self.events.append(
            (_with_trace(event, self.services.tracer.carrier()), instance_id)
        )

    def queue_process_events(
        self, instance_id: str, events: list[Event], *, state: int
    ) -> None:
        """Queue an instance's process events; `state` is its state number after them."""
        queued = self.process_events.setdefault(
            instance_id, ProcessEvents(trace=self.services.tracer.carrier())
        )
        queued.events.extend(events)
        queued.state = state

    def write_events(self) -> Callable[[], None]:
        """Write everything queued to the outbox in one statement; return how to keep it.

        Called once, just before the commit: each instance's process events become one
        grouped event. Call what it returns after the commit: it adds the events written
        to those to publish (read then, the statement goes out with the commit).
        """
        grouped = [
            (
                _with_trace(
                    kogito.grouped_event(queued.events, state=queued.state),
                    queued.trace,
                ),
                instance_id,
            )
            for instance_id, queued in self.process_events.items()
            if queued.events
        ]
        written = publishing.write_all(self.conn, grouped + self.events, now=self.now)
        self.events.clear()
        self.process_events.clear()

        def keep() -> None:
            self.after_commit.outgoing.extend(written())

        return keep

    def announce_job(
        self, job: JobRow, *, response: tuple[str, str] | None = None
    ) -> None:
        """Queue the JobEvent of a job whose status changed in this transaction."""
        self.queue_event(
            job_status.job_event(job, now=self.now, response=response),
            instance_id=job.instance_id,
        )

    def claim_call(self) -> bool:
        """Take one call for this process, if its policy leaves any."""
        if self.calls_left <= 0:
            return False
        self.calls_left -= 1
        return True


def _with_trace(event: Event, carrier: dict[str, str]) -> Event:
    """`event` with the distributed-tracing attributes of `carrier` (none when tracing is off)."""
    if not carrier:
        return event
    return dataclasses.replace(event, extensions={**event.extensions, **carrier})


def call_budget(services: Services, policy: CallPolicy) -> int:
    """Return how many calls a unit of work with `policy` performs in this process.

    Without a broker (`knflow run`, tests) nobody else would perform them, so a unit keeps them
    all unless it hands them over explicitly.
    """
    if policy is CallPolicy.HAND_OVER:
        return 0
    return 1 if services.settings.k_sink else UNBOUNDED
