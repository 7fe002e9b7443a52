"""A row factory for the frozen, slotted dataclasses the Data Index reads its rows into.

psycopg's `class_row` calls the class with the row as keyword arguments, and a frozen
dataclass's `__init__` sets each of its fields through `object.__setattr__`: ~6 µs a row
for `IndexedNode` or `IndexedInstance`, more than the database takes to send it (a page
of the plugin's runs list is 10 instances and their 20 nodes). `frozen_row` sets the
slots directly, each through its own descriptor, which is what that `__setattr__` ends
in, and gives the fields the row lacks their defaults as `__init__` would. It reads the
columns' names from the result itself: `cursor.description` builds a `Column`, with its
type lookups, for every column of every statement, which cost as much as the rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from psycopg.rows import BaseRowFactory, RowMaker, class_row

from knflow.memo import Memo

T = TypeVar("T")
Setter = Callable[[Any, Any], None]


def frozen_row(cls: type[T]) -> BaseRowFactory[T]:
    """`class_row(cls)` for a frozen dataclass with slots, no `__post_init__` and every
    field set by `__init__`.

    Raises:
        TypeError: `cls` is not such a dataclass.
    """
    if not _is_frozen_with_slots(cls):
        raise TypeError(f"{cls.__name__} is not a frozen dataclass with slots")

    def factory(cursor: Any) -> RowMaker[T]:
        names = _column_names(cursor)
        if names is None:
            return class_row(cls)(cursor)  # no columns: as psycopg itself answers
        plan = _plan(cls, names)
        if plan is None:
            return class_row(cls)(cursor)  # its TypeError, as the class would raise
        return _maker(cls, plan)

    return factory


def row_maker(cls: type[T], names: tuple[str, ...]) -> RowMaker[T]:
    """Make `cls` objects of value sequences in the order of `names`, as `frozen_row`
    makes them of a statement's rows: for rows read some other way (nested in a column).

    Raises:
        TypeError: `cls` is not a frozen dataclass with slots, or `names` are not
            columns its `__init__` would take.
    """
    if not _is_frozen_with_slots(cls):
        raise TypeError(f"{cls.__name__} is not a frozen dataclass with slots")
    plan = _plan(cls, names)
    if plan is None:
        raise TypeError(f"{cls.__name__} cannot be built of the columns {names}")
    return _maker(cls, plan)


@dataclasses.dataclass(frozen=True, slots=True)
class _Plan:
    """How rows of one list of columns become objects."""

    setters: tuple[Setter, ...]
    """The slot setter of each column, in order."""
    defaults: tuple[tuple[Setter, Any], ...]
    """The other fields with a default value."""
    factories: tuple[tuple[Setter, Callable[[], Any]], ...]
    """The other fields with a default factory."""


def _column_names(cursor: Any) -> tuple[str, ...] | None:
    """The current result's column names, or None when it has no named columns (no
    result, no columns, a COPY)."""
    result = cursor.pgresult
    if result is None or not result.nfields:
        return None
    raw = [result.fname(index) for index in range(result.nfields)]
    if None in raw:
        return None
    encoding = cursor.connection.info.encoding
    return tuple(name.decode(encoding) for name in raw)


def _plan(cls: type[Any], names: tuple[str, ...]) -> _Plan | None:
    """The plan of `names`, once per class and columns; None when `__init__` would
    refuse the rows (a column that is no field, a required field without a column)."""
    key = (id(cls), names)
    found = _PLANS.get(key)
    if found is not None and found[0] is cls:
        return found[1]
    fields = {field.name: field for field in dataclasses.fields(cls)}
    missing = [field for name, field in fields.items() if name not in names]
    if not set(names) <= set(fields) or any(_required(field) for field in missing):
        return None
    plan = _Plan(
        setters=tuple(_setter(cls, name) for name in names),
        defaults=tuple(
            (_setter(cls, field.name), field.default)
            for field in missing
            if field.default is not dataclasses.MISSING
        ),
        factories=tuple(
            (_setter(cls, field.name), field.default_factory)
            for field in missing
            if field.default_factory is not dataclasses.MISSING
        ),
    )
    _PLANS.put(key, (cls, plan))
    return plan


CACHED_PLANS: Final = 256
"""Column lists (of the queries' projections) whose plans are kept, per class."""
_PLANS: Final[Memo[tuple[int, tuple[str, ...]], tuple[type[Any], _Plan]]] = Memo(
    CACHED_PLANS
)


def _maker(cls: type[T], plan: _Plan) -> RowMaker[T]:
    """Build rows: the values read in their columns' slots, defaults in the others."""
    new = object.__new__
    setters, defaults, factories = plan.setters, plan.defaults, plan.factories

    def make(values: Sequence[Any]) -> T:
        row: T = new(cls)
        for set_slot, value in zip(setters, values, strict=True):
            set_slot(row, value)
        for set_slot, default in defaults:
            set_slot(row, default)
        for set_slot, make_default in factories:
            set_slot(row, make_default())
        return row

    return make


def _is_frozen_with_slots(cls: type[Any]) -> bool:
    params = getattr(cls, "__dataclass_params__", None)
    return bool(
        getattr(params, "frozen", False)
        and "__slots__" in vars(cls)
        and not hasattr(cls, "__post_init__")
        and all(field.init for field in dataclasses.fields(cls))
    )


def _setter(cls: type[Any], name: str) -> Setter:
    """The `__set__` of the slot `name` (declared by `cls` or a base class)."""
    slot = next(vars(klass)[name] for klass in cls.__mro__ if name in vars(klass))
    setter: Setter = slot.__set__
    return setter


def _required(field: dataclasses.Field[Any]) -> bool:
    return (
        field.default is dataclasses.MISSING
        and field.default_factory is dataclasses.MISSING
    )
