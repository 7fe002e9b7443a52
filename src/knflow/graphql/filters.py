"""GraphQL `where`, `orderBy` and `pagination` arguments to the store's query terms.

Follows the Kogito Data Index (GraphQLQueryMapper): the fields of one argument object
are ANDed; the field conditions of every element of an `and`/`or` list are flattened
into one AND/OR (so the plugin's `or: {a, b}` means a OR b); `not: {a, b}` means
NOT a AND NOT b; JSON arguments descend through non-operator keys to a path.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from enum import Enum
from typing import Any, Final

from strawberry.types.base import has_object_definition
from strawberry.types.unset import UnsetType

from knflow.errors import InputError
from knflow.memo import Memo
from knflow.store.index_query import (
    AllOf,
    AnyOf,
    Condition,
    FieldTest,
    JsonTest,
    NotOf,
    Order,
    Related,
)

MAX_PAGE_SIZE: Final = 10_000
CACHED_QUERIES: Final = 1024
"""Translated list-query arguments kept per process (see `to_query`)."""
"""Largest `pagination.limit`; an unpaged query returns at most this many rows."""

JSON_OPERATORS: Final = frozenset(
    {
        "equal",
        "greaterThan",
        "greaterThanEqual",
        "lessThan",
        "lessThanEqual",
        "between",
        "in",
        "isNull",
        "contains",
        "like",
        "containsAll",
        "containsAny",
    }
)
_LOGICAL: Final = {"and_", "or_", "not_"}
_JSON_FIELDS: Final = frozenset({"variables", "metadata", "inputArgs", "outputArgs"})
_ARRAY_ARGUMENTS: Final = frozenset(
    {"NodeInstanceArrayArgument", "MilestoneArrayArgument"}
)
_RELATIONS: Final = {
    "nodes": "nodes",
    "milestones": "milestones",
    "definition": "definition",
}


def to_condition(where: Any) -> Condition | None:
    """Translate a `*Argument` value; None or `{}` gives None (no filter).

    Raises:
        InputError: an operator is used with a value it cannot take.
    """
    if where is None or not _is_input(where):
        return None
    parts = _object_conditions(where, prefix="")
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def to_order(order_by: Any, *, prefix: str = "") -> list[Order]:
    """Translate a `*OrderBy` value into ordering keys, in schema field order."""
    if order_by is None or not _is_input(order_by):
        return []
    keys: list[Order] = []
    for name, value in _set_fields(order_by):
        if isinstance(value, Enum):
            keys.append(Order(f"{prefix}{name}", descending=value.value == "DESC"))
        elif _is_input(value):
            keys.extend(to_order(value, prefix=f"{prefix}{name}."))
    return keys


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A list query's filter, ordering and page, translated from its arguments."""

    condition: Condition | None
    order: list[Order]
    limit: int
    offset: int


_QUERIES: Final[Memo[tuple[int, int, int], tuple[Any, Any, Any, ListQuery]]] = Memo(
    CACHED_QUERIES
)


def to_query(where: Any, order_by: Any, pagination: Any) -> ListQuery:
    """Translate the arguments of a list query, once per argument objects.

    The executor hands a resolver the same converted argument objects for the same
    query and variables (`execution._ARGUMENTS`); the objects are kept with the result
    and compared, so another object that reuses an id never matches.

    Raises:
        InputError: an operator or a page value the query cannot take.
    """
    key = (id(where), id(order_by), id(pagination))
    found = _QUERIES.get(key)
    if (
        found is not None
        and found[0] is where
        and found[1] is order_by
        and found[2] is pagination
    ):
        return found[3]
    limit, offset = to_page(pagination)
    query = ListQuery(to_condition(where), to_order(order_by), limit, offset)
    _QUERIES.put(key, (where, order_by, pagination, query))
    return query


def to_page(pagination: Any) -> tuple[int, int]:
    """Return (limit, offset); no limit means `MAX_PAGE_SIZE`.

    Raises:
        InputError: a negative value or a limit above `MAX_PAGE_SIZE`.
    """
    limit = getattr(pagination, "limit", None)
    offset = getattr(pagination, "offset", None)
    limit = MAX_PAGE_SIZE if not isinstance(limit, int) else limit
    offset = 0 if not isinstance(offset, int) else offset
    if limit < 0 or offset < 0:
        raise InputError("pagination limit and offset must not be negative")
    if limit > MAX_PAGE_SIZE:
        raise InputError(
            f"pagination limit {limit} is above the maximum {MAX_PAGE_SIZE}"
        )
    return limit, offset


