"""start-workflow's HTTP edge under hostile and careless input (issue 12).

Every refusal is a 4xx naming the problem, with no traceback, SQL or exception class in the
body, and the process keeps answering its health endpoints.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from knflow.json_limits import DEFAULT_MAX_DEPTH
from tests.edges.refusals import (
    assert_no_leak,
    assert_refused,
    assert_up,
    nested,
    nested_object,
)
from tests.stack import DevStack

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def api(stack: DevStack) -> Iterator[str]:
    """start-workflow's base URL; after the module, it must still be up."""
    url = stack.url("start-workflow")
    yield url
    assert_up(url)


def _post(
    url: str, body: bytes | str, headers: dict[str, str] = JSON
) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers, timeout=60)


@pytest.mark.parametrize(
    "levels", [10_000, 500, DEFAULT_MAX_DEPTH + 20, DEFAULT_MAX_DEPTH + 2]
)
def test_a_deeply_nested_body_is_400_naming_the_depth_limit(
    api: str, levels: int
) -> None:
    answer = _post(f"{api}/hello", '{"deep": ' + nested(levels - 1) + "}")
    assert_refused(answer, 400, "KNFLOW_MAX_JSON_DEPTH", str(DEFAULT_MAX_DEPTH))
    assert_up(api)


def test_workflow_data_at_the_depth_limit_runs_and_comes_back_whole(api: str) -> None:
    deep = nested_object(DEFAULT_MAX_DEPTH - 1)
    answer = httpx.post(f"{api}/hello", json={"deep": deep}, timeout=60)
    assert answer.status_code == 201, answer.text[:300]
    assert answer.json()["workflowdata"]["deep"] == deep


def test_a_body_over_the_size_limit_is_413_naming_the_limit(api: str) -> None:
    body = b'{"x": "' + b"a" * (20 * 1024 * 1024) + b'"}'
    answer = _post(f"{api}/hello", body)
    assert_refused(answer, 413, "10485760", "KNFLOW_MAX_BODY_BYTES")
    assert_up(api)


def test_a_chunked_body_over_the_size_limit_is_413(api: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"x": "'
        for _ in range(21):
            yield b"a" * (1024 * 1024)
        yield b'"}'

    answer = httpx.post(f"{api}/hello", content=chunks(), headers=JSON, timeout=60)
    assert_refused(answer, 413, "KNFLOW_MAX_BODY_BYTES")


def test_a_chunked_body_within_the_limit_starts_an_instance(api: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": '
        yield b'"Ada"}'

    answer = httpx.post(f"{api}/hello", content=chunks(), headers=JSON, timeout=60)
    assert answer.status_code == 201
    assert answer.json()["workflowdata"]["message"] == "Hello, Ada!"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml"],
)
def test_a_body_that_is_not_declared_json_is_415(api: str, content_type: str) -> None:
    answer = _post(f"{api}/hello", '{"name": "Ada"}', {"content-type": content_type})
    assert_refused(answer, 415, "application/json", content_type)


def test_json_with_a_charset_is_accepted(api: str) -> None:
    headers = {"content-type": "application/json; charset=utf-8"}
    answer = _post(f"{api}/hello", '{"name": "Ada"}', headers)
    assert answer.status_code == 201


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ('{"name": "a\\u0000b"}', "/name"),
        ('{"a\\u0000b": 1}', "/a\\u0000b"),
        ('{"workflowdata": {"list": ["ok", "\\u0000"]}}', "/workflowdata/list/1"),
    ],
    ids=["value", "key", "nested"],
)
def test_a_nul_character_in_the_data_is_400_naming_where(
    api: str, body: str, pointer: str
) -> None:
    answer = _post(f"{api}/hello", body)
    assert_refused(answer, 400, "NUL", pointer)


def test_a_nul_character_in_the_workflow_id_is_404(api: str) -> None:
    answer = _post(f"{api}/hello%00", "{}")
    assert_refused(answer, 404, "NUL")


def test_a_nul_character_in_the_business_key_is_400_naming_it(api: str) -> None:
    answer = _post(f"{api}/hello?businessKey=a%00b", "{}")
    assert_refused(answer, 400, "businessKey", "NUL")


@pytest.mark.parametrize(
    "path",
    [
        "/hello/abc%00",
        "/management/processes/hello%00",
        "/management/processes/hello/instances/x%00/error",
    ],
)
def test_a_nul_character_in_an_id_to_read_is_404(api: str, path: str) -> None:
    assert_refused(httpx.get(f"{api}{path}", timeout=10), 404)


def test_a_nul_character_in_an_id_to_abort_is_404(api: str) -> None:
    answer = httpx.delete(f"{api}/management/processes/hello/instances/x%00")
    assert_refused(answer, 404)


@pytest.mark.parametrize("text", ['"\\ud800"', '"a\\udfffb"'])
def test_an_unpaired_surrogate_is_400(api: str, text: str) -> None:
    answer = _post(f"{api}/hello", '{"name": ' + text + "}")
    assert_refused(answer, 400, "surrogate", "/name")


def test_astral_and_combining_characters_are_stored_faithfully(api: str) -> None:
    name = "Zoë \U0001f600 e\u0301 \u202e ﷽"
    answer = httpx.post(f"{api}/hello", json={"name": name}, timeout=60)
    assert answer.status_code == 201
    assert answer.json()["workflowdata"]["message"] == f"Hello, {name}!"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_400(api: str, constant: str) -> None:
    answer = _post(f"{api}/hello", '{"n": ' + constant + "}")
    assert_refused(answer, 400, "/n" if constant == "1e400" else constant)


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42", "true"])
def test_a_body_that_is_not_an_object_is_400(api: str, body: str) -> None:
    assert_refused(_post(f"{api}/hello", body), 400, "object")


@pytest.mark.parametrize("body", ["{oops", '{"a": 1,}', "\xc3\x28"])
def test_malformed_json_is_400_without_echoing_it(api: str, body: str) -> None:
    answer = _post(f"{api}/hello", body.encode("latin-1"))
    assert_refused(answer, 400, "JSON" if body.isascii() else "UTF-8")


@pytest.mark.parametrize("workflow_id", ["%20", "%20%20", "%09"])
def test_a_blank_workflow_id_is_404(api: str, workflow_id: str) -> None:
    assert_refused(_post(f"{api}/{workflow_id}", "{}"), 404)


def test_a_huge_array_runs_within_the_body_limit(api: str) -> None:
    body = json.dumps({"items": list(range(200_000))})
    answer = _post(f"{api}/hello", body)
    assert answer.status_code == 201
    assert len(answer.json()["workflowdata"]["items"]) == 200_000


@pytest.mark.parametrize(
    "data",
    [
        b"[]",
        b'{"metadata": {}, "data": []}',
        b'{"metadata": {"labels": []}}',
        b'"configmap"',
    ],
)
def test_a_definitions_event_without_a_configmap_object_is_400(
    api: str, data: bytes
) -> None:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "cm-1",
        "ce-source": "/apiserver",
        "ce-type": "dev.knative.apiserver.resource.update",
        "content-type": "application/json",
    }
    answer = _post(f"{api}/management/definitions/events", data, headers)
    assert_refused(answer, 400, "ConfigMap")


def test_every_answer_to_a_management_path_with_garbage_is_json(api: str) -> None:
    for method in ("GET", "POST", "DELETE", "PUT", "PATCH"):
        answer = httpx.request(method, f"{api}/management/processes/%ff%fe", timeout=10)
        assert answer.status_code < 500
        assert_no_leak(answer.text)
