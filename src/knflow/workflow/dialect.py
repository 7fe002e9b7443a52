"""SonataFlow's dialect of Serverless Workflow 0.8, rewritten into the 0.8 form.

SonataFlow accepts documents that the 0.8 schema refuses: booleans written as strings
(`"end": "true"`), a numeric `version`, an event `source:` left empty, both `id` and
`key`, metadata values that are not strings, a timeout given as `$CONST.name`, and a
`functionRef` naming an undeclared `<type>:<operation>` function. Lenient validation and
parsing read a document through `to_canonical`, so the rest of knflow sees one form;
strict validation (`knflow validate --strict`) never calls it. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from knflow.workflow.model import Json

BOOLEAN_KEYS: Final = frozenset(
    {
        "end",
        "terminate",
        "compensate",
        "dataOnly",
        "usedForCompensation",
        "exclusive",
        "keepActive",
        "autoRetries",
        "useData",
        "useResults",
        "failOnValidationErrors",
        "interrupt",
    }
)
"""Properties whose value is a boolean in 0.8; SonataFlow also takes "true"/"false"."""
PAYLOAD_KEYS: Final = frozenset({"data", "arguments", "constants", "extensions"})
"""Properties holding user data or expressions, which are never rewritten."""
_BOOLEAN_WORDS: Final = {"true": True, "false": False}
_CONSTANT_REFERENCE: Final = re.compile(r"^\s*(?:\$\{\s*)?\$CONST\.(\w+)\s*\}?\s*$")
_INLINE_FUNCTION: Final = re.compile(r"^[A-Za-z][\w-]*:\S")


def to_canonical(document: dict[str, Json]) -> dict[str, Json]:
    """Return a copy of `document` with SonataFlow's spellings rewritten into 0.8 form.

    Anything that is not one of those spellings is kept as written, so validation still
    reports it.
    """
    canonical = {name: _rewrite(value, name) for name, value in document.items()}
    version = canonical.get("version")
    if isinstance(version, int | float) and not isinstance(version, bool):
        canonical["version"] = str(version)
    if "id" in canonical and "key" in canonical:
        # SonataFlow names the workflow by `id` and ignores `key` when both are given.
        del canonical["key"]
    _drop_empty_sources(canonical)
    _resolve_constant_timeouts(canonical)
    _declare_inline_functions(canonical)
    return canonical


def _rewrite(value: Json, key: str | None = None) -> Json:
    if key in PAYLOAD_KEYS:
        return value
    if key == "metadata" and isinstance(value, dict):
        return {name: _metadata_value(item) for name, item in value.items()}
    if key in BOOLEAN_KEYS and isinstance(value, str):
        return _BOOLEAN_WORDS.get(value.strip().lower(), value)
    if isinstance(value, dict):
        return {name: _rewrite(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_rewrite(item, key) for item in value]
    return value


def _metadata_value(value: Json) -> Json:
    # SonataFlow reads metadata as typed values (`failOnStatusCode: false`); 0.8 types
    # metadata as a map of strings, so scalars are kept as their JSON text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _drop_empty_sources(document: dict[str, Json]) -> None:
    for event in _objects(document.get("events")):
        # YAML `source:` with nothing after it is null; SonataFlow reads it as absent.
        if "source" in event and event["source"] is None:
            del event["source"]


def _resolve_constant_timeouts(document: dict[str, Json]) -> None:
    constants = document.get("constants")
    if not isinstance(constants, dict):
        return
    for timeouts in _timeout_objects(document):
        for name, value in list(timeouts.items()):
            resolved = _constant(value, constants)
            if resolved is not None:
                timeouts[name] = resolved


def _constant(value: Json, constants: dict[str, Json]) -> str | None:
    if not isinstance(value, str):
        return None
    match = _CONSTANT_REFERENCE.match(value)
    if match is None:
        return None
    found = constants.get(match.group(1))
    return found if isinstance(found, str) else None


def _timeout_objects(document: dict[str, Json]) -> Iterator[dict[str, Json]]:
    if isinstance(document.get("timeouts"), dict):
        yield document["timeouts"]
    for state in _objects(document.get("states")):
        if isinstance(state.get("timeouts"), dict):
            yield state["timeouts"]
        for branch in _objects(state.get("branches")):
            if isinstance(branch.get("timeouts"), dict):
                yield branch["timeouts"]


def _declare_inline_functions(document: dict[str, Json]) -> None:
    functions = document.get("functions")
    if functions is not None and not isinstance(functions, list):
        return
    declared = {f.get("name") for f in _objects(functions)}
    added: list[Json] = []
    for reference in _function_references(document):
        if reference in declared or not _INLINE_FUNCTION.match(reference):
            continue
        # SonataFlow: `"functionRef": "<type>:<operation>"` declares a custom function
        # on the spot, named by the reference itself.
        declared.add(reference)
        added.append({"name": reference, "type": "custom", "operation": reference})
    if added:
        document["functions"] = [*(functions or []), *added]


def _function_references(document: dict[str, Json]) -> Iterator[str]:
    for state in _objects(document.get("states")):
        actions = [*_objects(state.get("actions"))]
        actions += [a for b in _objects(state.get("branches")) for a in _actions(b)]
        actions += [a for o in _objects(state.get("onEvents")) for a in _actions(o)]
        if isinstance(state.get("action"), dict):
            actions.append(state["action"])
        for action in actions:
            if isinstance(action.get("functionRef"), str):
                yield action["functionRef"]


def _actions(holder: dict[str, Json]) -> list[dict[str, Json]]:
    return list(_objects(holder.get("actions")))


def _objects(value: Json) -> Iterator[dict[str, Json]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))