def _object_conditions(argument: Any, *, prefix: str) -> list[Condition]:
    """Conditions of the fields of one argument object (ANDed by the caller)."""
    found: list[Condition] = []
    for name, value in _set_fields(argument):
        found.extend(_field_conditions(name, value, prefix=prefix))
    return found


def _field_conditions(name: str, value: Any, *, prefix: str) -> list[Condition]:
    if name in _LOGICAL:
        return [_logical(name, value, prefix=prefix)]
    if name in _JSON_FIELDS and not prefix:
        return _json_conditions(name, value)
    if name in _RELATIONS and not prefix:
        return [_relation(_RELATIONS[name], value)]
    if name == "error" and not prefix:
        return _object_conditions(value, prefix="error.")
    tests = _operator_tests(f"{prefix}{name}", value)
    return tests if len(tests) <= 1 else [AllOf(tuple(tests))]


def _logical(name: str, value: Any, *, prefix: str) -> Condition:
    if name == "not_":
        negated = [NotOf(c) for c in _object_conditions(value, prefix=prefix)]
        return AllOf(tuple(negated))
    items = value if isinstance(value, list) else [value]
    flattened: list[Condition] = []
    for item in items:
        flattened.extend(_object_conditions(item, prefix=prefix))
    return AllOf(tuple(flattened)) if name == "and_" else AnyOf(tuple(flattened))


def _operator_tests(field: str, argument: Any) -> list[Condition]:
    tests: list[Condition] = []
    for op, value in _set_fields(argument):
        op_name = op.rstrip("_")
        if value is None and op_name not in ("equal",):
            continue
        tests.append(FieldTest(field, op_name, _plain(op_name, value)))
    return tests


def _relation(relation: str, argument: Any) -> Condition:
    if type(argument).__name__ not in _ARRAY_ARGUMENTS:
        return Related(relation, to_condition(argument))
    parts: list[Condition] = []
    direct: list[Condition] = []
    for name, value in _set_fields(argument):
        if name == "contains":
            parts.append(Related(relation, to_condition(value)))
        elif name in ("containsAll", "containsAny"):
            related = tuple(Related(relation, to_condition(v)) for v in value or [])
            parts.append(AllOf(related) if name == "containsAll" else AnyOf(related))
        elif name == "isNull":
            exists = Related(relation, None)
            parts.append(NotOf(exists) if value else exists)
        elif name in _LOGICAL:
            parts.append(_array_logical(relation, name, value))
        else:
            direct.extend(_field_conditions(name, value, prefix=""))
    if direct:
        # Backward compatibility: element fields directly on the array mean `contains`.
        parts.append(Related(relation, AllOf(tuple(direct))))
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _array_logical(relation: str, name: str, value: Any) -> Condition:
    if name == "not_":
        return NotOf(_relation(relation, value))
    items = value if isinstance(value, list) else [value]
    conditions = tuple(_relation(relation, item) for item in items)
    return AllOf(conditions) if name == "and_" else AnyOf(conditions)


def _json_conditions(field: str, value: Any) -> list[Condition]:
    if not isinstance(value, dict):
        raise InputError(f"the '{field}' filter must be a JSON object")
    return _json_walk(field, (), value)


def _json_walk(
    field: str, path: tuple[str, ...], node: dict[str, Any]
) -> list[Condition]:
    found: list[Condition] = []
    for key, value in node.items():
        if key in JSON_OPERATORS and path:
            found.append(JsonTest(field, path, key, _json_value(key, value)))
        elif isinstance(value, dict):
            found.extend(_json_walk(field, (*path, key), value))
        else:
            raise InputError(
                f"the '{field}' filter at '{'.'.join((*path, key))}' needs an operator"
                " object such as {equal: ...}"
            )
    return found


def _json_value(op: str, value: Any) -> Any:
    if op == "between":
        if not isinstance(value, dict) or "from" not in value or "to" not in value:
            raise InputError("a JSON 'between' needs {from: ..., to: ...}")
        return (value["from"], value["to"])
    return value


def _plain(op: str, value: Any) -> Any:
    if op == "between":
        return (_scalar(value.from_), _scalar(value.to))
    if isinstance(value, list):
        return [_scalar(v) for v in value]
    return _scalar(value)


def _scalar(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _set_fields(argument: Any) -> list[tuple[str, Any]]:
    if not _is_input(argument):
        return []
    return [
        (f.name, getattr(argument, f.name))
        for f in fields(argument)
        if not _is_unset(getattr(argument, f.name))
    ]


def _is_input(value: Any) -> bool:
    return is_dataclass(value) and has_object_definition(value)


def _is_unset(value: Any) -> bool:
    return isinstance(value, UnsetType)
