"""Shape checks: a small vocabulary describing the JSON structure of a document.

A `Shape` is a callable that inspects one JSON value at a JSON pointer and reports what
is wrong with it to a `Walk`. `workflow/structure.py` describes Serverless Workflow with
these; this module knows nothing about workflows and does no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

from knflow.errors import Problem
from knflow.workflow.model import Json

_TYPE_NAMES: Final = {
    "null": "null",
    "boolean": "a boolean",
    "number": "a number",
    "string": "a string",
    "array": "an array",
    "object": "an object",
}


@dataclass(slots=True, kw_only=True)
class Walk:
    """What a check needs while it walks a document: the mode and the problems found."""

    strict: bool
    """True when only the 0.8 JSON schema is accepted, False for SonataFlow leniency."""
    problems: list[Problem] = field(default_factory=list)
    """Every problem found so far, in document order."""

    def report(self, pointer: str, reason: str) -> None:
        """Record one problem."""
        self.problems.append(Problem(pointer, reason))


Shape = Callable[[Json, str, Walk], None]
"""Checks one value found at a JSON pointer and reports its problems to the walk."""

Rule = Callable[[Mapping[str, Json], str, Walk], None]
"""Checks a relation between the properties of one object (e.g. exactly one of two)."""


def json_type(value: Json) -> str:
    """Name the JSON type of a decoded value the way JSON Schema does."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def child(pointer: str, key: str | int) -> str:
    """Extend a JSON pointer by one reference token (RFC 6901 escaping)."""
    token = str(key).replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{token}"


def quote(name: object) -> str:
    """Quote a name for a message."""
    return f"'{name}'"


def string(*, min_length: int = 0) -> Shape:
    """Accept a string of at least `min_length` characters."""

    def check(value: Json, pointer: str, walk: Walk) -> None:
        if not _expect(value, ("string",), pointer, walk):
            return
        if len(value) < min_length:
            walk.report(pointer, "must not be empty")

    return check


def boolean() -> Shape:
    """Accept `true` or `false`."""

    def check(value: Json, pointer: str, walk: Walk) -> None:
        _expect(value, ("boolean",), pointer, walk)

    return check


def choice(*values: str) -> Shape:
    """Accept one of the given strings."""

    def check(value: Json, pointer: str, walk: Walk) -> None:
        if not _expect(value, ("string",), pointer, walk):
            return
        if value not in values:
            listed = ", ".join(quote(v) for v in values)
            walk.report(pointer, f"{quote(value)} is not one of {listed}")

    return check


def anything_of(*types: str) -> Shape:
    """Accept any value of the given JSON types, unchecked inside."""

    def check(value: Json, pointer: str, walk: Walk) -> None:
        _expect(value, types, pointer, walk)

    return check


def number_or_string(
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    multiple_of: float | None = None,
    min_length: int = 0,
) -> Shape:
    """Accept a number within bounds, or a string (an expression) of `min_length`."""

    def check(value: Json, pointer: str, walk: Walk) -> None:
        if not _expect(value, ("number", "string"), pointer, walk):
            return
        if isinstance(value, str):
            if len(value) < min_length:
                walk.report(pointer, "must not be empty")
            return
        if minimum is not None and value < minimum:
            walk.report(pointer, f"must be at least {minimum:g}")
        if maximum is not None and value > maximum:
            walk.report(pointer, f"must be at most {maximum:g}")
        if multiple_of is not None and not _is_multiple(value, multiple_of, walk):
            walk.report(pointer, f"must be a multiple of {multiple_of:g}")

    return check


def array(item: Shape, *, min_items: int = 0, unique: bool = False) -> Shape:
    """Accept an array whose items all have the `item` shape."""

    def check(value: Json, pointer: str, walk: Walk) -> None:
        if not _expect(value, ("array",), pointer, walk):
            return
        if len(value) < min_items:
            walk.report(pointer, f"must have at least {min_items} item(s)")
        for index, element in enumerate(value):
            item(element, child(pointer, index), walk)
        if unique:
            _report_repeats(value, pointer, walk)

    return check


def string_map() -> Shape:
    """Accept an object whose values are all strings (metadata, context attributes)."""

    def check(value: Json, pointer: str, walk: Walk) -> None:
        if not _expect(value, ("object",), pointer, walk):
            return
        for key, element in value.items():
            _expect(element, ("string",), child(pointer, key), walk)

    return check


