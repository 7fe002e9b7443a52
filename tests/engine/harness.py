"""Pure engine runs for tests: start a definition and feed scripted results to its calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from knflow.engine import interpreter
from knflow.engine.children import kept_results_family
from knflow.engine.context import InstanceContext
from knflow.engine.expressions import Evaluator
from knflow.engine.outcome import (
    CallCompleted,
    CallFunction,
    Failure,
    KeepChildResult,
    Outcome,
    RunThread,
    ScheduleThread,
)
from knflow.workflow.model import Definition
from knflow.workflow.parsing import parse_definition

NOW = datetime(2026, 1, 1, tzinfo=UTC)
Responder = Callable[[CallFunction], Any]


def definition_from(path: Path) -> Definition:
    text = path.read_text(encoding="utf-8")
    document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return parse_definition(document)


def run(definition: Definition, data: Any, respond: Responder | None = None) -> Outcome:
    """Run to the end, answering each call with `respond(call)` (a Failure means the call failed)."""
    evaluator = Evaluator(
        language=definition.expression_lang, functions=definition.expression_functions
    )
    instance = InstanceContext(instance_id="00000000-0000-0000-0000-000000000001")
    outcome = interpreter.start(definition, evaluator, instance, data=data, now=NOW)
    kept: dict[str, list[Any]] = {}
    pending = _follow_up(outcome, kept)
    while pending and outcome.status == "ACTIVE":
        command = pending.pop(0)
        activation = (
            _answer(command, respond)
            if isinstance(command, CallFunction)
            else _run_thread(command, outcome, kept)
        )
        outcome = interpreter.advance(
            definition, evaluator, instance, outcome.execution, activation, now=NOW
        )
        pending += _follow_up(outcome, kept)
    return outcome


def _follow_up(
    outcome: Outcome, kept: dict[str, list[Any]]
) -> list[CallFunction | ScheduleThread]:
    """Keep the results children left apart, as the runtime stores them; return the work."""
    for command in outcome.commands:
        if isinstance(command, KeepChildResult):
            kept.setdefault(command.family, []).append(command.leftover)
    return [
        c
        for c in outcome.commands
        if (isinstance(c, CallFunction) and not c.asynchronous)
        or isinstance(c, ScheduleThread)
    ]


def _answer(call: CallFunction, respond: Responder | None) -> CallCompleted:
    answer = respond(call) if respond else {}
    return CallCompleted(
        thread_id=call.thread_id,
        key=call.key,
        result=None if isinstance(answer, Failure) else answer,
        failure=answer if isinstance(answer, Failure) else None,
    )


def _run_thread(
    command: ScheduleThread, outcome: Outcome, kept: dict[str, list[Any]]
) -> RunThread:
    """Run a thread in its own step, handing back its children's kept results if it wants them."""
    family = kept_results_family(outcome.execution, command.thread_id)
    return RunThread(
        thread_id=command.thread_id,
        kept_results=None if family is None else kept.pop(family, []),
    )
