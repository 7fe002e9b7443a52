"""Every GraphQL query shape the real Orchestrator plugin sent, replayed against our Data Index.

`tests/data/reference/orchestrator-plugin/backend-8.13.2-calls.txt` records the calls the
published backend plugin (8.13.2) made while each of its services was exercised. The recorder
renamed the plugin's random filter variables (`$clauseVariable<16 hex digits>`) to
`$clauseVariableN`; the replay numbers them again in order and gives them the recorded example
values in the order recorded, then sends each shape the way the plugin did (GET, urql).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

import pytest
from flask.testing import FlaskClient

from tests.conftest import REFERENCE_DATA
from tests.graphql.conftest import data

CALLS: Final = REFERENCE_DATA / "orchestrator-plugin" / "backend-8.13.2-calls.txt"
SHAPE: Final = re.compile(
    r"^\d+x via (?P<method>GET|POST) -> \d+\n(?P<query>.+)\n"
    r"  e\.g\. variables (?P<variables>.+)$",
    re.MULTILINE,
)
COUNT: Final = re.compile(r"^## GraphQL \(Data Index\), (\d+) distinct shapes$", re.M)
NORMALISED: Final = "$clauseVariableN"


@dataclass(frozen=True)
class Call:
    """One recorded query shape with its example variables."""

    method: str
    query: str
    variables: dict[str, Any]


def recorded_calls() -> list[Call]:
    """Return the recorded shapes, their clause variables named and valued again."""
    text = CALLS.read_text(encoding="utf-8")
    return [
        _renamed(m["method"], m["query"], json.loads(m["variables"]))
        for m in SHAPE.finditer(text)
    ]


def _renamed(method: str, query: str, variables: dict[str, Any]) -> Call:
    clauses = [name for name in variables if name.startswith("clauseVariable")]
    declared, _, body = query.partition(")")
    assert declared.count(NORMALISED) == body.count(NORMALISED) == len(clauses), query
    values = {name: v for name, v in variables.items() if name not in clauses}
    for index, name in enumerate(clauses):
        declared = declared.replace(NORMALISED, f"$clauseVariable{index}", 1)
        body = body.replace(NORMALISED, f"$clauseVariable{index}", 1)
        values[f"clauseVariable{index}"] = variables[name]
    return Call(method, f"{declared}){body}" if body else declared, values)


CALLS_RECORDED: Final = recorded_calls()


def test_every_recorded_shape_is_read() -> None:
    stated = COUNT.search(CALLS.read_text(encoding="utf-8"))

    assert stated is not None
    assert len(CALLS_RECORDED) == int(stated[1]) == 43


@pytest.mark.parametrize(
    "call", CALLS_RECORDED, ids=[f"shape-{i:02d}" for i in range(len(CALLS_RECORDED))]
)
def test_the_data_index_answers_the_recorded_shape(
    shared_index: FlaskClient, call: Call
) -> None:
    found = data(shared_index, call.query, call.variables, method=call.method)

    [(field, value)] = found.items()
    assert value is not None, field
