"""data-index-sink's event edge under hostile and careless input (issue 12).

Every Kogito event kind, with a wrong type at each field it reads, is a poison event:
answered 400 at once (so the broker never retries it) with the field named, and nothing
stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final

import httpx
import pytest

from knflow.json_limits import DEFAULT_MAX_DEPTH
from tests.edges.envelopes import BINARY, CASES, post
from tests.edges.refusals import assert_refused, assert_up
from tests.stack import DevStack

INSTANCE: Final = {"processInstanceId": "edge-i", "processId": "edge-p"}
BASES: Final[dict[str, dict[str, Any]]] = {
    "ProcessInstanceStateDataEvent": {**INSTANCE, "eventType": 1, "state": 1},
    "ProcessInstanceNodeDataEvent": {
        **INSTANCE,
        "nodeInstanceId": "n1",
        "eventType": 1,
    },
    "ProcessInstanceVariableDataEvent": {**INSTANCE, "variableName": "v"},
    "ProcessInstanceErrorDataEvent": {**INSTANCE, "nodeDefinitionId": "d"},
    "ProcessDefinitionEvent": {"id": "edge-def", "version": "1.0"},
    "JobEvent": {"id": "edge-job", "status": "SCHEDULED"},
}
COMMON_TEXT: Final = ("processInstanceId", "processId", "processVersion", "eventUser")
TEXT_FIELDS: Final = {
    "ProcessInstanceStateDataEvent": (
        *COMMON_TEXT,
        "processName",
        "businessKey",
        "parentInstanceId",
        "rootProcessInstanceId",
        "rootProcessId",
        "cloudEventId",
        "cloudEventSource",
    ),
    "ProcessInstanceNodeDataEvent": (
        *COMMON_TEXT,
        "nodeInstanceId",
        "nodeDefinitionId",
        "nodeName",
        "nodeType",
    ),
    "ProcessInstanceVariableDataEvent": (*COMMON_TEXT, "variableName"),
    "ProcessInstanceErrorDataEvent": (
        *COMMON_TEXT,
        "nodeDefinitionId",
        "nodeInstanceId",
        "errorMessage",
    ),
    "ProcessDefinitionEvent": (
        "id",
        "version",
        "name",
        "description",
        "type",
        "endpoint",
        "source",
    ),
    "JobEvent": (
        "id",
        "status",
        "processId",
        "processInstanceId",
        "nodeInstanceId",
        "rootProcessInstanceId",
        "rootProcessId",
        "callbackEndpoint",
        "scheduledId",
        "endpoint",
        "exceptionMessage",
        "exceptionDetails",
    ),
}
NUMBER_FIELDS: Final = {
    "ProcessInstanceStateDataEvent": ("eventType",),
    "ProcessInstanceNodeDataEvent": ("eventType",),
    "JobEvent": (
        "priority",
        "repeatLimit",
        "retries",
        "executionCounter",
        "repeatInterval",
    ),
}
DATE_FIELDS: Final = {
    "ProcessInstanceStateDataEvent": ("eventDate", "slaDueDate"),
    "ProcessInstanceNodeDataEvent": ("eventDate", "slaDueDate"),
    "ProcessInstanceVariableDataEvent": ("eventDate",),
    "ProcessInstanceErrorDataEvent": ("eventDate",),
    "JobEvent": ("expirationTime", "lastUpdate"),
}
LIST_FIELDS: Final = {
    "ProcessInstanceStateDataEvent": ("roles",),
    "ProcessDefinitionEvent": ("annotations", "roles", "addons", "nodes"),
}


def _cases() -> Iterator[Any]:
    for kind, names in TEXT_FIELDS.items():
        for name in names:
            for label, value in (("list", ["a"]), ("object", {"a": 1}), ("bool", True)):
                yield pytest.param(kind, name, value, id=f"{kind}-{name}-{label}")
    for kind, names in NUMBER_FIELDS.items():
        for name in names:
            for label, value in (("word", "many"), ("huge", 10**30), ("list", [1])):
                yield pytest.param(kind, name, value, id=f"{kind}-{name}-{label}")
    for kind, names in DATE_FIELDS.items():
        for name in names:
            for label, value in (
                ("garbage", "yesterday"),
                ("year-0", "0001-01-01T00:00:00+14:00"),
                ("year-10000", "9999-12-31T23:59:59-14:00"),
                ("epoch-huge", 1e300),
                ("object", {"a": 1}),
            ):
                yield pytest.param(kind, name, value, id=f"{kind}-{name}-{label}")
    for kind, names in LIST_FIELDS.items():
        for name in names:
            for label, value in (("text", "a"), ("mixed", ["a", {"b": 1}])):
                yield pytest.param(kind, name, value, id=f"{kind}-{name}-{label}")
    yield pytest.param(
        "ProcessInstanceNodeDataEvent", "retrigger", "yes", id="node-retrigger-text"
    )
    yield pytest.param(
        "ProcessDefinitionEvent", "metadata", ["a"], id="definition-metadata-list"
    )
    yield pytest.param(
        "ProcessInstanceStateDataEvent", "state", 99, id="state-out-of-range"
    )


@pytest.fixture(scope="module")
def sink(stack: DevStack) -> Iterator[str]:
    """data-index-sink's base URL; after the module, it must still be up."""
    url = stack.url("data-index-sink")
    yield url
    assert_up(url)


