"""How the main thread leaves a state: transitions, ends, compensation, errors, termination.

SW 0.8: a transition may produce events and compensate first; an end may terminate, produce
events, compensate and continue as a new instance; `onErrors` picks a transition or an end;
`keepActive` keeps an instance alive past its ends; `workflowExecTimeout` terminates it,
running `runBefore` first.
"""

from __future__ import annotations

from typing import Any, Final

from knflow.engine import emitting, failures, timeouts
from knflow.engine.children import cancel_children
from knflow.engine.context import Run
from knflow.engine.execution import MAIN, Stage, Thread, ThreadStatus
from knflow.engine.open_nodes import STATE_NODE_TYPE
from knflow.engine.outcome import ContinueAs, Failure, InstanceStatus
from knflow.engine.thread_waits import EventWait, WaitLevel
from knflow.workflow.model import End, Json, State, StateType, Transition

OUTPUT_KIND: Final = "OutputValidation"
"""Failure kind of an output that violates `workflow-output-schema` (a 400 at the REST API)."""


def terminate(run: Run, main: Thread) -> None:
    """End the instance for `workflowExecTimeout`, running `runBefore` first if there is one."""
    run.execution.timed_out = True
    run.execution.expiring = False
    run.execution.compensating = None
    cancel_children(run, main)
    main.wait = None
    before = timeouts.run_before(run.definition.timeouts.get("workflowExecTimeout"))
    if before is None:
        _end(run, main, {"end": True})
        return
    main.status = ThreadStatus.RUNNABLE
    goto(main, before)


def follow(
    run: Run,
    thread: Thread,
    state: State,
    transition: Transition | None,
    end: End | None,
) -> None:
    if run.execution.expiring:
        terminate(run, thread)  # `interrupt: false`: the current state was let finish
        return
    if run.execution.timed_out:
        _end(run, thread, {"end": True})  # `runBefore` ran: the instance ends here
        return
    if run.execution.compensating is not None:
        _continue_compensation(run, thread, transition)
        return
    after: dict[str, Any]
    if transition is not None:
        after = {
            "next_state": transition.next_state,
            "produce_events": list(transition.produce_events),
        }
        if transition.compensate:
            _start_compensation(run, thread, after)
            return
        _produce_events(run, thread, transition.produce_events)
        goto(thread, transition.next_state)
        return
    end = end or End()
    after = {
        "end": True,
        "terminate": end.terminate,
        "produce_events": list(end.produce_events),
        "continue_as": end.continue_as,
    }
    if end.compensate:
        _start_compensation(run, thread, after)
        return
    violation = _output_violation(run, thread, after)
    if violation is not None:
        fail_instance(run, thread, state, Failure(message=violation, kind=OUTPUT_KIND))
        return
    _end(run, thread, after)


def _output_violation(run: Run, thread: Thread, after: dict[str, Any]) -> str | None:
    """Check the output of an ending instance against `workflow-output-schema`.

    SonataFlow refuses such an output (its caller gets a 400); the instance fails here with
    the schema's first complaint.
    """
    schema = run.definition.output_schema
    if schema is None or thread.id != MAIN or _stays_active(run, after):
        return None
    # Imported here: few workflows declare an output schema, and every function start
    # pays for its imports.
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(thread.data), key=lambda e: e.json_path)
    if not errors:
        return None
    first = errors[0]
    return f"workflow output is invalid at {first.json_path}: {first.message}"


def goto(thread: Thread, state_name: str) -> None:
    thread.state = state_name
    thread.stage = Stage.ENTER
    thread.seq += 1


def compensate_then_abort(run: Run, main: Thread) -> None:
    """Compensate the completed states, then end the instance ABORTED (SonataFlow's abort)."""
    _start_compensation(run, main, {"end": True, "terminate": True, "aborted": True})


def _start_compensation(run: Run, thread: Thread, after: dict[str, Any]) -> None:
    """SW 0.8 compensation: compensate completed states in reverse order, then go on."""
    queue = [
        run.definition.state(name).compensated_by
        for name in reversed(run.execution.completed)
    ]
    run.execution.completed = []
    run.execution.compensating = {"queue": [q for q in queue if q], "after": after}
    _continue_compensation(run, thread, None)


