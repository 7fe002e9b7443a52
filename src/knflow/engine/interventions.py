"""Management interventions on an execution: retrigger and skip.

They give start-workflow's management API the semantics of Kogito's process management
resource, in SW terms: a state's visit and an action's run are node instances. Every
intervention closes the node instances it abandons with an `abort` trace (Kogito reports a
cancelled node instance with an ABORTED node event), then runs the instance on as far as it
goes, like `interpreter.advance`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from knflow.engine import interpreter
from knflow.engine.context import InstanceContext, Run
from knflow.engine.execution import MAIN, Execution, Stage, Thread, ThreadStatus
from knflow.engine.exits import follow
from knflow.engine.expressions import Evaluator
from knflow.engine.open_nodes import OpenNode, forget_action, open_action, open_state
from knflow.engine.outcome import Outcome
from knflow.workflow.model import Definition

RETRIGGER_INPUT: Final = "input"
"""The `scratch` key of the data a state was entered with (what a retrigger starts from)."""


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
