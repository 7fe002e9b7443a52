"""States that wait for time or events: sleep, event, callback and event-based switch.

A state-level wait is recorded on the thread with `level: "state"`; when the timer fires or an
awaited event arrives, the interpreter stores it in `scratch["arrived"]` and runs the state again.
Awaited events are matched by the runtime (subscriptions in PostgreSQL); the engine only names
them: `{ref, type, source}` per awaited event.
"""

from __future__ import annotations

from typing import Any, Final

from knflow.engine import dataflow, failures
from knflow.engine.actions import block, run_actions, thread_actions
from knflow.engine.context import Run
from knflow.engine.execution import Thread
from knflow.engine.outcome import Failure, ScheduleTimer
from knflow.engine.results import BLOCKED, Failed, Finished, StateResult
from knflow.engine.states import operation
from knflow.engine.thread_waits import (
    AwaitedEvent,
    EventWait,
    TimerWait,
    WaitKind,
    WaitLevel,
)
from knflow.workflow.model import State
from knflow.workflow.parsing import parse_duration

TIMED_OUT: Final = "TimedOut"
"""Failure kind of an expired `eventTimeout` (SonataFlow's error code for it)."""


def run_sleep(run: Run, thread: Thread, state: State) -> StateResult:
    """Sleep state: wait `duration`, then finish with the data unchanged."""
    arrived = thread.scratch.pop("arrived", None)
    if arrived is not None:
        return Finished(data=thread.data)
    if state.duration is None:
        return Finished(data=thread.data)
    key = run.new_key(thread)
    due = run.now + state.duration
    block(thread, TimerWait(key=key, due=due, level=WaitLevel.STATE))
    run.command(ScheduleTimer(thread_id=thread.id, key=key, due=due))
    return BLOCKED


def run_callback(run: Run, thread: Thread, state: State) -> StateResult:
    """Callback state: run the action, then wait for the callback event (or its timeout)."""
    arrived = thread.scratch.pop("arrived", None)
    if arrived is not None:
        return _after_event(run, thread, state, arrived)
    if state.action is not None and thread.pc < 1:
        outcome = run_actions(run, thread, (state.action,), state)
        if outcome is BLOCKED:
            return BLOCKED
        if isinstance(outcome, Failure):
            return Failed(failure=outcome)
    return _await(run, thread, state, [state.event_ref or ""], exclusive=True)


def run_event(run: Run, thread: Thread, state: State) -> StateResult:
    """Event state: wait for its events (any, or all with `exclusive: false`), then run actions."""
    arrived = thread.scratch.pop("arrived", None)
    if arrived is not None and arrived.get("kind") == WaitKind.TIMER:
        return _on_event_timeout(run, thread, state)
    if arrived is not None:
        thread.scratch["matched"] = arrived.get("events", [])
        for received in arrived.get("events", []):
            on_events = _on_events_for(state, received["ref"])
            filter_ = on_events.event_data_filter if on_events else None
            thread.data = dataflow.merge_event_data(
                run.evaluator,
                filter_,
                thread.data,
                received["payload"],
                run.scope(thread),
            )
        thread.pc = 0
    if "matched" in thread.scratch:
        return _run_matched_actions(run, thread, state)
    refs = [ref for on_events in state.on_events for ref in on_events.event_refs]
    return _await(run, thread, state, refs, exclusive=state.exclusive)


def run_event_switch(run: Run, thread: Thread, state: State) -> StateResult:
    """Event switch: the first awaited event decides; on `eventTimeout` the default applies."""
    arrived = thread.scratch.pop("arrived", None)
    if arrived is None:
        refs = [c.event_ref or "" for c in state.event_conditions]
        return _await(run, thread, state, refs, exclusive=True)
    default = state.default_condition
    if arrived.get("kind") == WaitKind.TIMER:
        if default is None:
            return Failed(
                failure=Failure(
                    message=f"no event arrived in switch state '{state.name}'",
                    kind="TimeoutError",
                )
            )
        return Finished(
            data=thread.data, transition=default.transition, end=default.end
        )
    received = arrived["events"][0]
    condition = next(
        c for c in state.event_conditions if c.event_ref == received["ref"]
    )
    data = dataflow.merge_event_data(
        run.evaluator,
        condition.event_data_filter,
        thread.data,
        received["payload"],
        run.scope(thread),
    )
    return Finished(data=data, transition=condition.transition, end=condition.end)


def _run_matched_actions(run: Run, thread: Thread, state: State) -> StateResult:
    actions = thread_actions(state, thread)
    if _in_parallel(state, thread) and len(actions) > 1:
        result = operation.run_in_parallel(run, thread, state, actions)
        if isinstance(result, Finished):
            thread.scratch.pop("matched", None)
        return result
    outcome = run_actions(run, thread, actions, state)
    if outcome is BLOCKED:
        return BLOCKED
    if isinstance(outcome, Failure):
        return Failed(failure=outcome)
    thread.scratch.pop("matched", None)
    return Finished(data=thread.data)


def _in_parallel(state: State, thread: Thread) -> bool:
    """Whether the arrived events' `onEvents` ask for `actionMode: parallel`."""
    refs = {received["ref"] for received in thread.scratch.get("matched", ())}
    return any(
        o.action_mode == "parallel" for o in state.on_events if refs & set(o.event_refs)
    )


def _on_event_timeout(run: Run, thread: Thread, state: State) -> StateResult:
    """SW 0.8: when `eventTimeout` expires, the state moves on without the event.

    SonataFlow raises a `TimedOut` error instead when an `onErrors` entry catches it, so a
    workflow can handle the timeout on its own path.
    """
    failure = Failure(
        message=f"no event arrived in state '{state.name}' before its eventTimeout",
        kind=TIMED_OUT,
    )
    if failures.find_handler(run.definition, state, failure) is not None:
        return Failed(failure=failure)
    return Finished(data=thread.data)


def _after_event(
    run: Run,
    thread: Thread,
    state: State,
    arrived: dict[str, Any],
) -> StateResult:
    if arrived.get("kind") == WaitKind.TIMER:
        return _on_event_timeout(run, thread, state)
    event_filter = state.event_data_filter
    payload = arrived["events"][0]["payload"]
    return Finished(
        data=dataflow.merge_event_data(
            run.evaluator, event_filter, thread.data, payload, run.scope(thread)
        )
    )


def _await(
    run: Run, thread: Thread, state: State, refs: list[str], *, exclusive: bool
) -> StateResult:
    key = run.new_key(thread)
    awaited = []
    for ref in refs:
        event_def = run.definition.events.get(ref)
        awaited.append(
            AwaitedEvent(
                ref=ref,
                type=event_def.type if event_def else ref,
                source=event_def.source if event_def else None,
            )
        )
    wait = EventWait(key=key, level=WaitLevel.STATE, events=awaited, all=not exclusive)
    timeout = state.timeouts.get("eventTimeout") or run.definition.timeouts.get(
        "eventTimeout"
    )
    if timeout:
        due = run.now + parse_duration(str(timeout))
        wait.due = due
        run.command(ScheduleTimer(thread_id=thread.id, key=key, due=due))
    block(thread, wait)
    return BLOCKED


def _on_events_for(state: State, ref: str) -> Any:
    return next((o for o in state.on_events if ref in o.event_refs), None)
