"""Query texts the Backstage Orchestrator plugin sends (as its DataIndexService writes them).

The shapes a real plugin sent are recorded in
tests/data/reference/orchestrator-plugin/backend-8.13.2-calls.txt; `recorded_calls` reads
them (test_recorded_plugin_calls.py replays them). The recorder renamed the plugin's random
filter variables (`$clauseVariable<16 hex digits>`) to `$clauseVariableN`; `recorded_calls`
numbers them again in order and gives them the recorded example values in the order recorded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

from tests.conftest import REFERENCE_DATA

CALLS: Final = REFERENCE_DATA / "orchestrator-plugin" / "backend-8.13.2-calls.txt"
SHAPE: Final = re.compile(
    r"^\d+x via (?P<method>GET|POST) -> \d+\n(?P<query>.+)\n"
    r"  e\.g\. variables (?P<variables>.+)$",
    re.MULTILINE,
)
NORMALISED: Final = "$clauseVariableN"

Q5_BODY = (
    "{id, version, processName, processId, state, start, end, nodes { id }, variables,"
    " executionSummary, parentProcessInstance {id, processName, businessKey} }"
)
Q5 = (
    "query ($paginationInfo: Pagination, $orderByInfo: ProcessInstanceOrderBy)"
    "{ProcessInstances ( where: {and: [{processId: {isNull: false}},"
    ' {processId: {in: ["greet", "approve"]}}]}, orderBy: $orderByInfo,'
    " pagination: $paginationInfo) " + Q5_BODY + " }"
)
Q11 = """
query FindProcessInstanceQuery($instanceId: String!) {
  ProcessInstances(where: { id: { equal: $instanceId } }) {
    id processName processId serviceUrl executionSummary state start end
    nodes { id nodeId definitionId type name enter exit errorMessage }
    variables
    parentProcessInstance { id processName businessKey }
    error { nodeDefinitionId nodeInstanceId message }
  }
}
"""


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
