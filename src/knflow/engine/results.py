"""What running a state yields: finished (with its data and maybe a chosen exit), failed, or blocked."""

from __future__ import annotations

from dataclasses import dataclass

from knflow.engine.actions import BLOCKED, Blocked
from knflow.engine.outcome import Failure
from knflow.workflow.model import End, Json, Transition

__all__ = ["BLOCKED", "Blocked", "Failed", "Finished", "StateResult"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Finished:
    """The state is done; `data` is its data before the output filter."""

    data: Json
    """State data."""
    transition: Transition | None = None
    """An exit chosen by the state (switch conditions), overriding the state's own."""
    end: End | None = None
    """Or an end chosen by the state."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Failed:
    """The state failed; `onErrors` decides what happens."""

    failure: Failure
    """Why."""


StateResult = Finished | Failed | Blocked
