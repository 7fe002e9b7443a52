"""Inject state: merge static data into the state data."""

from __future__ import annotations

from knflow.engine import dataflow
from knflow.engine.context import Run
from knflow.engine.execution import Thread
from knflow.engine.results import Finished, StateResult
from knflow.workflow.model import State


def run_state(run: Run, thread: Thread, state: State) -> StateResult:
    """Merge `data` into the state data (SW 0.8, Inject State)."""
    return Finished(data=dataflow.merge(thread.data, state.data or {}))
