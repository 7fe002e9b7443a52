"""Management interventions on an execution: retrigger, skip, trigger a state, retrigger or
cancel a node instance, replace the workflow data.

They give start-workflow's management API the semantics of Kogito's process management
resource, in SW terms: a state's visit and an action's run are node instances, a state is a
node. knflow runs one main path per instance, so triggering a state moves that path there
instead of adding a second one. Every intervention closes the node instances it abandons with
an `abort` trace (Kogito reports a cancelled node instance with an ABORTED node event), then
runs the instance on as far as it goes, like `interpreter.advance`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final

from knflow.engine import interpreter
from knflow.engine.children import pin_items
from knflow.engine.context import InstanceContext, Run
from knflow.engine.execution import MAIN, Execution, Stage, Thread, ThreadStatus
from knflow.engine.exits import compensate_then_abort, follow, goto
from knflow.engine.expressions import Evaluator
from knflow.engine.open_nodes import (
    END_NODE_ID,
    START_NODE_ID,
    OpenNode,
    forget_action,
    open_action,
    open_state,
)
from knflow.engine.outcome import Outcome
from knflow.engine.thread_waits import EventWait, WaitLevel
from knflow.errors import NotFoundError
from knflow.workflow.model import Definition, End, Json, State

RETRIGGER_INPUT: Final = "input"
"""The `scratch` key of the data a state was entered with (what a retrigger starts from)."""
ATTEMPT_VARIABLE: Final = "attempt"
"""The instance variable numbering its attempts, set from the first retrigger on (2, 3, ...).