def _send(sink: str, kind: str, data: Any, event_id: str) -> httpx.Response:
    headers = {**BINARY, "ce-type": kind, "ce-id": event_id, "ce-source": "/edge"}
    return post(sink, headers, json.dumps(data).encode())


def _graphql(sink: str, query: str) -> Any:
    answer = httpx.post(f"{sink}/graphql", json={"query": query}, timeout=30)
    return answer.json()["data"]


@pytest.mark.parametrize(("headers", "body", "status", "words"), CASES)
def test_a_malformed_envelope_is_refused_naming_the_problem(
    sink: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    words: tuple[str, ...],
) -> None:
    assert_refused(post(sink, headers, body), status, *words)


@pytest.mark.parametrize(("kind", "field", "value"), list(_cases()))
def test_a_wrong_type_at_a_field_is_400_naming_the_field(
    sink: str, kind: str, field: str, value: Any
) -> None:
    data = {**BASES[kind], field: value}
    answer = _send(sink, kind, data, f"poison-{kind}-{field}")
    assert_refused(answer, 400, field)


@pytest.mark.parametrize("kind", sorted(BASES))
def test_data_that_is_not_an_object_is_400(sink: str, kind: str) -> None:
    assert_refused(_send(sink, kind, ["a"], f"array-{kind}"), 400, "JSON object")


def test_a_definition_whose_id_is_a_list_is_not_stored(sink: str) -> None:
    answer = _send(sink, "ProcessDefinitionEvent", {"id": ["a"]}, "def-list-id")
    assert_refused(answer, 400, "'id'")
    found = _graphql(sink, '{ ProcessDefinitions(where: {id: {like: "*[*"}}) { id } }')
    assert found["ProcessDefinitions"] == []


def test_a_valid_event_after_the_poison_ones_is_indexed(sink: str) -> None:
    data = {**BASES["ProcessInstanceStateDataEvent"], "processInstanceId": "edge-ok"}
    assert _send(sink, "ProcessInstanceStateDataEvent", data, "ok-1").status_code == 202
    found = _graphql(
        sink, '{ ProcessInstances(where: {id: {equal: "edge-ok"}}) { id } }'
    )
    assert found["ProcessInstances"] == [{"id": "edge-ok"}]


def test_a_dotted_variable_name_cannot_nest_past_the_limit(sink: str) -> None:
    name = ".".join(["a"] * (DEFAULT_MAX_DEPTH + 20))
    data = {**BASES["ProcessInstanceVariableDataEvent"], "variableName": name}
    answer = _send(sink, "ProcessInstanceVariableDataEvent", data, "dotted")
    assert_refused(answer, 400, "KNFLOW_MAX_JSON_DEPTH")


def test_a_grouped_event_with_a_poison_item_is_400_and_applies_nothing(
    sink: str,
) -> None:
    good = {
        "specversion": "1.0",
        "id": "g-1",
        "source": "/edge",
        "type": "ProcessInstanceStateDataEvent",
        "data": {**BASES["ProcessInstanceStateDataEvent"], "processInstanceId": "g-ok"},
    }
    bad = {**good, "id": "g-2", "data": {**good["data"], "state": {"x": 1}}}
    headers = {**BINARY, "ce-type": "MultipleProcessInstanceDataEvent", "ce-id": "g"}
    answer = post(sink, headers, json.dumps([good, bad]).encode())
    assert_refused(answer, 400, "state")
    found = _graphql(sink, '{ ProcessInstances(where: {id: {equal: "g-ok"}}) { id } }')
    assert found["ProcessInstances"] == []


def test_a_legacy_kogito_event_type_is_400_saying_what_to_send(sink: str) -> None:
    answer = _send(sink, "ProcessInstanceEvent", {}, "legacy")
    assert_refused(answer, 400, "legacy")


def test_an_event_type_it_does_not_index_is_400(sink: str) -> None:
    assert_refused(
        _send(sink, "org.example.other", {}, "other"), 400, "org.example.other"
    )
