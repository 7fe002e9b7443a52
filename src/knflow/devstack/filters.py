"""Trigger filters: the legacy `filter.attributes` and the `filters` dialects.

Parses the filter part of a Trigger and decides whether an event passes, with the
semantics of Knative's event filters. CESQL is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from knflow.errors import InputError
from knflow.events.codec import Event, render_time


@dataclass(frozen=True, slots=True, kw_only=True)
class AttributesFilter:
    """Legacy `filter.attributes`: values equal; `""` means present and non-empty."""

    attributes: Mapping[str, str]
    """Attribute name to required value."""

    def matches(self, event: Event) -> bool:
        """Tell whether the event passes."""
        for name, wanted in self.attributes.items():
            value = attribute_text(event, name)
            if not value or (wanted and value != wanted):
                return False
        return True


@dataclass(frozen=True, slots=True, kw_only=True)
class StringFilter:
    """The `exact`, `prefix` and `suffix` dialects of `filters`."""

    dialect: str
    """`exact`, `prefix` or `suffix`."""
    attributes: Mapping[str, str]
    """Attribute name to the value compared."""

    def matches(self, event: Event) -> bool:
        """Tell whether every attribute compares true."""
        for name, wanted in self.attributes.items():
            value = attribute_text(event, name)
            if value is None or not _compare(self.dialect, value, wanted):
                return False
        return True


@dataclass(frozen=True, slots=True, kw_only=True)
class AllFilter:
    """`all`, and the top-level `filters` list: every filter passes."""

    filters: tuple[Filter, ...]
    """The nested filters."""

    def matches(self, event: Event) -> bool:
        """Tell whether every nested filter passes."""
        return all(nested.matches(event) for nested in self.filters)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnyFilter:
    """`any`: at least one filter passes."""

    filters: tuple[Filter, ...]
    """The nested filters."""

    def matches(self, event: Event) -> bool:
        """Tell whether some nested filter passes."""
        return any(nested.matches(event) for nested in self.filters)


@dataclass(frozen=True, slots=True, kw_only=True)
class NotFilter:
    """`not`: the nested filter fails."""

    filter: Filter
    """The negated filter."""

    def matches(self, event: Event) -> bool:
        """Tell whether the nested filter fails."""
        return not self.filter.matches(event)


Filter = AttributesFilter | StringFilter | AllFilter | AnyFilter | NotFilter


def parse_attributes(raw: Mapping[str, str]) -> AttributesFilter:
    """Build the legacy filter; an empty mapping lets every event through."""
    return AttributesFilter(attributes=dict(raw))


def parse_filters(raw: Any, where: str) -> AllFilter:
    """Parse a `filters` list; all entries must pass.

    Raises:
        InputError: an entry is invalid, naming `where` and the entry.
    """
    if not isinstance(raw, list):
        raise InputError(f"{where}: filters is a list")
    return AllFilter(
        filters=tuple(_parse_filter(f, f"{where}/{i}") for i, f in enumerate(raw))
    )


def _parse_filter(raw: Any, where: str) -> Filter:
    entry = _entry(raw, where)
    if len(entry) != 1:
        raise InputError(
            f"{where}: a filter uses exactly one dialect, found {sorted(entry)}"
        )
    dialect, value = next(iter(entry.items()))
    if dialect in ("exact", "prefix", "suffix"):
        attributes = _strings(value, f"{where}/{dialect}")
        if not attributes or not all(attributes.values()):
            raise InputError(f"{where}/{dialect}: names and values must be non-empty")
        return StringFilter(dialect=dialect, attributes=attributes)
    if dialect in ("all", "any"):
        nested = parse_filters(value, f"{where}/{dialect}").filters
        if not nested:
            raise InputError(f"{where}/{dialect}: needs at least one filter")
        return (
            AllFilter(filters=nested) if dialect == "all" else AnyFilter(filters=nested)
        )
    if dialect == "not":
        return NotFilter(filter=_parse_filter(value, f"{where}/not"))
    if dialect == "cesql":
        raise InputError(
            f"{where}: cesql filters are not supported by the development broker"
        )
    raise InputError(f"{where}: unknown filter dialect '{dialect}'")


def attribute_text(event: Event, name: str) -> str | None:
    """Return a context attribute as Knative compares it (`time` as RFC 3339 text)."""
    if name == "time":
        return None if event.time is None else render_time(event.time)
    return event.attribute(name)


def _compare(dialect: str, value: str, wanted: str) -> bool:
    if dialect == "prefix":
        return value.startswith(wanted)
    if dialect == "suffix":
        return value.endswith(wanted)
    return value == wanted


def _entry(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}: expected a mapping")
    return raw


def _strings(raw: Any, where: str) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in _entry(raw, where).items()}