An attempt starts where an intervention re-runs a node (`retrigger`, `retrigger_node`): its
first node carries Kogito's `retrigger` mark, so a node's attempt is one plus the marked
nodes entered up to it. The Data Index schema has no per-node field for it, and a variable is
what the plugin shows and a `where: {variables: {attempt: ...}}` filter reaches.
"""


def retrigger(
    definition: Definition,
    evaluator: Evaluator,
    instance: InstanceContext,
    execution: Execution,
    *,
    now: Any,
) -> Outcome:
    """Re-run the failed state of an instance in ERROR from its input, as a new visit."""
    run = interpreter.new_run(definition, evaluator, instance, execution, now=now)
    _rerun_state(run)
    return _marked_retrigger(interpreter.run_on(run))


def skip(
    definition: Definition,
    evaluator: Evaluator,
    instance: InstanceContext,
    execution: Execution,
    *,
    now: Any,
) -> Outcome:
    """Leave the current (failed or waiting) state through its own exit, without running it.

    As Kogito completes a skipped node, the state's visit is left (`exit`); its actions in
    flight are abandoned.
    """
    run = interpreter.new_run(definition, evaluator, instance, execution, now=now)
    main = execution.main
    visit = open_state(definition, main)
    _abandon_threads(run)
    if visit is not None:
        _trace(run, "exit", visit)
    _wake(main)
    state = definition.state(main.state)
    follow(run, main, state, state.transition, state.end)
    return interpreter.run_on(run)


def trigger_state(
    definition: Definition,
    evaluator: Evaluator,
    instance: InstanceContext,
    execution: Execution,
    *,
    node_id: str,
    now: Any,
) -> Outcome:
    """Move the main path to the state `node_id` names, with the current workflow data.

    `node_id` is a node id of the definition (a state's index, `start` or `end`) or a state
    name, as Kogito's trigger matches a node by id or name; `end` ends the instance. What the
    instance was doing is abandoned first.

    Raises:
        NotFoundError: the definition has no such node.
    """
    target = _target(definition, node_id)
    run = interpreter.new_run(definition, evaluator, instance, execution, now=now)
    _abandon(run)
    main = _wake(execution.main)
    if target is None:
        follow(run, main, definition.state(main.state), None, End(terminate=True))
    else:
        goto(main, target.name)
    return interpreter.run_on(run)


def retrigger_node(
    definition: Definition,
    evaluator: Evaluator,
    instance: InstanceContext,
    execution: Execution,
    *,
    node_instance_id: str,
    now: Any,
) -> Outcome:
    """Run a node instance again: a state's visit from the state's input, an action alone.

    Raises:
        NotFoundError: `node_instance_id` is not a running or failed node instance.
    """
    run = interpreter.new_run(definition, evaluator, instance, execution, now=now)
    if _is_state_visit(definition, execution, node_instance_id):
        _rerun_state(run)
    else:
        thread = _thread_running(execution, node_instance_id, instance)
        _abandon_action(run, thread)
        _wake(thread)
    return _marked_retrigger(interpreter.run_on(run))


def cancel_node(
    definition: Definition,
    evaluator: Evaluator,
    instance: InstanceContext,
    execution: Execution,
    *,
    node_instance_id: str,
    now: Any,
) -> Outcome:
    """Cancel a node instance: nothing runs on from it, as in Kogito.

    Cancelling a state's visit leaves the instance with no state in progress until a state
    is triggered (or the instance aborted); cancelling an action leaves its state waiting
    until the state is retriggered, skipped or left by a trigger.

    Raises:
        NotFoundError: `node_instance_id` is not a running or failed node instance.
    """
    run = interpreter.new_run(definition, evaluator, instance, execution, now=now)
    if _is_state_visit(definition, execution, node_instance_id):
        _abandon(run)
        _idle(run, execution.main, WaitLevel.STATE)
        execution.main.node = None
    else:
        thread = _thread_running(execution, node_instance_id, instance)
        _abandon_action(run, thread)
        _idle(run, thread, WaitLevel.ACTION)
    return interpreter.run_on(run)


def abort(
    definition: Definition,
    evaluator: Evaluator,
    instance: InstanceContext,
    execution: Execution,
    *,
    now: Any,
) -> Outcome | None:
    """Compensate the completed states of an instance being aborted; None when none did.

    SonataFlow compensates on abort (its CompensationRestIT): the compensating states run,
    then the instance ends ABORTED. Without completed compensable states the runtime
    aborts the instance at once.
    """
    if not execution.completed or execution.compensating is not None:
        return None
    run = interpreter.new_run(definition, evaluator, instance, execution, now=now)
    _abandon(run)
    compensate_then_abort(run, _wake(execution.main))
    return interpreter.run_on(run)


def patch_data(execution: Execution, patch: Mapping[str, Json]) -> Json:
    """Merge `patch` into the workflow data (and the input of its state); return the data.

    SonataFlow's `PATCH /{workflowId}/{id}`: a retrigger that follows re-runs the failed
    state on the patched input.
    """
    main = execution.main
    pin_items(execution)
    if isinstance(main.data, dict):
        main.data = {**main.data, **patch}
    stored_input = main.scratch.get(RETRIGGER_INPUT)
    if isinstance(stored_input, dict):
        main.scratch[RETRIGGER_INPUT] = {**stored_input, **patch}
    return main.data


def replace_data(execution: Execution, data: Json) -> None:
    """Replace the workflow data, and the input a retrigger would re-run the state from."""
    main = execution.main
    pin_items(execution)
    main.data = data
    if RETRIGGER_INPUT in main.scratch:
        main.scratch[RETRIGGER_INPUT] = data


def begins_attempt(outcome: Outcome) -> bool:
    """Tell whether an intervention's outcome re-ran a node, which starts a new attempt."""
    return any(trace.retrigger for trace in outcome.trace)


def attempt_of(variables: Json) -> int:
    """Return the attempt an instance is in: 1 until its first retrigger."""
    if isinstance(variables, dict):
        number = variables.get(ATTEMPT_VARIABLE)
        if isinstance(number, int) and not isinstance(number, bool) and number > 1:
            return number
    return 1


def _rerun_state(run: Run) -> None:
    main = run.execution.main
    _abandon(run)
    _wake(main)
    main.stage = Stage.ENTER
    main.data = main.scratch.get(RETRIGGER_INPUT, main.data)


def _abandon(run: Run) -> None:
    """Close the current state's visit and every action in flight; drop the child threads."""
    visit = open_state(run.definition, run.execution.main)
    _abandon_threads(run)
    if visit is not None:
        _trace(run, "abort", visit)


def _abandon_threads(run: Run) -> None:
    for thread in list(run.execution.threads.values()):
        _abandon_action(run, thread)
        if thread.id != MAIN:
            run.execution.threads.pop(thread.id)


def _abandon_action(run: Run, thread: Thread) -> None:
    action = open_action(thread)
    if action is not None:
        _trace(run, "abort", action)
        forget_action(thread)


def _wake(thread: Thread) -> Thread:
    thread.status = ThreadStatus.RUNNABLE
    thread.wait = None
    thread.error = None
    thread.seq += 1
    return thread


def _idle(run: Run, thread: Thread, level: WaitLevel) -> None:
    """Block `thread` on a wait nothing completes (as a resting `keepActive` instance)."""
    thread.status = ThreadStatus.BLOCKED
    thread.wait = EventWait(key=run.new_key(thread), level=level)
    thread.error = None
    thread.seq += 1


def _is_state_visit(
    definition: Definition, execution: Execution, node_instance_id: str
) -> bool:
    visit = open_state(definition, execution.main)
    return visit is not None and visit.node == node_instance_id


def _thread_running(
    execution: Execution, node_instance_id: str, instance: InstanceContext
) -> Thread:
    for thread in execution.threads.values():
        action = open_action(thread)
        if action is not None and action.node == node_instance_id:
            return thread
    raise NotFoundError(
        f"node instance '{node_instance_id}' is not running in instance"
        f" '{instance.instance_id}': name the node instance of its current state or of"
        " one of that state's actions"
    )


def _target(definition: Definition, node_id: str) -> State | None:
    """The state a trigger goes to; None for the end node."""
    if node_id == END_NODE_ID:
        return None
    if node_id == START_NODE_ID:
        return definition.state(definition.start)
    for state in definition.states.values():
        if node_id in (str(state.index), state.name):
            return state
    raise NotFoundError(
        f"node '{node_id}' is not a node of workflow '{definition.workflow_id}'"
        f" version '{definition.version}'"
    )


def _trace(run: Run, event: str, node: OpenNode) -> None:
    run.trace(
        event,
        node=node.node,
        node_id=node.node_id,
        name=node.name,
        node_type=node.node_type,
    )


def _marked_retrigger(outcome: Outcome) -> Outcome:
    """Mark the first node entered as a retrigger (the Data Index summary shows it)."""
    for index, trace in enumerate(outcome.trace):
        if trace.event == "enter":
            outcome.trace[index] = dataclasses.replace(trace, retrigger=True)
            break
    return outcome
