"""The interpreter: start an instance or advance it by one activation, with no I/O.

`start` and `advance` run every runnable thread as far as it goes (pure states and expression
functions inline), and return an `Outcome`: the new execution plus the commands for the runtime.
Entering states, resuming waits, timeouts and retries live here; leaving states (transitions,
ends, compensation, `onErrors`) in `exits`; each state type's behaviour in `engine/states/`;
management interventions (retrigger, skip, trigger a state...) in `interventions`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Final

from knflow.engine import actions, dataflow, retries, timeouts
from knflow.engine.children import cancel_children, child_finished, hand_back_results
from knflow.engine.context import InstanceContext, Run
from knflow.engine.execution import (
    MAIN,
    Execution,
    Stage,
    Thread,
    ThreadStatus,
)
from knflow.engine.exits import (
    fail_instance,
    follow,
    handle_failure,
    terminate,
)
from knflow.engine.expressions import Evaluator
from knflow.engine.open_nodes import STATE_NODE_TYPE
from knflow.engine.outcome import (
    ERROR_MESSAGE_FAILURE,
    Activation,
    CallCompleted,
    Deadline,
    Failure,
    InstanceStatus,
    Outcome,
    RunThread,
    ScheduleThread,
    ScheduleTimer,
)
from knflow.engine.results import BLOCKED, Failed, Finished, StateResult
from knflow.engine.states import foreach, inject, operation, parallel, switch, waits
from knflow.engine.thread_waits import (
    CallWait,
    EventWait,
    TimerWait,
    WaitKind,
    WaitLevel,
)
from knflow.errors import ExpressionError
from knflow.workflow.model import Definition, Json, State, StateType

StateRunner = Callable[[Run, Thread, State], StateResult]

STATE_RUNNERS: Final[dict[StateType, StateRunner]] = {
    StateType.OPERATION: operation.run_state,
    StateType.INJECT: inject.run_state,
    StateType.SWITCH: switch.run_state,
    StateType.FOREACH: foreach.run_state,
    StateType.PARALLEL: parallel.run_state,
    StateType.SLEEP: waits.run_sleep,
    StateType.EVENT: waits.run_event,
    StateType.CALLBACK: waits.run_callback,
}


def start(
    definition: Definition,
    evaluator: Evaluator,
    instance: InstanceContext,
    *,
    data: Json,
    now: Any,
    state: str | None = None,
    variables: Mapping[str, Json] | None = None,
) -> Outcome:
    """Create the execution of a new instance and run it to its first wait.

    `variables` are scope variables a parent hands its subflow (a foreach's iteration
    variable: SonataFlow's subflows see it).
    """
    instance = dataclasses.replace(instance, input=data)  # `$WORKFLOW.input`
    execution = Execution(variables=dict(variables or {}))
    execution.threads[MAIN] = Thread(
        id=MAIN, state=state or definition.start, data=data
    )
    run = _new_run(definition, evaluator, instance, execution, now)
    timeouts.watch_workflow(run, execution.threads[MAIN])
    _drain(run)
    return _finish(run, initial=None)


def advance(
    definition: Definition,
    evaluator: Evaluator,
    instance: InstanceContext,
    execution: Execution,
    activation: Activation,
    *,
    now: Any,
) -> Outcome:
    """Apply `activation` to `execution` and run on; stale or duplicate activations are ignored."""
    # Data is never changed in place (every step assigns a new value): a reference will do.
    initial = execution.main.data if MAIN in execution.threads else None
    run = _new_run(definition, evaluator, instance, execution, now)
    thread = execution.threads.get(activation.thread_id)
    if not _accepts(thread, activation):
        run.outcome.ignored = True
        return _finish(run, initial=initial)
    assert thread is not None  # _accepts checked it
    if isinstance(activation, RunThread) and activation.kept_results is not None:
        hand_back_results(thread, activation.kept_results)
    if isinstance(activation, CallCompleted):
        _resume(run, thread, activation)
    elif isinstance(activation, Deadline):
        _expire(run, thread, activation)
    _drain(run)
    return _finish(run, initial=initial)


def new_run(
    definition: Definition,
    evaluator: Evaluator,
    instance: InstanceContext,
    execution: Execution,
    *,
    now: Any,
) -> Run:
    """Open a run over `execution` for a management intervention (see `interventions`)."""
    return _new_run(definition, evaluator, instance, execution, now)


def run_on(run: Run) -> Outcome:
    """Run every runnable thread of `run` as far as it goes and return the outcome."""
    _drain(run)
    return _finish(run, initial=None)


def _new_run(
    definition: Definition,
    evaluator: Evaluator,
    instance: InstanceContext,
    execution: Execution,
    now: Any,
) -> Run:
    return Run(
        definition=definition,
        evaluator=evaluator,
        instance=instance,
        execution=execution,
        now=now,
        outcome=Outcome(execution=execution),
    )


def _accepts(thread: Thread | None, activation: Activation) -> bool:
    if thread is None:
        return False
    if isinstance(activation, RunThread):
        return thread.status is ThreadStatus.RUNNABLE
    if isinstance(activation, Deadline):
        same_visit = activation.scope != "state" or thread.node == activation.node
        return thread.is_open and same_visit
    return (
        thread.status is ThreadStatus.BLOCKED
        and thread.wait is not None
        and thread.wait.key == activation.key
    )


def _resume(run: Run, thread: Thread, activation: CallCompleted) -> None:
    """Hand a finished call, timer or event to the blocked thread and make it runnable."""
    wait = thread.wait
    thread.seq += 1
    if activation.failure is not None:
        if isinstance(wait, CallWait) and _retry(run, thread, activation.failure):
            return
        thread.wait = None
        thread.status = ThreadStatus.RUNNABLE
        thread.scratch["failure"] = activation.failure.to_json()
        return
    if isinstance(wait, (EventWait, TimerWait)) and wait.level is WaitLevel.STATE:
        result = activation.result
        arrived: dict[str, Any] = (
            result if isinstance(result, dict) else {"kind": WaitKind.TIMER.value}
        )
        if (
            isinstance(wait, EventWait)
            and wait.all
            and arrived.get("kind") == WaitKind.EVENT
        ):
            gathered = _gather(wait, arrived)
            if gathered is None:
                return  # SW 0.8 `exclusive: false`: keep waiting for the other events
            arrived = gathered
        thread.wait = None
        thread.status = ThreadStatus.RUNNABLE
        thread.scratch["arrived"] = arrived
        return
    state = run.definition.state(thread.state)
    failure = actions.complete_wait(
        run, thread, actions.thread_actions(state, thread), state, activation.result
    )
    if failure is not None:
        thread.scratch["failure"] = failure.to_json()


def _expire(run: Run, thread: Thread, deadline: Deadline) -> None:
    """A timeout fired while its scope is still running."""
    thread.seq += 1
    if deadline.scope == "workflow":
        declared = run.definition.timeouts.get("workflowExecTimeout")
        if timeouts.interrupts(declared):
            terminate(run, run.execution.main)
        else:
            run.execution.expiring = True
        return
    cancel_children(run, thread)
    what = (
        f"state '{thread.state}'"
        if deadline.scope == "state"
        else f"branch {thread.index} of state '{thread.state}'"
    )
    failure = Failure(message=f"{what} timed out", kind="TimeoutError")
    thread.wait = None
    if deadline.scope == "branch":
        thread.status = ThreadStatus.FAILED
        thread.error = failure.to_json()
        child_finished(run, thread)
        return
    thread.status = ThreadStatus.RUNNABLE
    thread.scratch["failure"] = failure.to_json()


def _retry(run: Run, thread: Thread, failure: Failure) -> bool:
    """Schedule a retry of the failed action when its policy allows one (SW 0.8 retries)."""
    state = run.definition.state(thread.state)
    action = actions.thread_actions(state, thread)[thread.pc]
    attempts = thread.scratch.setdefault("attempts", {})
    attempt = attempts.get(str(thread.pc), 0) + 1
    seed = f"{run.instance.instance_id}/{thread.id}/{state.name}/{thread.pc}"
    delay = retries.retry_delay(
        run.definition, action, failure, attempt=attempt, seed=seed
    )
    if delay is None:
        return False
    attempts[str(thread.pc)] = attempt
    key = run.new_key(thread)
    due = run.now + delay
    thread.wait = TimerWait(
        key=key, due=due, phase=f"retry:{thread.pc}", failure=failure.to_json()
    )
    thread.status = ThreadStatus.BLOCKED
    run.command(ScheduleTimer(thread_id=thread.id, key=key, due=due))
    return True


def _gather(wait: EventWait, arrived: dict[str, Any]) -> dict[str, Any] | None:
    """Collect events of an all-events wait; return them all once every one arrived."""
    received = {r["ref"]: r for r in wait.received}
    for event in arrived.get("events", []):
        received.setdefault(event["ref"], event)
    wait.received = list(received.values())
    if wait.pending():
        return None
    return {"kind": WaitKind.EVENT.value, "events": list(received.values())}


def _drain(run: Run) -> None:
    """Run runnable threads until none is left, the instance ended, or the step budget is spent."""
    while run.outcome.status is InstanceStatus.ACTIVE:
        runnable = [t for t in run.execution.runnable() if t.id not in run.deferred]
        if not runnable:
            return
        if run.steps_left <= 0:
            for thread in runnable:
                run.command(ScheduleThread(thread_id=thread.id, seq=thread.seq))
            return
        thread = runnable[0]
        if thread.role == MAIN:
            _run_main(run, thread)
        else:
            _run_child(run, thread)


def _run_child(run: Run, thread: Thread) -> None:
    run.steps_left -= 1
    state = run.definition.state(thread.state)
    failure = thread.scratch.pop("failure", None)
    if failure is None:
        outcome = actions.run_actions(
            run, thread, actions.thread_actions(state, thread), state
        )
        if outcome is BLOCKED:
            return
        failure = outcome.to_json() if isinstance(outcome, Failure) else None
    thread.status = ThreadStatus.DONE if failure is None else ThreadStatus.FAILED
    thread.error = failure
    thread.seq += 1
    child_finished(run, thread)


def _run_main(run: Run, thread: Thread) -> None:
    while (
        thread.status is ThreadStatus.RUNNABLE
        and run.outcome.status is InstanceStatus.ACTIVE
    ):
        run.steps_left -= 1
        if run.steps_left <= 0:
            return  # `_drain` hands every runnable thread over with a step event
        state = run.definition.state(thread.state)
        result = _step_state(run, thread, state)
        if result is BLOCKED:
            return
        try:
            if isinstance(result, Failed):
                handle_failure(run, thread, state, result.failure)
            elif isinstance(result, Finished):
                _exit(run, thread, state, result)
        except ExpressionError as error:
            # Leaving the state failed (produceEvents data, continueAs data): no onErrors
            # applies any more, since the state itself completed or already failed.
            fail_instance(
                run, thread, state, Failure(message=str(error), kind="ExpressionError")
            )


def _step_state(run: Run, thread: Thread, state: State) -> StateResult:
    failure = thread.scratch.pop("failure", None)
    if failure is not None:
        return Failed(failure=Failure.from_json(failure))
    try:
        if thread.stage is Stage.ENTER:
            _enter(run, thread, state)
        return STATE_RUNNERS[state.type](run, thread, state)
    except ExpressionError as error:
        return Failed(failure=Failure(message=str(error), kind="ExpressionError"))


def _enter(run: Run, thread: Thread, state: State) -> None:
    thread.node = run.new_node()
    thread.pc = 0
    thread.last_result = None
    thread.scratch = {"input": thread.data}
    run.trace(
        "enter",
        node=thread.node,
        node_id=str(state.index),
        name=state.name,
        node_type=STATE_NODE_TYPE,
    )
    if state.state_data_filter is not None:  # most states have none: no scope to build
        thread.data = dataflow.filter_state_input(
            run.evaluator, state.state_data_filter, thread.data, run.scope(thread)
        )
    thread.stage = Stage.RUN
    timeouts.watch_state(run, thread, state)


def _exit(run: Run, thread: Thread, state: State, finished: Finished) -> None:
    try:
        data = finished.data
        if state.state_data_filter is not None:
            data = dataflow.filter_state_output(
                run.evaluator, state.state_data_filter, data, run.scope(thread)
            )
        message = _error_message(run, thread, state, data)
    except ExpressionError as error:
        handle_failure(
            run, thread, state, Failure(message=str(error), kind="ExpressionError")
        )
        return
    if message is not None:
        thread.data = data
        fail_instance(
            run, thread, state, Failure(message=message, kind=ERROR_MESSAGE_FAILURE)
        )
        return
    run.trace(
        "exit",
        node=thread.node or "",
        node_id=str(state.index),
        name=state.name,
        node_type=STATE_NODE_TYPE,
    )
    if state.compensated_by and run.execution.compensating is None:
        run.execution.completed.append(state.name)
    thread.data = data
    if finished.transition is not None or finished.end is not None:
        follow(run, thread, state, finished.transition, finished.end)
    else:
        follow(run, thread, state, state.transition, state.end)


def _error_message(run: Run, thread: Thread, state: State, data: Json) -> str | None:
    """SonataFlow's `metadata.errorMessage`: a non-empty value puts the instance in ERROR."""
    expression = state.metadata.get("errorMessage")
    if not expression:
        return None
    value = run.evaluator.evaluate(str(expression), data, run.scope(thread))
    return None if value in (None, "", False) else str(value)


def _finish(run: Run, *, initial: Json) -> Outcome:
    outcome = run.outcome
    main = run.execution.threads.get(MAIN)
    if main is not None:
        outcome.data = main.data
        outcome.data_changed = main.data != initial
    return outcome
