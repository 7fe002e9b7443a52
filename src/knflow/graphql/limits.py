"""What one GraphQL document may cost: selection depth, aliases and a field-count cost.

Checked at validation, before anything runs, with fragments expanded where they are used
(so a fragment spread many times counts many times, and a "fragment bomb" that doubles at
every level is priced without being expanded). Each refusal is a GraphQL validation
error naming the limit and the setting that raises it.

Cost: one per field selected, `ROOT_FIELD_COST` per root field (each root field is one
database query, and 1,000 aliases of `ProcessInstances` are 1,000 queries).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
)

ROOT_FIELD_COST: Final = 10
"""Cost of a root field beyond its own selection: one database query."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryLimits:
    """The limits of one GraphQL document (see `config.Settings`)."""

    max_depth: int = 15
    """Deepest selection (`KNFLOW_GRAPHQL_MAX_DEPTH`)."""
    max_aliases: int = 30
    """Most aliased fields (`KNFLOW_GRAPHQL_MAX_ALIASES`)."""
    max_cost: int = 2000
    """Highest cost (`KNFLOW_GRAPHQL_MAX_COST`)."""


@dataclass(frozen=True, slots=True)
class _Measure:
    depth: int
    aliases: int
    cost: int

    def plus(self, other: _Measure) -> _Measure:
        return _Measure(
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            self.cost + other.cost,
        )


_NOTHING: Final = _Measure(0, 0, 0)


@cache
def rule(limits: QueryLimits) -> type[ASTValidationRule]:
    """Return the validation rule enforcing `limits` (one class per limits, for caching)."""

    class QueryLimitsRule(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            for error in measure_errors(context.document.definitions, limits):
                context.report_error(error)

    return QueryLimitsRule


def measure_errors(definitions: Any, limits: QueryLimits) -> list[GraphQLError]:
    """Return one error per limit the operations of a document exceed."""
    fragments = {
        node.name.value: node
        for node in definitions
        if isinstance(node, FragmentDefinitionNode)
    }
    measurer = _Measurer(fragments)
    errors: list[GraphQLError] = []
    for node in definitions:
        if isinstance(node, OperationDefinitionNode):
            measured = measurer.selection(node.selection_set, root=True)
            errors += _errors(measured, limits)
    return errors


def _errors(measured: _Measure, limits: QueryLimits) -> list[GraphQLError]:
    found = []
    if measured.depth > limits.max_depth:
        found.append(
            f"the query nests {measured.depth} levels; at most {limits.max_depth}"
            " are allowed (KNFLOW_GRAPHQL_MAX_DEPTH)"
        )
    if measured.aliases > limits.max_aliases:
        found.append(
            f"the query uses {measured.aliases} aliases; at most {limits.max_aliases}"
            " are allowed (KNFLOW_GRAPHQL_MAX_ALIASES)"
        )
    if measured.cost > limits.max_cost:
        found.append(
            f"the query costs {measured.cost} (one per field, {ROOT_FIELD_COST} per"
            f" root field); at most {limits.max_cost} is allowed (KNFLOW_GRAPHQL_MAX_COST)"
        )
    return [GraphQLError(message) for message in found]


class _Measurer:
    """Measures selection sets; each fragment once, its measure reused at every spread."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self._fragments = fragments
        self._measured: dict[str, _Measure] = {}
        self._measuring: set[str] = set()

    def selection(
        self, selection_set: SelectionSetNode | None, *, root: bool = False
    ) -> _Measure:
        total = _NOTHING
        for node in selection_set.selections if selection_set else ():
            total = total.plus(self._node(node, root=root))
        return total

    def _node(self, node: Any, *, root: bool) -> _Measure:
        if isinstance(node, FieldNode):
            inner = self.selection(node.selection_set)
            own = _Measure(
                1, 1 if node.alias else 0, 1 + (ROOT_FIELD_COST if root else 0)
            )
            return _Measure(
                inner.depth + 1, inner.aliases + own.aliases, inner.cost + own.cost
            )
        if isinstance(node, InlineFragmentNode):
            return self.selection(node.selection_set, root=root)
        if isinstance(node, FragmentSpreadNode):
            return self._fragment(node.name.value, root=root)
        return _NOTHING

    def _fragment(self, name: str, *, root: bool) -> _Measure:
        key = f"{name}/{root}"
        if key in self._measured:
            return self._measured[key]
        fragment = self._fragments.get(name)
        if fragment is None or key in self._measuring:
            return _NOTHING  # unknown or cyclic: graphql's own rules report it
        self._measuring.add(key)
        measured = self.selection(fragment.selection_set, root=root)
        self._measuring.discard(key)
        self._measured[key] = measured
        return measured