def either(*alternatives: tuple[str, Shape], expected: str) -> Shape:
    """Accept a value whose JSON type picks one alternative, which then checks it.

    This is how the schema's `oneOf` between a string form and an object form reads.
    """
    by_type = dict(alternatives)

    def check(value: Json, pointer: str, walk: Walk) -> None:
        shape = by_type.get(json_type(value))
        if shape is None:
            walk.report(pointer, f"expected {expected}, got {_type_name(value)}")
            return
        shape(value, pointer, walk)

    return check


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectShape:
    """An object with known properties; callable as a `Shape`."""

    what: str
    """How messages name the object, e.g. `an operation state`."""
    fields: Mapping[str, Shape]
    """Shape of each known property."""
    required: tuple[str, ...] = ()
    """Properties that must be present."""
    closed: bool = True
    """Whether unknown properties are refused (`additionalProperties: false`)."""
    lenient_fields: Mapping[str, Shape] = field(default_factory=dict)
    """Properties accepted only in lenient mode, or replacing a field's shape there."""
    lenient_optional: tuple[str, ...] = ()
    """Required properties that lenient mode lets the author leave out."""
    rules: tuple[Rule, ...] = ()
    """Checks between properties, run once the properties themselves were checked."""

    def __call__(self, value: Json, pointer: str, walk: Walk) -> None:
        """Check `value` against this object shape."""
        if not _expect(value, ("object",), pointer, walk):
            return
        fields = self.fields if walk.strict else {**self.fields, **self.lenient_fields}
        for name in self.required:
            if name not in value and (walk.strict or name not in self.lenient_optional):
                walk.report(pointer, f"{self.what} needs the property {quote(name)}")
        for name, element in value.items():
            shape = fields.get(name)
            if shape is not None:
                shape(element, child(pointer, name), walk)
            elif self.closed:
                walk.report(
                    child(pointer, name),
                    f"property {quote(name)} is not allowed in {self.what}",
                )
        for rule in self.rules:
            rule(value, pointer, walk)


def exactly_one(*names: str, what: str) -> Rule:
    """Require exactly one of the named properties (a schema `oneOf` of `required`)."""
    listed = _listed(names)

    def rule(value: Mapping[str, Json], pointer: str, walk: Walk) -> None:
        present = [name for name in names if name in value]
        if not present:
            walk.report(pointer, f"{what} needs {listed}")
        elif len(present) > 1:
            both = " and ".join(quote(name) for name in present)
            walk.report(pointer, f"{what} has {both}; it takes only one of them")

    return rule


def _expect(value: Json, types: Iterable[str], pointer: str, walk: Walk) -> bool:
    kinds = tuple(types)
    if json_type(value) in kinds:
        return True
    wanted = " or ".join(_TYPE_NAMES.get(kind, kind) for kind in kinds)
    walk.report(pointer, f"expected {wanted}, got {_type_name(value)}")
    return False


def _type_name(value: Json) -> str:
    kind = json_type(value)
    return _TYPE_NAMES.get(kind, kind)


def _is_multiple(value: float, step: float, walk: Walk) -> bool:
    # Strict mode mirrors the float arithmetic of the `jsonschema` validator for
    # `multipleOf`, so that it agrees with the 0.8 schema even where floats round
    # (1.1 is refused); lenient mode also accepts exact decimal multiples.
    if not walk.strict and (_decimal(value) / _decimal(step)).denominator == 1:
        return True
    if not isinstance(step, float):
        return value % step == 0
    quotient = value / step
    try:
        return int(quotient) == quotient
    except OverflowError:
        return (Fraction(value) / Fraction(step)).denominator == 1


def _decimal(number: float) -> Fraction:
    """The number as written in decimal (`1.1` is 11/10, not the nearest float)."""
    return Fraction(repr(number))


def _report_repeats(values: list[Json], pointer: str, walk: Walk) -> None:
    seen: list[Json] = []
    for index, element in enumerate(values):
        if element in seen:
            walk.report(child(pointer, index), f"{quote(element)} is listed twice")
        else:
            seen.append(element)


def _listed(names: tuple[str, ...]) -> str:
    quoted = [quote(name) for name in names]
    if len(quoted) == 1:
        return quoted[0]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"
