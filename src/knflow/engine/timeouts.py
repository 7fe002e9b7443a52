"""Timeouts (SW 0.8 "Workflow Timeouts"), all of them, where SonataFlow honoured only two.

Each timeout is a timer scheduled when its scope begins: `workflowExecTimeout` at start,
`stateExecTimeout` on entering a state, `branchExecTimeout` when a branch starts (event timeouts
live with the waiting states, action timeouts bound each service call). When it fires, a
`Deadline` activation reaches the engine; it is ignored when its scope has already ended.
State- and branch-level values override the workflow's `timeouts`.
"""

from __future__ import annotations

from datetime import timedelta

from knflow.engine.context import Run
from knflow.engine.execution import Thread
from knflow.engine.outcome import ScheduleTimer
from knflow.workflow.model import Json, State
from knflow.workflow.parsing import parse_duration


def watch_workflow(run: Run, main: Thread) -> None:
    """Schedule `workflowExecTimeout`, if the workflow has one."""
    limit = workflow_limit(run.definition.timeouts.get("workflowExecTimeout"))
    if limit is not None:
        _schedule(run, main, scope="workflow", node="workflow", after=limit)


def watch_state(run: Run, thread: Thread, state: State) -> None:
    """Schedule `stateExecTimeout` for the visit of `state` that just began."""
    declared = state.timeouts.get("stateExecTimeout") or run.definition.timeouts.get(
        "stateExecTimeout"
    )
    limit = state_limit(declared)
    if limit is not None and thread.node:
        _schedule(run, thread, scope="state", node=thread.node, after=limit)


def watch_branch(run: Run, child: Thread, state: State) -> None:
    """Schedule `branchExecTimeout` for a parallel branch that just started."""
    branch = state.branches[child.index]
    declared = (
        branch.timeouts.get("branchExecTimeout")
        or state.timeouts.get("branchExecTimeout")
        or run.definition.timeouts.get("branchExecTimeout")
    )
    if declared:
        _schedule(
            run,
            child,
            scope="branch",
            node=child.id,
            after=parse_duration(str(declared)),
        )


def action_limit(run: Run, thread: Thread, state: State) -> timedelta | None:
    """Return the `actionExecTimeout` that applies: the branch's, the state's, the workflow's."""
    declared = None
    if thread.role == "branch":
        declared = state.branches[thread.index].timeouts.get("actionExecTimeout")
    declared = (
        declared
        or state.timeouts.get("actionExecTimeout")
        or run.definition.timeouts.get("actionExecTimeout")
    )
    return parse_duration(str(declared)) if declared else None


def workflow_limit(declared: Json) -> timedelta | None:
    """Return the duration of a `workflowExecTimeout` (string or `{duration, ...}`)."""
    if isinstance(declared, dict):
        declared = declared.get("duration")
    return parse_duration(str(declared)) if declared else None


def state_limit(declared: Json) -> timedelta | None:
    """Return the duration of a `stateExecTimeout`: the string, or `total` (else `single`)."""
    if isinstance(declared, dict):
        declared = declared.get("total") or declared.get("single")
    return parse_duration(str(declared)) if declared else None


def interrupts(declared: Json) -> bool:
    """Whether the workflow stops at once (`interrupt`, true by default in the 0.8 schema)."""
    return not isinstance(declared, dict) or bool(declared.get("interrupt", True))


def run_before(declared: Json) -> str | None:
    """The state to run before the instance is terminated, if any."""
    return declared.get("runBefore") if isinstance(declared, dict) else None


def _schedule(
    run: Run, thread: Thread, *, scope: str, node: str, after: timedelta
) -> None:
    run.command(
        ScheduleTimer(
            thread_id=thread.id,
            key=f"deadline:{scope}:{node}",
            due=run.now + after,
            deadline=scope,
            node=node,
        )
    )
