"""step-executor's CloudEvent edge under hostile and careless input (issue 12).

A delivery that can never succeed because of its content is answered 400 at once (the
broker does not retry it) with a message naming the problem; the process stays up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from knflow.json_limits import DEFAULT_MAX_DEPTH
from tests.edges.envelopes import BINARY, CASES, post
from tests.edges.refusals import assert_refused, assert_up, nested_object
from tests.stack import DevStack
from tests.waiting import eventually

STEP = {**BINARY, "ce-type": "knflow.step.ready", "ce-source": "/knflow/runtime"}
APPROVAL = {**BINARY, "ce-type": "org.example.approval"}


@pytest.fixture(scope="module")
def executor(stack: DevStack) -> Iterator[str]:
    """step-executor's base URL; after the module, it must still be up."""
    url = stack.url("step-executor")
    yield url
    assert_up(url)


@pytest.mark.parametrize(("headers", "body", "status", "words"), CASES)
def test_a_malformed_envelope_is_refused_naming_the_problem(
    executor: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    words: tuple[str, ...],
) -> None:
    assert_refused(post(executor, headers, body), status, *words)
    assert_up(executor)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([1], "object"),
        ({"threadId": "main"}, "instanceId"),
        ({"instanceId": ["a"], "threadId": "main"}, "instanceId"),
        ({"instanceId": "  ", "threadId": "main"}, "instanceId"),
        ({"instanceId": "a", "threadId": {"x": 1}}, "threadId"),
        ({"instanceId": "a", "threadId": "main", "seq": "7"}, "seq"),
        ({"instanceId": "a", "threadId": "main", "seq": True}, "seq"),
        ({"instanceId": "a", "threadId": "main", "seq": -1}, "seq"),
        ({"instanceId": "a", "threadId": "main", "seq": 10**30}, "seq"),
        ({"instanceId": "a", "threadId": "main", "seq": 1.5}, "seq"),
    ],
    ids=[
        "not-an-object",
        "no-instance",
        "instance-list",
        "instance-blank",
        "thread-object",
        "seq-text",
        "seq-bool",
        "seq-negative",
        "seq-huge",
        "seq-fraction",
    ],
)
def test_a_step_event_with_wrong_types_is_400_naming_the_field(
    executor: str, data: Any, field: str
) -> None:
    answer = post(
        executor, {**STEP, "ce-id": f"step-{field}"}, json.dumps(data).encode()
    )
    assert_refused(answer, 400, field)


def test_a_step_event_for_an_unknown_instance_is_acknowledged(executor: str) -> None:
    data = {"instanceId": "no-such-instance", "threadId": "main", "seq": 1}
    answer = post(
        executor, {**STEP, "ce-id": "step-unknown"}, json.dumps(data).encode()
    )
    assert answer.status_code == 202


def test_consumed_event_data_deeper_than_the_limit_is_400(executor: str) -> None:
    data = json.dumps(nested_object(DEFAULT_MAX_DEPTH + 3)).encode()
    answer = post(executor, {**APPROVAL, "ce-id": "deep-approval"}, data)
    assert_refused(answer, 400, "KNFLOW_MAX_JSON_DEPTH", str(DEFAULT_MAX_DEPTH))


def test_consumed_event_data_at_the_limit_resumes_the_instance(
    stack: DevStack, executor: str, module_database_url: str
) -> None:
    started = httpx.post(f"{stack.url('start-workflow')}/waiter", json={}, timeout=60)
    instance_id = started.json()["id"]
    deep = nested_object(DEFAULT_MAX_DEPTH - 1)
    headers = {
        **APPROVAL,
        "ce-id": "approval-at-limit",
        "ce-kogitoprocrefid": instance_id,
    }
    assert (
        post(executor, headers, json.dumps({"deep": deep}).encode()).status_code == 202
    )

    def status() -> str | None:
        with psycopg.connect(module_database_url) as conn:
            row = conn.execute(
                "SELECT status FROM instances WHERE id = %s", (instance_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    assert eventually(status, lambda s: s == "COMPLETED") == "COMPLETED"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_are_405_in_json(executor: str, method: str) -> None:
    answer = httpx.request(method, executor, timeout=10)
    assert_refused(answer, 405, "POST")


def test_an_unicode_edge_case_event_id_is_taken_once(executor: str) -> None:
    headers = {
        **APPROVAL,
        "ce-id": "é\u0301-\U0001f600",
        "content-type": "application/json",
    }
    raw = {key: value.encode() for key, value in headers.items()}
    first = httpx.post(executor, headers=raw, content=b'{"x": 1}', timeout=60)
    second = httpx.post(executor, headers=raw, content=b'{"x": 1}', timeout=60)
    assert (first.status_code, second.status_code) == (202, 202)
