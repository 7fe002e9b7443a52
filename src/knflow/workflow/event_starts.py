"""Which events start a workflow: those its start state, an event state, waits for.

SW 0.8: a workflow whose start state is an event state is started by any of the events its
`onEvents` refer to. Read from the raw document, so `knflow deploy` and the development
broker can tell without parsing the whole definition. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def start_events(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return `(name, type)` of each event the definition's start state waits for, in order."""
    state = _start_state(document)
    if state is None or state.get("type") != "event":
        return []
    events = {
        str(e.get("name")): str(e.get("type"))
        for e in document.get("events") or ()
        if isinstance(e, Mapping) and e.get("name") and e.get("type")
    }
    refs = [
        str(ref)
        for on_events in state.get("onEvents") or ()
        if isinstance(on_events, Mapping)
        for ref in on_events.get("eventRefs") or ()
    ]
    return [(ref, events[ref]) for ref in dict.fromkeys(refs) if ref in events]


def _start_state(document: Mapping[str, Any]) -> Mapping[str, Any] | None:
    start = document.get("start")
    if isinstance(start, Mapping):
        start = start.get("stateName")
    states = document.get("states")
    return next(
        (
            state
            for state in (states if isinstance(states, list) else ())
            if isinstance(state, Mapping) and state.get("name") == start
        ),
        None,
    )
