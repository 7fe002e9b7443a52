"""Fields completed by reading attributes: the plans `execution.PlainFieldExecutor` follows.

A plain field is one strawberry resolves with `getattr` (no resolver, no arguments, no
field extension) whose type is a scalar, an enum, a list of them, or an object type (or
a list of one) without `is_type_of`. Completing one here gives what graphql-core's
`complete_value` gives, or raises `Refused` where graphql-core would answer an error or
do something this does not know; nothing here has side effects, so a refused field is
simply completed by graphql-core instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from graphql.execution.collect_fields import FieldDetails, GroupedFieldSet
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
    Undefined,
)

LeafType = GraphQLScalarType | GraphQLEnumType
TYPENAME: Final = "__typename"
CONDITIONS: Final = frozenset({"include", "skip"})
"""Directives `collect_fields` has already applied; any other sends a field back."""


class Refused(Exception):
    """A plain field graphql-core must complete itself (it would report an error)."""


@dataclass(frozen=True, slots=True)
class PlainField:
    """A field resolved by reading one attribute, of a leaf type or a list of one."""

    attribute: str
    """The Python attribute holding the value."""
    leaf: LeafType
    """The scalar or enum the value (or each item) is coerced by."""
    non_null: bool
    """Whether a null value is an error (graphql-core reports it)."""
    is_list: bool
    """Whether the value is a list of `leaf` values."""
    items_non_null: bool
    """Whether a null item is an error (lists only)."""

    def complete(self, source: Any) -> Any:
        """Return the field's completed value for `source`.

        Raises:
            Refused: graphql-core would answer an error (or something this does not
                know); the caller hands the field to graphql-core.
        """
        value = getattr(source, self.attribute, Undefined)
        if value is Undefined:
            raise Refused  # no such attribute: strawberry's getattr raises
        if not self.is_list or value is None:
            return _completed(self.leaf, value, non_null=self.non_null)
        if type(value) is not list:
            raise Refused
        non_null = self.items_non_null
        return [_completed(self.leaf, item, non_null=non_null) for item in value]


def _completed(leaf: LeafType, value: Any, *, non_null: bool) -> Any:
    """`complete_value` of a leaf: null, or the type's coercion; refusing any error."""
    if value is None or value is Undefined:
        if non_null:
            raise Refused
        return None
    if leaf is GraphQLString and type(value) is str:
        return value  # what String's coercion returns for a str, without the calls
    if isinstance(value, Exception):
        raise Refused
    try:
        coerced = leaf.coerce_output_value(value)
    except Exception as error:
        raise Refused from error
    if coerced is None or coerced is Undefined:
        raise Refused
    return coerced


@dataclass(frozen=True, slots=True)
class PlainObjects:
    """A field resolved by reading one attribute holding an object or a list of them
    (`parentProcessInstance`, `nodes`)."""

    attribute: str
    """The Python attribute holding the object or the list."""
    object_type: GraphQLObjectType
    """The type of the object (of the items)."""
    non_null: bool
    """Whether a null value is an error."""
    is_list: bool
    """Whether the value is a list of objects."""
    items_non_null: bool
    """Whether a null item is an error (lists only)."""

    def complete(self, source: Any, fields: list[tuple[str, PlainField | None]]) -> Any:
        """Return the completed value with `fields` (`item_fields`) on each object.

        Everything is completed before anything is returned, so a refusal leaves no
        trace and graphql-core completes the whole field instead.

        Raises:
            Refused: graphql-core would answer an error.
        """
        value = getattr(source, self.attribute, Undefined)
        if value is Undefined or isinstance(value, Exception):
            raise Refused
        if value is None:
            if self.non_null:
                raise Refused
            return None
        if not self.is_list:
            return self._item(value, fields)
        if type(value) is not list:
            raise Refused
        return [self._item(item, fields) for item in value]

    def _item(self, item: Any, fields: list[tuple[str, PlainField | None]]) -> Any:
        """A list item, or the object itself (never null: checked before)."""
        if item is None or item is Undefined:
            if self.items_non_null:
                raise Refused
            return None
        if isinstance(item, Exception):
            raise Refused
        type_name = self.object_type.name
        return {
            name: type_name if field is None else field.complete(item)
            for name, field in fields
        }