def _continue_compensation(
    run: Run, thread: Thread, transition: Transition | None
) -> None:
    compensating = run.execution.compensating or {"queue": [], "after": {"end": True}}
    if transition is not None:
        goto(thread, transition.next_state)
        return
    if compensating["queue"]:
        goto(thread, compensating["queue"].pop(0))
        return
    run.execution.compensating = None
    after = compensating["after"]
    if after.get("end"):
        _end(run, thread, after)
        return
    _produce_events(run, thread, after.get("produce_events") or ())
    goto(thread, after["next_state"])


def _end(run: Run, thread: Thread, after: dict[str, Any]) -> None:
    _produce_events(run, thread, after.get("produce_events") or ())
    if _stays_active(run, after):
        _rest(run, thread)
        return
    thread.status = ThreadStatus.DONE
    thread.wait = None
    thread.seq += 1
    cancel_children(run, thread)
    for other in run.execution.threads.values():
        if other.is_open:
            other.status = ThreadStatus.CANCELLED
    timed_out = run.execution.timed_out
    aborted = (timed_out and not run.definition.keep_active) or bool(
        after.get("aborted")
    )
    run.outcome.status = InstanceStatus.ABORTED if aborted else InstanceStatus.COMPLETED
    continue_as = after.get("continue_as")
    if continue_as:
        run.command(_continue_as(run, thread, continue_as))


def _stays_active(run: Run, after: dict[str, Any]) -> bool:
    """SW 0.8 `keepActive`: only `terminate` or `workflowExecTimeout` end the instance."""
    return (
        run.definition.keep_active
        and not after.get("terminate")
        and not after.get("continue_as")  # SW 0.8: continueAs implies terminate
        and not run.execution.timed_out
    )


def _rest(run: Run, main: Thread) -> None:
    """Keep a `keepActive` instance alive: back to an event start state, or idle."""
    cancel_children(run, main)
    start = run.definition.state(run.definition.start)
    if start.type is StateType.EVENT:
        main.status = ThreadStatus.RUNNABLE
        main.wait = None
        goto(main, start.name)
        return
    main.status = ThreadStatus.BLOCKED
    main.wait = EventWait(key=run.new_key(main), level=WaitLevel.STATE)
    main.node = None  # no state is in progress while idling
    main.seq += 1


def _continue_as(run: Run, thread: Thread, raw: Json) -> ContinueAs:
    if isinstance(raw, str):
        return ContinueAs(workflow_id=raw, version=None, data=thread.data)
    return ContinueAs(
        workflow_id=raw["workflowId"],
        version=raw.get("version"),
        data=emitting.evaluate_data(run, thread, raw.get("data"), thread.data),
    )


def _produce_events(run: Run, thread: Thread, produce_events: Any) -> None:
    for produced in produce_events:
        data = emitting.evaluate_data(run, thread, produced.get("data"), thread.data)
        emitting.emit(
            run,
            thread,
            produced["eventRef"],
            data=data,
            attributes=produced.get("contextAttributes"),
            source=thread.data,
        )


def handle_failure(run: Run, thread: Thread, state: State, failure: Failure) -> None:
    handler = failures.find_handler(run.definition, state, failure)
    if handler is None:
        fail_instance(run, thread, state, failure)
        return
    run.trace(
        "exit",
        node=thread.node or "",
        node_id=str(state.index),
        name=state.name,
        node_type=STATE_NODE_TYPE,
    )
    thread.status = ThreadStatus.RUNNABLE
    thread.wait = None
    follow(run, thread, state, handler.transition, handler.end)


def fail_instance(run: Run, thread: Thread, state: State, failure: Failure) -> None:
    run.trace(
        "error",
        node=thread.node or "",
        node_id=str(state.index),
        name=state.name,
        node_type=STATE_NODE_TYPE,
        message=failure.message,
    )
    cancel_children(run, thread)
    thread.status = ThreadStatus.FAILED
    thread.error = failure.to_json()
    thread.seq += 1
    run.outcome.status = InstanceStatus.ERROR
    run.outcome.failure = failure
    run.outcome.failed_state = state.name
    run.outcome.failed_node = thread.node
