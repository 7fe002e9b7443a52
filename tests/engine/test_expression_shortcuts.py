"""Expressions answered without handing the data to jq: plain paths and variable reads."""

from __future__ import annotations

import pytest

from knflow.engine.expressions import Evaluator, Scope
from knflow.errors import ExpressionError

SCOPE = Scope(variables={"item": {"id": 4}})

FIELD_PATHS = {
    "missing": (".a.b", {}, ["a", "b"]),
    "null-on-the-way": (".a.b", {"a": None}, ["a", "b"]),
    "present": ("${ .a.b }", {"a": {"b": 1}}, ["a", "b"]),
    "null-data": (".n", None, ["n"]),
}


@pytest.mark.parametrize(
    ("expression", "data", "expected"), FIELD_PATHS.values(), ids=FIELD_PATHS.keys()
)
def test_a_field_path_gives_its_keys(expression, data, expected) -> None:
    assert Evaluator().assign_path(expression, data, SCOPE) == expected


def test_a_field_path_through_a_number_fails_as_jq_does() -> None:
    with pytest.raises(ExpressionError, match="Cannot index number"):
        Evaluator().assign_path(".a.b", {"a": 5}, SCOPE)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [("$item", {"id": 4}), ("${ $item.id }", 4)],
    ids=["variable", "variable-field"],
)
def test_a_variable_read_never_reads_the_data(expression, expected) -> None:
    unserialisable = {"items": {1, 2}}  # jq would refuse this data, were it handed over

    assert Evaluator().evaluate(expression, unserialisable, SCOPE) == expected


def test_a_program_that_reads_the_data_still_gets_it() -> None:
    assert Evaluator().evaluate("$item.id + .n", {"n": 1}, SCOPE) == 5
