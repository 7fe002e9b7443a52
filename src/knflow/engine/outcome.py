"""What wakes an instance (activations) and what the engine asks the runtime to do (commands).

The engine never performs I/O: calling a service, starting a child instance, emitting an event or
scheduling a timer are commands the runtime carries out after committing the new execution.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from knflow.engine.execution import Execution
from knflow.workflow.model import Json


class InstanceStatus(StrEnum):
    """An instance's lifecycle value, as the Data Index names it."""

    PENDING = "PENDING"
    """Accepted, waiting for a slot under its workflow's active-instance limit."""
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    SUSPENDED = "SUSPENDED"


ENDED: Final = frozenset(
    {InstanceStatus.COMPLETED, InstanceStatus.ERROR, InstanceStatus.ABORTED}
)
"""Statuses an instance does not leave by itself (ERROR only through retrigger or skip)."""

ERROR_MESSAGE_FAILURE: Final = "ErrorMessage"
"""The failure kind of a state whose SonataFlow `errorMessage` metadata failed the instance."""


# --- activations -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """Why an action, expression or child failed; matched against `errors[].code`."""

    message: str
    """Human-readable reason."""
    kind: str = "Error"
    """Failure kind name (`HTTP:404`, `ExpressionError`, `java.net.ConnectException`...)."""
    status: int | None = None
    """HTTP status when a service answered."""
    retryable: bool = False
    """Whether the failure may go away on a retry."""
    ancestors: tuple[str, ...] = ()
    """Java superclass names `kind` also matches (`java.io.IOException`...), as SonataFlow."""

    def to_json(self) -> dict[str, Any]:
        """Render for storage."""
        return {
            "message": self.message,
            "kind": self.kind,
            "status": self.status,
            "retryable": self.retryable,
            "ancestors": list(self.ancestors),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Failure:
        """Rebuild from storage."""
        return cls(
            message=raw.get("message", ""),
            kind=raw.get("kind", "Error"),
            status=raw.get("status"),
            retryable=bool(raw.get("retryable", False)),
            ancestors=tuple(raw.get("ancestors") or ()),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RunThread:
    """Run a runnable thread (a step event arrived for it)."""

    thread_id: str
    """The thread."""
    kept_results: list[Json] | None = None
    """What its finished children left through `KeepChildResult`, when it collects them
    (`children.kept_results_family` tells when); None otherwise."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallCompleted:
    """A call, subflow or timer a thread was blocked on has finished."""

    thread_id: str
    """The blocked thread."""
    key: str
    """The wait key it was blocked on (stale keys are ignored)."""
    result: Json = None
    """The result, when it succeeded."""
    failure: Failure | None = None
    """The failure, when it failed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Deadline:
    """A timeout expired: `workflow`, `state` (of visit `node`), or `branch` (thread `node`)."""

    thread_id: str
    """The thread the timeout watches."""
    scope: str
    """`workflow`, `state` or `branch`."""
    node: str
    """The state visit (node instance id) or branch thread the timeout was set for."""


Activation = RunThread | CallCompleted | Deadline


# --- commands ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CallFunction:
    """Call a service function; its result comes back as `CallCompleted`."""

    thread_id: str
    """The blocked thread (none for `invoke: async`)."""
    key: str
    """Wait key."""
    function_name: str
    """The function definition's name."""
    arguments: Json
    """Evaluated arguments."""
    asynchronous: bool = False
    """Fire and forget: the thread did not block."""
    timeout: timedelta | None = None
    """`actionExecTimeout` of the branch, state or workflow; None: the runtime's default."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StartSubflow:
    """Start a child instance; with `wait`, its output comes back as `CallCompleted`."""

    thread_id: str
    """The parent thread."""
    key: str
    """Wait key (also the child's deterministic identity)."""
    workflow_id: str
    """Child workflow."""
    version: str | None
    """Pinned child version, or the latest."""
    data: Json
    """Child input."""
    wait: bool
    """`invoke: sync`."""
    terminate_with_parent: bool = True
    """`onParentComplete: terminate` for async children."""
    variables: Mapping[str, Json] = field(default_factory=dict)
    """Scope variables the child sees too (a foreach's iteration variable)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EmitEvent:
    """Publish a CloudEvent (through the outbox)."""

    key: str
    """Deterministic discriminator for the event id."""
    type: str
    """CloudEvent type."""
    source: str | None
    """CloudEvent source, when the definition fixes one."""
    data: Json
    """Payload."""
    extensions: dict[str, str] = field(default_factory=dict)
    """Context attributes (`contextAttributes`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestNotification:
    """Send a Backstage notification (the custom function `operation: notify`)."""

    key: str
    """Deterministic discriminator for the event id."""
    body: Json
    """The notification body `{recipients, payload}`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleTimer:
    """Wake `thread_id` at `due`: with `CallCompleted(key)`, or a `Deadline` when `deadline` is set."""

    thread_id: str
    """The sleeping thread."""
    key: str
    """Wait key."""
    due: datetime
    """When to fire (aware UTC)."""
    deadline: str | None = None
    """For timeouts: the `Deadline.scope`."""
    node: str | None = None
    """For timeouts: the `Deadline.node`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleThread:
    """A thread became runnable and should run in its own step (fan-out)."""

    thread_id: str
    """The thread."""
    seq: int
    """Its sequence number, so duplicates of the step event are recognised."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KeepChildResult:
    """Store what a finished foreach iteration left, apart from the execution.

    The results of a long foreach would otherwise grow the execution, which is rewritten
    on every step, into the whole collection's results (a quadratic cost). They come back
    in `RunThread.kept_results` when the parent collects them.
    """

    family: str
    """The children's family (`children.kept_results_family` names it to the parent)."""
    index: int
    """The iteration index (one result per index; a repeat replaces it)."""
    leftover: Json
    """What the parent collects from this child."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContinueAs:
    """Start a new instance of `workflow_id` with `data` once this one has ended."""

    workflow_id: str
    """Workflow to continue as."""
    version: str | None
    """Pinned version or the latest."""
    data: Json
    """Its input."""


Command = (
    CallFunction
    | StartSubflow
    | EmitEvent
    | RequestNotification
    | ScheduleTimer
    | ScheduleThread
    | KeepChildResult
    | ContinueAs
)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeTrace:
    """A state or action entered, left, abandoned or failed (becomes a Kogito node event)."""

    event: str
    """`enter`, `exit`, `abort` (abandoned by a management intervention) or `error`."""
    node_instance_id: str
    """Unique per visit."""
    node_id: str
    """Stable id of the node in the definition."""
    name: str
    """State or action name."""
    node_type: str
    """Kogito node type name."""
    at: datetime
    """When."""
    message: str | None = None
    """For `error`: the message."""
    retrigger: bool = False
    """For `enter`: the node runs again in place of an abandoned one (a retrigger)."""


@dataclass(slots=True, kw_only=True)
class Outcome:
    """The result of one `advance`: the new execution and what to do about it."""

    execution: Execution
    """The new execution."""
    status: InstanceStatus = InstanceStatus.ACTIVE
    """The instance's status afterwards."""
    data: Json = None
    """The workflow data afterwards (the output once completed)."""
    failure: Failure | None = None
    """Set when the instance went to ERROR."""
    failed_state: str | None = None
    """The state that failed."""
    failed_node: str | None = None
    """Node instance id of the failed state."""
    commands: list[Command] = field(default_factory=list)
    """Work for the runtime, in order."""
    trace: list[NodeTrace] = field(default_factory=list)
    """Node events, in order."""
    data_changed: bool = False
    """Whether the workflow data changed (a variable event is due)."""
    ignored: bool = False
    """The activation was stale or a duplicate: nothing changed."""
