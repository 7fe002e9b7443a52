"""`Run`: everything one `advance` call works with — definition, execution, clock, outputs.

States and actions receive a `Run` and record their effects on it (commands, node traces, data
changes); the interpreter turns it into an `Outcome` at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from knflow import uuids
from knflow.engine.execution import Execution, Thread
from knflow.engine.expressions import Evaluator, Scope
from knflow.engine.outcome import Command, NodeTrace, Outcome, ScheduleThread
from knflow.workflow.model import Definition, Json

NODE_NAMESPACE: Final = uuid.UUID("8f7e0b6c-4f0e-4c8a-9d55-0c6b1f3a2e10")
ANONYMOUS: Final = "anonymous"
"""`$WORKFLOW.identity` of an instance started without authentication (as SonataFlow)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceContext:
    """Instance facts visible to expressions (`$WORKFLOW`, `$CONST`, `$SECRET`)."""

    instance_id: str
    """The instance's id."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Headers of the request that started it (`$WORKFLOW.headers`)."""
    secrets: Mapping[str, str] = field(default_factory=dict)
    """`$SECRET` values."""
    identity: str = ANONYMOUS
    """Who started the instance (`$WORKFLOW.identity`), when the runtime recorded it."""
    input: Json = None
    """The input the instance started with (`$WORKFLOW.input`)."""


@dataclass(slots=True, kw_only=True)
class Run:
    """The working context of one `advance` call."""

    definition: Definition
    """The pinned definition."""
    evaluator: Evaluator
    """Its expression evaluator (compiled programs cached)."""
    instance: InstanceContext
    """Instance facts."""
    execution: Execution
    """The working execution."""
    now: datetime
    """The time of this advance (aware UTC)."""
    outcome: Outcome
    """What is being produced."""
    steps_left: int = 10_000
    """Guard against a definition that loops forever without waiting."""
    deferred: set[str] = field(default_factory=set)
    """Runnable threads handed to a step of their own (`defer`); this run leaves them."""

    def scope(self, thread: Thread) -> Scope:
        """Return what expressions see in `thread` besides its data."""
        workflow: dict[str, Any] = {
            "id": self.definition.workflow_id,
            "name": self.definition.name,
            "version": self.definition.version,
            "instanceId": self.instance.instance_id,
            "headers": dict(self.instance.headers),
            "prevActionResult": thread.last_result,
            "input": self.instance.input,
            "identity": self.instance.identity,
        }
        param = thread.scratch.get("param")
        found: dict[str, Json] = dict(self.execution.variables)
        if param:
            found[param] = thread.scratch.get("item")
        return Scope(
            workflow=workflow,
            constants=self.definition.constants,
            secrets=self.instance.secrets,
            variables=found,
        )

    def defer(self, thread: Thread) -> None:
        """Leave a runnable thread to a step of its own (a step event), not this run."""
        self.deferred.add(thread.id)
        self.command(ScheduleThread(thread_id=thread.id, seq=thread.seq))

    def command(self, command: Command) -> None:
        """Ask the runtime to do something after commit."""
        self.outcome.commands.append(command)

    def new_node(self) -> str:
        """Return a fresh node instance id (deterministic: instance id and a counter)."""
        number = self.execution.next_number()
        return uuids.name_based(NODE_NAMESPACE, f"{self.instance.instance_id}/{number}")

    def new_key(self, thread: Thread) -> str:
        """Return a fresh wait key for `thread`, unique within the instance."""
        return f"{thread.id}@{self.execution.next_number()}"

    def trace(
        self,
        event: str,
        *,
        node: str,
        node_id: str,
        name: str,
        node_type: str,
        message: str | None = None,
    ) -> None:
        """Record a node event (enter, exit, error)."""
        self.outcome.trace.append(
            NodeTrace(
                event=event,
                node_instance_id=node,
                node_id=node_id,
                name=name,
                node_type=node_type,
                at=self.now,
                message=message,
            )
        )
