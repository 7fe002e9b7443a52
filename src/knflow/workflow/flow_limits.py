"""Flow control a definition declares in its `metadata`: active instances and call rates.

SW 0.8 metadata is a map of strings, so the limits are written as strings:
`knflow.maxActiveInstances: "5"` on the workflow, `knflow.callsPerSecond: "10"` (and
optionally `knflow.rateLimitKey: "api.example.com"`) on a function definition. This module
reads and checks them; deployment overrides (`config.FlowControl`) are applied by the runtime.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from knflow.errors import Problem
from knflow.workflow.model import Definition, FunctionDef, Json

MAX_ACTIVE_KEY: Final = "knflow.maxActiveInstances"
"""Workflow metadata: how many instances may be active at once (more starts queue)."""
CALLS_PER_SECOND_KEY: Final = "knflow.callsPerSecond"
"""Function metadata: calls per second across every instance and process."""
RATE_KEY_KEY: Final = "knflow.rateLimitKey"
"""Function metadata: the bucket the calls share (default `<workflow id>/<function name>`)."""


def max_active(definition: Definition) -> int | None:
    """Return the declared most active instances of the workflow, None when unlimited."""
    raw = definition.metadata.get(MAX_ACTIVE_KEY)
    return None if _count_problem(raw) else int(str(raw).strip())


def calls_per_second(function_def: FunctionDef) -> float | None:
    """Return the declared call rate of a function, None when unlimited."""
    raw = function_def.metadata.get(CALLS_PER_SECOND_KEY)
    return None if _rate_problem(raw) else float(str(raw).strip())


def rate_key(workflow_id: str, function_def: FunctionDef) -> str:
    """Return the name of the bucket a function's calls draw from."""
    declared = function_def.metadata.get(RATE_KEY_KEY)
    if isinstance(declared, str) and declared.strip():
        return declared.strip()
    return f"{workflow_id}/{function_def.name}"


def find_problems(document: Json) -> Iterator[Problem]:
    """Yield every flow-control metadata value that is not a positive number."""
    if not isinstance(document, dict):
        return
    metadata = document.get("metadata")
    if isinstance(metadata, dict) and MAX_ACTIVE_KEY in metadata:
        reason = _count_problem(metadata[MAX_ACTIVE_KEY])
        if reason:
            yield Problem(f"/metadata/{MAX_ACTIVE_KEY}", reason)
    functions = document.get("functions")
    for index, function in enumerate(functions if isinstance(functions, list) else ()):
        yield from _function_problems(function, f"/functions/{index}/metadata")


def _function_problems(function: Json, pointer: str) -> Iterator[Problem]:
    metadata = function.get("metadata") if isinstance(function, dict) else None
    if not isinstance(metadata, Mapping) or CALLS_PER_SECOND_KEY not in metadata:
        return
    reason = _rate_problem(metadata[CALLS_PER_SECOND_KEY])
    if reason:
        yield Problem(f"{pointer}/{CALLS_PER_SECOND_KEY}", reason)


def _count_problem(raw: Json) -> str:
    """Why `raw` is not a positive whole number ("" when it is one; absent is no limit)."""
    if raw is None:
        return "absent"
    text = str(raw).strip()
    if text.isdigit() and int(text) >= 1:
        return ""
    return f"'{text}' is not a positive whole number"


def _rate_problem(raw: Json) -> str:
    """Why `raw` is not a positive number of calls per second ("" when it is one)."""
    if raw is None:
        return "absent"
    text = str(raw).strip()
    try:
        rate = float(text)
    except ValueError:
        return f"'{text}' is not a number of calls per second"
    if rate > 0 and rate != float("inf"):
        return ""
    return f"'{text}' is not a positive number of calls per second"
