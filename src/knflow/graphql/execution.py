"""The executor of Data Index operations: plain fields inline, resolvers called directly.

graphql-core completes every field of every row the same general way: a path object, a
resolve info, strawberry's resolver wrappers, then `complete_value`'s type dispatch. For
the Data Index that was most of a list query's time (~30 µs a field, ~60-130 fields a
request), although nearly all fields below the root are plain attributes of the row
objects (`ProcessInstance.of`, `NodeInstance.of`).

`PlainFieldExecutor` completes those by the plans of `plain_fields`, planned once per
request and selection set, and hands everything else (and any field a plan refuses) to
graphql-core's own `execute_fields`/`complete_value` unchanged. Fields with a resolver
(the root queries, `childProcessInstances`, ...) are called the way strawberry's wrapper
calls a sync resolver without field extensions, except that their converted arguments
are memoized by field node and variables: graphql-core's coercion and strawberry's
conversion walk every field of the big filter input types, and the plugin polls with the
same query text and variables.

tests/graphql/test_executor_equivalence.py holds both executors to the same bytes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, Final

from graphql.execution.collect_fields import FieldDetails, GroupedFieldSet
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

from graphql import GraphQLField, GraphQLObjectType, GraphQLOutputType, Undefined
from knflow.graphql.plain_fields import (
    TYPENAME,
    ObjectShape,
    Plain,
    PlainField,
    Refused,
    SelectedObjects,
    Step,
    TypeName,
    completed_object,
    is_unconditional,
    item_fields,
    nullable_item,
    object_shape,
    plain_fields,
)
from knflow.memo import Memo


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
                except Refused:
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
        shape = object_shape(return_type)
        if shape is not None and is_unconditional(field_details_list):
            try:
                return self._plain_objects(shape, field_details_list, result)
            except Refused:
                pass
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _plain_objects(
        self, shape: ObjectShape, details: list[FieldDetails], result: Any
    ) -> Any:
        """The completed value, computed without side effects, or `Refused`."""
        if result is None or result is Undefined or isinstance(result, Exception):
            raise Refused  # graphql-core's null, error or non-null violation
        steps = self._object_steps(shape.object_type, details)
        if not shape.is_list:
            return completed_object(result, steps)
        if type(result) is not list:
            raise Refused
        return [
            nullable_item(item, steps, non_null=shape.items_non_null) for item in result
        ]

    def _object_steps(
        self, object_type: GraphQLObjectType, details: list[FieldDetails]
    ) -> list[tuple[str, Step]]:
        """The steps of the fields selected on `object_type`, when all are plain."""
        collected = self.collect_subfields(object_type, details)
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            raise Refused
        steps = []
        for name, step, _ in self._steps_of(object_type, collected.grouped_field_set):
            if step is None:
                raise Refused
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
        if not is_unconditional(details):
            return None
        name = details[0].node.name.value
        if name == TYPENAME:
            return TypeName(parent_type.name)
        field = plan.get(name)
        if field is None or isinstance(field, PlainField):
            return field
        collected = self.collect_subfields(field.object_type, details)
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            return None
        try:
            fields = item_fields(field.object_type, collected.grouped_field_set)
        except Refused:
            return None
        return SelectedObjects(field, fields)


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
