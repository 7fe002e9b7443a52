"""Node instances entered and not yet left: the visit of the main thread's state, and each
thread's action in flight (or failed).

The Data Index shows a node instance as running until a node event closes it, so whoever
abandons one — a management intervention that re-runs, moves or cancels work — must close
it. This module only finds them; `interventions` closes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from knflow.engine.execution import Stage, Thread, ThreadStatus
from knflow.workflow.model import Definition

STATE_NODE_TYPE: Final = "CompositeContextNode"
START_NODE_ID: Final = "start"
"""The definition's Start node (the Data Index lists Start, the states, End)."""
END_NODE_ID: Final = "end"
"""The definition's End node."""
OPEN_ACTION: Final = "open_action"
"""The `scratch` key of a thread's action node that was entered and not left."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenNode:
    """A node instance without an exit, with what its node events carry."""

    node: str
    """The node instance id."""
    node_id: str
    """The node's id in the definition."""
    name: str
    """The state or action name."""
    node_type: str
    """The Kogito node type name."""

    def to_json(self) -> dict[str, Any]:
        """Render for storage in the thread's scratch."""
        return {
            "node": self.node,
            "node_id": self.node_id,
            "name": self.name,
            "node_type": self.node_type,
        }


def remember_action(thread: Thread, action: OpenNode) -> None:
    """Record the action node `thread` just entered (until `forget_action`)."""
    thread.scratch[OPEN_ACTION] = action.to_json()


def forget_action(thread: Thread) -> None:
    """The thread's action node was left."""
    thread.scratch.pop(OPEN_ACTION, None)


def open_action(thread: Thread) -> OpenNode | None:
    """Return the action node `thread` entered and did not leave, if any."""
    raw = thread.scratch.get(OPEN_ACTION)
    if not isinstance(raw, dict):
        return None
    return OpenNode(
        node=str(raw["node"]),
        node_id=str(raw["node_id"]),
        name=str(raw["name"]),
        node_type=str(raw["node_type"]),
    )


def open_state(definition: Definition, main: Thread) -> OpenNode | None:
    """Return the visit of the state the main thread is in (running, waiting or failed).

    A thread about to enter its next state (`Stage.ENTER`), an ended one, or one idling with
    no state (`node` None) has none.
    """
    if main.node is None or main.stage is Stage.ENTER:
        return None
    if main.status is ThreadStatus.DONE or main.status is ThreadStatus.CANCELLED:
        return None
    state = definition.state(main.state)
    return OpenNode(
        node=main.node,
        node_id=str(state.index),
        name=state.name,
        node_type=STATE_NODE_TYPE,
    )
