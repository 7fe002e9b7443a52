"""Pure engine runs for tests: start a definition and feed scripted results to its calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from knflow.engine import interpreter
from knflow.engine.context import InstanceContext
from knflow.engine.expressions import Evaluator
from knflow.engine.outcome import CallCompleted, CallFunction, Failure, Outcome
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
    pending = [
        c
        for c in outcome.commands
        if isinstance(c, CallFunction) and not c.asynchronous
    ]
    while pending and outcome.status == "ACTIVE":
        call = pending.pop(0)
        answer = respond(call) if respond else {}
        activation = CallCompleted(
            thread_id=call.thread_id,
            key=call.key,
            result=None if isinstance(answer, Failure) else answer,
            failure=answer if isinstance(answer, Failure) else None,
        )
        outcome = interpreter.advance(
            definition, evaluator, instance, outcome.execution, activation, now=NOW
        )
        pending += [
            c
            for c in outcome.commands
            if isinstance(c, CallFunction) and not c.asynchronous
        ]
    return outcome
