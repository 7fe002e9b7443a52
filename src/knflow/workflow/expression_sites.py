"""Where a workflow document holds expressions, each with its JSON pointer.

Validation compiles every one of them up front (`engine.expression_check`), so that a
syntax error such as `${ .x == }` is refused at registration with its place in the
document instead of failing an instance at run time. This module only finds them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from knflow.workflow.model import Json


class SiteKind(StrEnum):
    """How the engine reads the value at a site."""

    EXPRESSION = "EXPRESSION"
    """Always an expression (a condition, a filter, an expression function)."""
    TEMPLATE = "TEMPLATE"
    """A JSON value whose `${ }` strings are expressions (arguments, event data)."""
    PATH = "PATH"
    """A path expression (`toStateData`); SonataFlow's bare `a.b` is a path too."""


@dataclass(frozen=True, slots=True)
class Site:
    """One place holding an expression or a template."""

    pointer: str
    """JSON pointer of the value."""
    value: Json
    """The value there."""
    kind: SiteKind
    """How it is read."""


_STATE_FILTER: Final = ("input", "output")
_ACTION_FILTER: Final = ("fromStateData", "results")
_EVENT_FILTER: Final = ("data",)


def expression_sites(document: Json) -> Iterator[Site]:
    """Yield every expression and template of a workflow document."""
    if not isinstance(document, dict):
        return
    for index, function in _items(document.get("functions")):
        if function.get("type") == "expression":
            yield from _site(
                function, "operation", f"/functions/{index}", SiteKind.EXPRESSION
            )
    for index, state in _items(document.get("states")):
        yield from _state_sites(state, f"/states/{index}")


def _state_sites(state: Mapping[str, Any], pointer: str) -> Iterator[Site]:
    yield from _filter(
        state.get("stateDataFilter"), _STATE_FILTER, f"{pointer}/stateDataFilter"
    )
    for index, condition in _items(state.get("dataConditions")):
        yield from _site(
            condition,
            "condition",
            f"{pointer}/dataConditions/{index}",
            SiteKind.EXPRESSION,
        )
    for name in ("inputCollection", "outputCollection"):
        yield from _site(state, name, pointer, SiteKind.EXPRESSION)
    yield from _actions(state.get("actions"), f"{pointer}/actions")
    if isinstance(state.get("action"), dict):
        yield from _action(state["action"], f"{pointer}/action")
    yield from _filter(
        state.get("eventDataFilter"), _EVENT_FILTER, f"{pointer}/eventDataFilter"
    )
    for index, on_events in _items(state.get("onEvents")):
        where = f"{pointer}/onEvents/{index}"
        yield from _filter(
            on_events.get("eventDataFilter"), _EVENT_FILTER, f"{where}/eventDataFilter"
        )
        yield from _actions(on_events.get("actions"), f"{where}/actions")
    for index, branch in _items(state.get("branches")):
        yield from _actions(
            branch.get("actions"), f"{pointer}/branches/{index}/actions"
        )
    for key in ("end", "transition"):
        if isinstance(state.get(key), dict):
            yield from _produced(
                state[key].get("produceEvents"), f"{pointer}/{key}/produceEvents"
            )


def _actions(actions: Json, pointer: str) -> Iterator[Site]:
    for index, action in _items(actions):
        yield from _action(action, f"{pointer}/{index}")


def _action(action: Mapping[str, Any], pointer: str) -> Iterator[Site]:
    yield from _site(action, "condition", pointer, SiteKind.EXPRESSION)
    reference = action.get("functionRef")
    if isinstance(reference, dict):
        yield from _site(
            reference, "arguments", f"{pointer}/functionRef", SiteKind.TEMPLATE
        )
    event_ref = action.get("eventRef")
    if isinstance(event_ref, dict):
        for name in ("data", "contextAttributes"):
            yield from _site(event_ref, name, f"{pointer}/eventRef", SiteKind.TEMPLATE)
    yield from _filter(
        action.get("actionDataFilter"), _ACTION_FILTER, f"{pointer}/actionDataFilter"
    )


def _produced(events: Json, pointer: str) -> Iterator[Site]:
    for index, produced in _items(events):
        for name in ("data", "contextAttributes"):
            yield from _site(produced, name, f"{pointer}/{index}", SiteKind.TEMPLATE)


def _filter(data_filter: Json, names: tuple[str, ...], pointer: str) -> Iterator[Site]:
    if not isinstance(data_filter, dict):
        return
    for name in names:
        yield from _site(data_filter, name, pointer, SiteKind.EXPRESSION)
    if "fromStateData" in names or "data" in names:
        yield from _site(data_filter, "toStateData", pointer, SiteKind.PATH)


def _site(
    owner: Mapping[str, Any], name: str, pointer: str, kind: SiteKind
) -> Iterator[Site]:
    value = owner.get(name)
    if value is None:
        return
    if kind is not SiteKind.TEMPLATE and (
        not isinstance(value, str) or not value.strip()
    ):
        return
    yield Site(f"{pointer}/{name}", value, kind)


def _items(values: Json) -> Iterator[tuple[int, Mapping[str, Any]]]:
    if not isinstance(values, list):
        return
    for index, value in enumerate(values):
        if isinstance(value, dict):
            yield index, value