def item_fields(
    object_type: GraphQLObjectType, subfields: GroupedFieldSet
) -> list[tuple[str, PlainField | None]]:
    """The plain field of each response name (None: `__typename`).

    Raises:
        Refused: a selected field is not a plain leaf one.
    """
    plan = plain_fields(object_type, without_middleware=True)
    fields: list[tuple[str, PlainField | None]] = []
    for response_name, details in subfields.items():
        name = details[0].node.name.value
        field = None if name == TYPENAME else plan.get(name)
        if not is_unconditional(details) or (field is None and name != TYPENAME):
            raise Refused
        if field is not None and not isinstance(field, PlainField):
            raise Refused
        fields.append((response_name, field))
    return fields


@dataclass(frozen=True, slots=True)
class TypeName:
    """`__typename`: the name of the object's type."""

    name: str

    def complete(self, source: Any) -> Any:
        return self.name


@dataclass(frozen=True, slots=True)
class SelectedObjects:
    """A `PlainObjects` field with the plain fields selected on its objects."""

    field: PlainObjects
    fields: list[tuple[str, PlainField | None]]

    def complete(self, source: Any) -> Any:
        return self.field.complete(source, self.fields)


Step = PlainField | TypeName | SelectedObjects
"""How one response key of a selection set is completed here (None: by graphql-core)."""


@dataclass(frozen=True, slots=True)
class ObjectShape:
    """An output type that is an object type, or a list of one, with no `is_type_of`."""

    object_type: GraphQLObjectType
    is_list: bool
    items_non_null: bool


def object_shape(output: GraphQLOutputType) -> ObjectShape | None:
    nullable = output.of_type if isinstance(output, GraphQLNonNull) else output
    is_list = isinstance(nullable, GraphQLList)
    item = nullable.of_type if isinstance(nullable, GraphQLList) else nullable
    items_non_null = isinstance(item, GraphQLNonNull)
    object_type = item.of_type if isinstance(item, GraphQLNonNull) else item
    if not isinstance(object_type, GraphQLObjectType) or object_type.is_type_of:
        return None
    return ObjectShape(object_type, is_list, items_non_null)


def completed_object(source: Any, steps: list[tuple[str, Step]]) -> dict[str, Any]:
    return {name: step.complete(source) for name, step in steps}


def nullable_item(
    item: Any, steps: list[tuple[str, Step]], *, non_null: bool
) -> dict[str, Any] | None:
    if item is None or item is Undefined:
        if non_null:
            raise Refused
        return None
    if isinstance(item, Exception):
        raise Refused
    return completed_object(item, steps)


def is_unconditional(details: Sequence[FieldDetails]) -> bool:
    """Whether the field's nodes carry no directive but the ones already applied."""
    return all(
        directive.name.value in CONDITIONS
        for detail in details
        for directive in detail.node.directives or ()
    )


Plain = PlainField | PlainObjects
_PLANS: dict[GraphQLObjectType, Mapping[str, Plain]] = {}


def plain_fields(
    parent_type: GraphQLObjectType, without_middleware: bool
) -> Mapping[str, Plain]:
    """The fields of `parent_type` completed here, by GraphQL name.

    Empty when a middleware wraps resolvers (a strawberry extension's `resolve` hook must
    see every field). Computed once per type.
    """
    if not without_middleware:
        return {}
    found = _PLANS.get(parent_type)
    if found is None:
        found = {
            name: plain
            for name, field in parent_type.fields.items()
            if (plain := _plain_field(field)) is not None
        }
        _PLANS[parent_type] = found
    return found


def _plain_field(field: GraphQLField) -> Plain | None:
    """The plan of a field strawberry resolves by `getattr`, if its type is one of ours."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if (
        not isinstance(definition, StrawberryField)
        or definition.base_resolver is not None
        or definition.extensions
        or definition.default_resolver is not getattr
        or field.args
        or not getattr(field.resolve, "_is_default", False)
    ):
        return None
    return _plan(definition.python_name, field.type)


def _plan(attribute: str, output: GraphQLOutputType) -> Plain | None:
    non_null = isinstance(output, GraphQLNonNull)
    inner = output.of_type if isinstance(output, GraphQLNonNull) else output
    if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
        return PlainField(attribute, inner, non_null, False, False)
    if isinstance(inner, GraphQLObjectType) and inner.is_type_of is None:
        return PlainObjects(attribute, inner, non_null, False, False)
    if not isinstance(inner, GraphQLList):
        return None
    item = inner.of_type
    items_non_null = isinstance(item, GraphQLNonNull)
    leaf = item.of_type if isinstance(item, GraphQLNonNull) else item
    if isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
        return PlainField(attribute, leaf, non_null, True, items_non_null)
    if isinstance(leaf, GraphQLObjectType) and leaf.is_type_of is None:
        return PlainObjects(attribute, leaf, non_null, True, items_non_null)
    return None
