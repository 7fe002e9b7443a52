"""Running a list of actions on a thread: pure ones inline, side-effecting ones as commands.

An action that calls a service, starts a subflow or sleeps blocks the thread; its wait record is
the checkpoint. When the result arrives (`complete_wait`), the result is merged and the list goes
on from the next action.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Final

from knflow.engine import dataflow, emitting, timeouts
from knflow.engine.context import Run
from knflow.engine.execution import MAIN, Thread, ThreadStatus
from knflow.engine.open_nodes import OpenNode, forget_action, remember_action
from knflow.engine.outcome import (
    CallFunction,
    EmitEvent,
    Failure,
    RequestNotification,
    ScheduleTimer,
    StartSubflow,
)
from knflow.engine.thread_waits import (
    AwaitedEvent,
    CallWait,
    EventWait,
    SubflowWait,
    TimerWait,
    Wait,
    WaitKind,
    WaitLevel,
)
from knflow.errors import ExpressionError
from knflow.workflow.model import Action, AsyncAction, AsyncOperation, Json, State
from knflow.workflow.parsing import parse_duration

NOTIFY_OPERATION: Final = "notify"
ACTION_NODE_TYPE: Final = "ActionNode"
SUBFLOW_NODE_TYPE: Final = "SubProcessNode"


class Blocked:
    """The thread waits for a call, subflow, timer or event."""


BLOCKED: Final = Blocked()
ActionsResult = Blocked | Failure | None
"""`None`: every action ran; `BLOCKED`; or the failure that stopped the list."""


def run_actions(
    run: Run, thread: Thread, actions: Sequence[Action], state: State
) -> ActionsResult:
    """Run `actions[thread.pc:]` until one blocks or fails, or all are done."""
    while thread.pc < len(actions):
        action = actions[thread.pc]
        try:
            result = _run_action(run, thread, action, state)
        except ExpressionError as error:
            return Failure(message=str(error), kind="ExpressionError")
        if result is not None:
            return result
    return None


def thread_actions(state: State, thread: Thread) -> tuple[Action, ...]:
    """Return the action list a thread works through in `state`."""
    if thread.role == "branch":
        return state.branches[thread.index].actions
    if thread.role == "action":
        return (listed_actions(state, thread)[thread.index],)
    if state.action is not None:
        return (state.action,)
    return listed_actions(state, thread)


def listed_actions(state: State, thread: Thread) -> tuple[Action, ...]:
    """Return the state's actions: an event state's are those of the events that arrived."""
    if not state.on_events:
        return state.actions
    refs = {received["ref"] for received in thread.scratch.get("matched", ())}
    return tuple(
        a
        for on_events in state.on_events
        if refs & set(on_events.event_refs)
        for a in on_events.actions
    )


def complete_wait(
    run: Run, thread: Thread, actions: Sequence[Action], state: State, result: Json
) -> Failure | None:
    """Merge the result of the call the thread waited for, and move past that action."""
    wait = thread.wait
    thread.wait = None
    thread.status = ThreadStatus.RUNNABLE
    if isinstance(wait, TimerWait):
        thread.scratch["slept"] = wait.phase
        if (wait.phase or "").startswith("after:"):
            thread.scratch.pop("slept", None)
            thread.pc += 1
        return None
    action = actions[thread.pc]
    if isinstance(wait, EventWait):
        if not isinstance(result, dict) or result.get("kind") != WaitKind.EVENT:
            name = _action_name(action, thread)
            return Failure(
                message=f"the result event of action '{name}' did not arrive in time",
                kind="TimeoutError",
            )
        result = result["events"][0]["payload"]
    try:
        _apply_result(run, thread, action, result)
    except ExpressionError as error:
        return Failure(message=str(error), kind="ExpressionError")
    run.trace(
        "exit",
        node=_wait_node(wait),
        node_id=_node_id(state, thread),
        name=_action_name(action, thread),
        node_type=SUBFLOW_NODE_TYPE if action.sub_flow_ref else ACTION_NODE_TYPE,
    )
    forget_action(thread)
    _finish_action(run, thread, action)  # may block the thread again (`sleep.after`)
    return None


def _run_action(
    run: Run, thread: Thread, action: Action, state: State
) -> Blocked | Failure | None:
    scope = run.scope(thread)
    if action.condition and not run.evaluator.is_true(
        action.condition, thread.data, scope
    ):
        thread.pc += 1
        return None
    if action.sleep_before and thread.scratch.get("slept") != f"before:{thread.pc}":
        return _sleep(run, thread, action.sleep_before, f"before:{thread.pc}")
    # Until it is left, the action's node is the thread's open action: a failure keeps it
    # open, and a management intervention that abandons it closes it (`open_nodes`).
    opened = OpenNode(
        node=run.new_node(),
        node_id=_node_id(state, thread),
        name=_action_name(action, thread),
        node_type=SUBFLOW_NODE_TYPE if action.sub_flow_ref else ACTION_NODE_TYPE,
    )
    _trace(run, "enter", opened)
    remember_action(thread, opened)
    action_input = dataflow.action_input(
        run.evaluator, action.action_data_filter, thread.data, scope
    )
    node = opened.node
    if action.function_ref is not None:
        outcome = _call_function(run, thread, action, action_input, node, state)
    elif action.sub_flow_ref is not None:
        outcome = _start_subflow(run, thread, action, action_input, node)
    else:
        outcome = _produce_event(
            run, thread, action, action_input, state=state, node=node
        )
    if outcome is BLOCKED:
        return BLOCKED
    _trace(run, "exit", opened)
    forget_action(thread)
    return _finish_action(run, thread, action)


def _trace(run: Run, event: str, node: OpenNode) -> None:
    run.trace(
        event,
        node=node.node,
        node_id=node.node_id,
        name=node.name,
        node_type=node.node_type,
    )


def _finish_action(run: Run, thread: Thread, action: Action) -> Blocked | None:
    """After an action: sleep `after` if asked, else move to the next action."""
    thread.scratch.pop("slept", None)
    if action.sleep_after:
        return _sleep(run, thread, action.sleep_after, f"after:{thread.pc}")
    thread.pc += 1
    return None


def _call_function(
    run: Run,
    thread: Thread,
    action: Action,
    action_input: Json,
    node: str,
    state: State,
) -> Blocked | None:
    ref = action.function_ref
    assert ref is not None  # checked by the caller
    function_def = run.definition.functions[ref.ref_name]
    scope = run.scope(thread)
    if function_def.type == "expression":
        result = run.evaluator.evaluate(function_def.operation, action_input, scope)
        _apply_result(run, thread, action, result)
        return None
    arguments = _arguments(run, ref.arguments, action_input, thread)
    channel = run.definition.async_operations.get(ref.ref_name)
    if function_def.type == "asyncapi" and channel is not None:
        return _use_channel(run, thread, channel, arguments, state=state, node=node)
    if function_def.type == "custom" and function_def.operation == NOTIFY_OPERATION:
        run.command(RequestNotification(key=run.new_key(thread), body=arguments))
        return None
    key = run.new_key(thread)
    limit = timeouts.action_limit(run, thread, state)
    call = CallFunction(
        thread_id=thread.id,
        key=key,
        function_name=ref.ref_name,
        arguments=arguments,
        asynchronous=ref.invoke == "async",
        timeout=limit,
    )
    run.command(call)
    if call.asynchronous:
        return None
    block(
        thread,
        CallWait(
            key=key,
            function=ref.ref_name,
            arguments=arguments,
            node=node,
            timeout=limit,
        ),
    )
    return BLOCKED


def _start_subflow(
    run: Run, thread: Thread, action: Action, action_input: Json, node: str
) -> Blocked | None:
    ref = action.sub_flow_ref
    assert ref is not None  # checked by the caller
    key = run.new_key(thread)
    wait = ref.invoke != "async"
    run.command(
        StartSubflow(
            thread_id=thread.id,
            key=key,
            workflow_id=ref.workflow_id,
            version=ref.version,
            data=action_input,
            wait=wait,
            terminate_with_parent=ref.on_parent_complete == "terminate",
            variables=run.scope(thread).variables,
        )
    )
    if not wait:
        return None
    block(thread, SubflowWait(key=key, workflow=ref.workflow_id, node=node))
    return BLOCKED


def _produce_event(
    run: Run,
    thread: Thread,
    action: Action,
    action_input: Json,
    *,
    state: State,
    node: str,
) -> Blocked | None:
    """`eventRef`: emit the trigger event, then await `resultEventRef` (SonataFlow ignored it).

    The result event's payload is the action's result; when `resultEventTimeout` (else
    `actionExecTimeout`) passes first, the action fails with a `TimeoutError` that `onErrors`
    can handle (SW 0.8, Action Definition).
    """
    ref: dict[str, Any] = dict(action.event_ref or {})
    data = emitting.evaluate_data(run, thread, ref.get("data"), action_input)
    emitting.emit(
        run,
        thread,
        ref["triggerEventRef"],
        data=data,
        attributes=ref.get("contextAttributes"),
        source=action_input,
    )
    result_ref = ref.get("resultEventRef")
    if not result_ref or ref.get("invoke") == "async":
        return None
    return _await_result_event(
        run,
        thread,
        result_ref,
        state=state,
        node=node,
        timeout=ref.get("resultEventTimeout"),
    )


def _use_channel(
    run: Run,
    thread: Thread,
    channel: AsyncOperation,
    arguments: Json,
    *,
    state: State,
    node: str,
) -> Blocked | None:
    """An `asyncapi` function: publish its arguments, or wait for a message (SonataFlow).

    The CloudEvent type is the channel's address; a received message's data is the
    action's result.
    """
    if channel.action is AsyncAction.SEND:
        run.command(
            EmitEvent(
                key=run.new_key(thread),
                type=channel.channel,
                source=None,
                data=arguments if arguments is not None else thread.data,
            )
        )
        return None
    awaited = AwaitedEvent(ref=channel.channel, type=channel.channel, source=None)
    return _await_event(run, thread, awaited, state=state, node=node, timeout=None)


def _await_result_event(
    run: Run, thread: Thread, ref: str, *, state: State, node: str, timeout: Json
) -> Blocked:
    result_def = run.definition.events.get(ref)
    awaited = AwaitedEvent(
        ref=ref,
        type=result_def.type if result_def else ref,
        source=result_def.source if result_def else None,
    )
    return _await_event(run, thread, awaited, state=state, node=node, timeout=timeout)


def _await_event(
    run: Run,
    thread: Thread,
    awaited: AwaitedEvent,
    *,
    state: State,
    node: str,
    timeout: Json,
) -> Blocked:
    key = run.new_key(thread)
    wait = EventWait(key=key, level=WaitLevel.ACTION, node=node, events=[awaited])
    limit = (
        parse_duration(str(timeout))
        if timeout
        else timeouts.action_limit(run, thread, state)
    )
    if limit is not None:
        due = run.now + limit
        wait.due = due
        run.command(ScheduleTimer(thread_id=thread.id, key=key, due=due))
    block(thread, wait)
    return BLOCKED


def _apply_result(run: Run, thread: Thread, action: Action, result: Json) -> None:
    scope = run.scope(thread)
    if thread.role != MAIN:  # parents replay their children's results; main needs none
        thread.contributions.append([thread.pc, result])
    thread.last_result = dataflow.filter_action_result(
        run.evaluator, action.action_data_filter, result, scope
    )
    thread.data = dataflow.merge_action_result(
        run.evaluator, action.action_data_filter, thread.data, result, scope
    )


def _arguments(run: Run, arguments: Json, action_input: Json, thread: Thread) -> Json:
    if arguments is None:
        return action_input
    return run.evaluator.resolve(arguments, action_input, run.scope(thread))


def _sleep(run: Run, thread: Thread, duration: timedelta, phase: str) -> Blocked:
    key = run.new_key(thread)
    due = run.now + duration
    block(thread, TimerWait(key=key, due=due, phase=phase))
    run.command(ScheduleTimer(thread_id=thread.id, key=key, due=due))
    return BLOCKED


def block(thread: Thread, wait: Wait) -> None:
    """Block `thread` on `wait` (its checkpoint)."""
    thread.wait = wait
    thread.status = ThreadStatus.BLOCKED


def _action_name(action: Action, thread: Thread) -> str:
    if action.name:
        return action.name
    if action.function_ref:
        return action.function_ref.ref_name
    if action.sub_flow_ref:
        return action.sub_flow_ref.workflow_id
    return f"action{thread.pc}"


def _node_id(state: State | None, thread: Thread) -> str:
    base = str(state.index) if state is not None else "?"
    return f"{base}:{thread.role}{thread.index}:{thread.pc}"


def _wait_node(wait: Wait | None) -> str:
    """The node instance id of the action a call, subflow or result event belonged to."""
    if isinstance(wait, (CallWait, SubflowWait)):
        return wait.node
    if isinstance(wait, EventWait):
        return wait.node or ""
    return ""
