"""The `DateTime` scalar as the Data Index prints and parses it.

Output is UTC ISO-8601 with milliseconds and `Z`; input accepts ISO-8601 with any
offset (no offset means UTC), a date alone, or epoch milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.types.scalar import ScalarDefinition

from graphql import IntValueNode, StringValueNode, ValueNode
from knflow.events.kogito import render_date


def render(value: datetime) -> str:
    """Render an aware datetime for output."""
    return render_date(value)


def parse(value: Any) -> datetime:
    """Parse an input value.

    Raises:
        ValueError: not a date (graphql-core reports it as an invalid value).
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a DateTime")
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_literal(node: ValueNode, variables: Any = None) -> datetime:
    """Parse an inline literal."""
    if isinstance(node, StringValueNode):
        return parse(node.value)
    if isinstance(node, IntValueNode):
        return parse(int(node.value))
    raise ValueError("a DateTime literal must be a string")


def definition() -> ScalarDefinition:
    """Return the scalar definition mapped to `datetime` in the schema."""
    scalar: ScalarDefinition = strawberry.scalar(
        name="DateTime",
        description="An ISO-8601 date and time; output in UTC with a Z suffix.",
        serialize=render,
        parse_value=parse,
        parse_literal=parse_literal,
    )
    return scalar
