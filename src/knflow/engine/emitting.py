"""Producing events from a workflow: `produceEvents`, an action's `eventRef`, and their data.

`data` is an expression string, an object holding expressions, or absent (the state data, or
the action input, as a whole); `contextAttributes` become CloudEvent extension attributes.
"""

from __future__ import annotations

from knflow.engine.context import Run
from knflow.engine.execution import Thread
from knflow.engine.outcome import EmitEvent
from knflow.workflow.model import Json


def evaluate_data(run: Run, thread: Thread, template: Json, source: Json) -> Json:
    """Return `template` evaluated over `source`; without a template, `source` itself."""
    if template is None:
        return source
    scope = run.scope(thread)
    if isinstance(template, str):
        return run.evaluator.evaluate(template, source, scope)
    return run.evaluator.resolve(template, source, scope)


def emit(
    run: Run,
    thread: Thread,
    event_ref: str,
    *,
    data: Json,
    attributes: Json,
    source: Json,
) -> None:
    """Ask the runtime to publish the event `event_ref` names, with `data` as its payload."""
    event_def = run.definition.events[event_ref]
    resolved = run.evaluator.resolve(attributes or {}, source, run.scope(thread))
    run.command(
        EmitEvent(
            key=run.new_key(thread),
            type=event_def.type,
            source=event_def.source,
            data=data,
            extensions={str(k): str(v) for k, v in (resolved or {}).items()},
        )
    )
