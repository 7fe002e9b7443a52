"""The executor of Data Index operations: plain-attribute fields completed inline.

graphql-core completes every field of every row the same general way: a path object, a
resolve info, strawberry's resolver wrappers, then `complete_value`'s type dispatch. For
the Data Index that was most of a list query's time (~30 µs a field, ~60-130 fields a
request), although nearly all fields below the root are plain attributes of the row
objects (`ProcessInstance.of`, `NodeInstance.of`): scalars, enums, lists of them, and
objects or lists of objects made of them (`nodes`, `parentProcessInstance`, `error`).

`PlainFieldExecutor` reads such a field with `getattr` and coerces it with the type's own
`coerce_output_value`, exactly what graphql-core would have returned; how each response
key of a selection set is completed is planned once per request. Everything else, and
any plain field whose value graphql-core would turn into an error (a null for a non-null
type, a value the type refuses), goes through graphql-core's own `execute_fields`
unchanged: root fields, resolvers, errors, directives other than `@include`/`@skip`,
`@stream`/`@defer`. Reading attributes has no side effects, so handing a field back
after looking at it is safe.

Fields with a resolver (the root queries, `childProcessInstances`, ...) are called the
way strawberry's wrapper calls a sync resolver without field extensions, except that
their converted arguments are memoized by field node and variables: graphql-core's
coercion and strawberry's conversion walk every field of the big filter input types,
and the plugin polls with the same query text and variables.

tests/graphql/test_executor_equivalence.py holds both executors to the same bytes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from graphql.execution.collect_fields import FieldDetails, GroupedFieldSet
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import convert_arguments
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
from knflow.memo import Memo

LeafType = GraphQLScalarType | GraphQLEnumType
TYPENAME: Final = "__typename"
CONDITIONS: Final = frozenset({"include", "skip"})
"""Directives `collect_fields` has already applied; any other sends a field back."""


class _Refused(Exception):
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
            _Refused: graphql-core would answer an error (or something this does not
                know); the caller hands the field to graphql-core.
        """
        value = getattr(source, self.attribute, Undefined)
        if value is Undefined:
            raise _Refused  # no such attribute: strawberry's getattr raises
        if not self.is_list or value is None:
            return _completed(self.leaf, value, non_null=self.non_null)
        if type(value) is not list:
            raise _Refused
        non_null = self.items_non_null
        return [_completed(self.leaf, item, non_null=non_null) for item in value]


def _completed(leaf: LeafType, value: Any, *, non_null: bool) -> Any:
    """`complete_value` of a leaf: null, or the type's coercion; refusing any error."""
    if value is None or value is Undefined:
        if non_null:
            raise _Refused
        return None
    if leaf is GraphQLString and type(value) is str:
        return value  # what String's coercion returns for a str, without the calls
    if isinstance(value, Exception):
        raise _Refused
    try:
        coerced = leaf.coerce_output_value(value)
    except Exception as error:
        raise _Refused from error
    if coerced is None or coerced is Undefined:
        raise _Refused
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
            _Refused: graphql-core would answer an error.
        """
        value = getattr(source, self.attribute, Undefined)
        if value is Undefined or isinstance(value, Exception):
            raise _Refused
        if value is None:
            if self.non_null:
                raise _Refused
            return None
        if not self.is_list:
            return self._item(value, fields)
        if type(value) is not list:
            raise _Refused
        return [self._item(item, fields) for item in value]

    def _item(self, item: Any, fields: list[tuple[str, PlainField | None]]) -> Any:
        """A list item, or the object itself (never null: checked before)."""
        if item is None or item is Undefined:
            if self.items_non_null:
                raise _Refused
            return None
        if isinstance(item, Exception):
            raise _Refused
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
        _Refused: a selected field is not a plain leaf one.
    """
    plan = plain_fields(object_type, without_middleware=True)
    fields: list[tuple[str, PlainField | None]] = []
    for response_name, details in subfields.items():
        name = details[0].node.name.value
        field = None if name == TYPENAME else plan.get(name)
        if not _unconditional(details) or (field is None and name != TYPENAME):
            raise _Refused
        if field is not None and not isinstance(field, PlainField):
            raise _Refused
        fields.append((response_name, field))
    return fields


@dataclass(frozen=True, slots=True)
class _TypeName:
    """`__typename`: the name of the object's type."""

    name: str

    def complete(self, source: Any) -> Any:
        return self.name


@dataclass(frozen=True, slots=True)
class _SelectedObjects:
    """A `PlainObjects` field with the plain fields selected on its objects."""

    field: PlainObjects
    fields: list[tuple[str, PlainField | None]]

    def complete(self, source: Any) -> Any:
        return self.field.complete(source, self.fields)


Step = PlainField | _TypeName | _SelectedObjects
"""How one response key of a selection set is completed here (None: by graphql-core)."""


class PlainFieldExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, completing plain-attribute fields inline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._steps: dict[
            tuple[GraphQLObjectType, int],
            tuple[GroupedFieldSet, list[tuple[str, Step | None, list[FieldDetails]]]],
        ] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        """Complete the plain fields here and the others through graphql-core, in order."""
        done: dict[str, Any] = {}
        others: GroupedFieldSet = {}
        for response_name, step, details in self._steps_of(
            parent_type, grouped_field_set
        ):
            if step is not None:
                try:
                    done[response_name] = step.complete(source_value)
                    continue
                except _Refused:
                    pass
            others[response_name] = details
        if not others:
            return done
        rest = super().execute_fields(
            parent_type, source_value, path, others, position_context
        )
        if isinstance(rest, dict):
            return _merged(grouped_field_set, done, rest)
        return _merged_later(grouped_field_set, done, rest)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: list[FieldDetails],
        path: Path,
        position_context: Any,
    ) -> Any:
        """Call a plain strawberry resolver directly, its converted arguments memoized.

        What strawberry's resolver wrapper does for a sync resolver without field
        extensions or exception handlers, minus re-converting the same arguments: the
        plugin polls with the same query text and variables. Any other field is
        graphql-core's (and strawberry's) own.
        """
        field_def = self.schema.get_field(
            parent_type, field_details_list[0].node.name.value
        )
        strawberry_schema = getattr(self.schema, "_strawberry_schema", None)
        definition = _direct_resolver(field_def, strawberry_schema)
        manager = self.middleware_manager
        if (
            field_def is None
            or definition is None
            or (manager is not None and manager.middlewares)
        ):
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        return_type = field_def.type
        info = self.build_resolve_info(
            field_def, [d.node for d in field_details_list], parent_type, path
        )
        try:
            result = self._resolved(
                strawberry_schema,
                field_def,
                definition,
                source,
                info,
                field_details_list[0],
            )
            completed = self.complete_value(
                return_type, field_details_list, info, path, result, position_context
            )
        except Exception as raw_error:  # noqa: BLE001 - graphql-core's rule: a field error
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        return completed

    def _resolved(
        self,
        strawberry_schema: Any,
        field_def: GraphQLField,
        definition: StrawberryField,
        source: Any,
        info: Any,
        first: FieldDetails,
    ) -> Any:
        """Strawberry's `get_arguments` and `get_result`, the conversion memoized."""
        strawberry_info = strawberry_schema.config.info_class(
            _raw_info=info, _field=definition
        )
        kwargs = dict(
            self._arguments(
                strawberry_schema, field_def, definition, first, strawberry_info
            )
        )
        resolver = definition.base_resolver
        assert resolver is not None  # checked by _direct_resolver
        args = [source] if resolver.self_parameter else []
        for parameter in (resolver.parent_parameter, resolver.root_parameter):
            if parameter is not None:
                kwargs[parameter.name] = source
        if resolver.info_parameter is not None:
            kwargs[resolver.info_parameter.name] = strawberry_info
        return definition.get_result(source, strawberry_info, args, kwargs)

    def _arguments(
        self,
        strawberry_schema: Any,
        field_def: GraphQLField,
        definition: StrawberryField,
        first: FieldDetails,
        strawberry_info: Any,
    ) -> dict[str, Any]:
        node = first.node
        if not field_def.args and not node.arguments:
            return {}
        key = _arguments_key(node, first, self.variable_values.coerced)
        if key is not None:
            found = _ARGUMENTS.get(key)
            if found is not None and found[0] is node:
                return found[1]
        raw = get_argument_values(
            field_def,
            node,
            self.variable_values,
            first.fragment_variable_values,
            self.hide_suggestions,
        )
        converted = convert_arguments(
            raw,
            definition.arguments,
            scalar_registry=strawberry_schema.schema_converter.scalar_registry,
            config=strawberry_schema.config,
            info=strawberry_info,
        )
        if key is not None:
            _ARGUMENTS.put(key, (node, converted))
        return converted

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: list[FieldDetails],
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """Complete an object, or a list of objects, whose selected fields are all plain
        here (the rows a resolver returned); anything else through graphql-core."""
        shape = _object_shape(return_type)
        if shape is not None and _unconditional(field_details_list):
            try:
                return self._plain_objects(shape, field_details_list, result)
            except _Refused:
                pass
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _plain_objects(
        self, shape: ObjectShape, details: list[FieldDetails], result: Any
    ) -> Any:
        """The completed value, computed without side effects, or `_Refused`."""
        if result is None or result is Undefined or isinstance(result, Exception):
            raise _Refused  # graphql-core's null, error or non-null violation
        steps = self._object_steps(shape.object_type, details)
        if not shape.is_list:
            return _object(result, steps)
        if type(result) is not list:
            raise _Refused
        return [
            _nullable_item(item, steps, non_null=shape.items_non_null)
            for item in result
        ]

    def _object_steps(
        self, object_type: GraphQLObjectType, details: list[FieldDetails]
    ) -> list[tuple[str, Step]]:
        """The steps of the fields selected on `object_type`, when all are plain."""
        collected = self.collect_subfields(object_type, details)
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            raise _Refused
        steps = []
        for name, step, _ in self._steps_of(object_type, collected.grouped_field_set):
            if step is None:
                raise _Refused
            steps.append((name, step))
        return steps

    def _steps_of(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> list[tuple[str, Step | None, list[FieldDetails]]]:
        """The steps of a selection set, planned once per request and object type.

        Like graphql-core's own memo, the key is the selection set's identity, and the
        set is kept with the steps so that its id is not reused during the request.
        """
        key = (parent_type, id(grouped_field_set))
        found = self._steps.get(key)
        if found is None:
            manager = self.middleware_manager
            plan = plain_fields(parent_type, manager is None or not manager.middlewares)
            steps = [
                (name, self._step(parent_type, plan, details), details)
                for name, details in grouped_field_set.items()
            ]
            found = (grouped_field_set, steps)
            self._steps[key] = found
        return found[1]

    def _step(
        self,
        parent_type: GraphQLObjectType,
        plan: Mapping[str, Plain],
        details: list[FieldDetails],
    ) -> Step | None:
        if not _unconditional(details):
            return None
        name = details[0].node.name.value
        if name == TYPENAME:
            return _TypeName(parent_type.name)
        field = plan.get(name)
        if field is None or isinstance(field, PlainField):
            return field
        collected = self.collect_subfields(field.object_type, details)
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            return None
        try:
            fields = item_fields(field.object_type, collected.grouped_field_set)
        except _Refused:
            return None
        return _SelectedObjects(field, fields)


@dataclass(frozen=True, slots=True)
class ObjectShape:
    """An output type that is an object type, or a list of one, with no `is_type_of`."""

    object_type: GraphQLObjectType
    is_list: bool
    items_non_null: bool


def _object_shape(output: GraphQLOutputType) -> ObjectShape | None:
    nullable = output.of_type if isinstance(output, GraphQLNonNull) else output
    is_list = isinstance(nullable, GraphQLList)
    item = nullable.of_type if isinstance(nullable, GraphQLList) else nullable
    items_non_null = isinstance(item, GraphQLNonNull)
    object_type = item.of_type if isinstance(item, GraphQLNonNull) else item
    if not isinstance(object_type, GraphQLObjectType) or object_type.is_type_of:
        return None
    return ObjectShape(object_type, is_list, items_non_null)


def _object(source: Any, steps: list[tuple[str, Step]]) -> dict[str, Any]:
    return {name: step.complete(source) for name, step in steps}


def _nullable_item(
    item: Any, steps: list[tuple[str, Step]], *, non_null: bool
) -> dict[str, Any] | None:
    if item is None or item is Undefined:
        if non_null:
            raise _Refused
        return None
    if isinstance(item, Exception):
        raise _Refused
    return _object(item, steps)


def _unconditional(details: Sequence[FieldDetails]) -> bool:
    """Whether the field's nodes carry no directive but the ones already applied."""
    return all(
        directive.name.value in CONDITIONS
        for detail in details
        for directive in detail.node.directives or ()
    )


def _merged(
    order: Mapping[str, Any], done: dict[str, Any], rest: Mapping[str, Any]
) -> dict[str, Any]:
    """The fields in the order of the selection (the answer's key order)."""
    merged: dict[str, Any] = {}
    for name in order:
        if name in done:
            merged[name] = done[name]
        elif name in rest:
            merged[name] = rest[name]
    return merged


async def _merged_later(
    order: Mapping[str, Any], done: dict[str, Any], rest: Awaitable[Mapping[str, Any]]
) -> dict[str, Any]:
    return _merged(order, done, await rest)


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


ArgumentsKey = tuple[int, str]
CACHED_ARGUMENTS: Final = 1024
"""Converted arguments kept per process (field node and variables)."""
MEMO_VARIABLES_LENGTH: Final = 4096
"""Variables longer than this (as text) are converted every time, not kept."""
_ARGUMENTS: Final[Memo[ArgumentsKey, tuple[Any, dict[str, Any]]]] = Memo(
    CACHED_ARGUMENTS
)


def _arguments_key(
    node: Any, first: FieldDetails, variables: Mapping[str, Any]
) -> ArgumentsKey | None:
    """The memo key of a field's arguments: its node (whose document is cached by query
    text) and the request's variables, or None when they are not worth keeping.

    The node itself is kept with the value and compared, so a reused id never matches.
    """
    if first.fragment_variable_values is not None:
        return None
    text = repr(sorted(variables.items())) if variables else ""
    if len(text) > MEMO_VARIABLES_LENGTH:
        return None
    return (id(node), text)


def _direct_resolver(
    field_def: GraphQLField | None, strawberry_schema: Any
) -> StrawberryField | None:
    """The strawberry field whose resolver `execute_field` may call itself, if any."""
    if field_def is None or strawberry_schema is None:
        return None
    definition = (field_def.extensions or {}).get(
        GraphQLCoreConverter.DEFINITION_BACKREF
    )
    converter = strawberry_schema.schema_converter
    if (
        not isinstance(definition, StrawberryField)
        or definition.base_resolver is None
        or definition.is_async
        or definition.extensions
        or getattr(converter, "_exception_handler_specs", True)
        or getattr(field_def.resolve, "_is_default", True)
    ):
        return None
    return definition
