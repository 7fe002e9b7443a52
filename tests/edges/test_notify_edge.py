"""notify's CloudEvent edge under hostile and careless input (issue 12).

A notification request or lifecycle event that cannot be delivered because of its content
is answered 400 at once, naming the field; the process stays up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.edges.envelopes import BINARY, CASES, post
from tests.edges.refusals import assert_refused, assert_up
from tests.stack import DevStack

VALID = {
    "recipients": {"type": "entity", "entityRef": ["user:default/ann"]},
    "payload": {"title": "Hello", "severity": "normal"},
}


@pytest.fixture(scope="module")
def notify(stack: DevStack) -> Iterator[str]:
    """notify's base URL; after the module, it must still be up."""
    url = stack.url("notify")
    yield url
    assert_up(url)


def _requested(notify: str, data: Any, event_id: str) -> Any:
    headers = {
        **BINARY,
        "ce-type": "knflow.notification.requested",
        "ce-id": event_id,
    }
    return post(notify, headers, json.dumps(data).encode())


@pytest.mark.parametrize(("headers", "body", "status", "words"), CASES)
def test_a_malformed_envelope_is_refused_naming_the_problem(
    notify: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    words: tuple[str, ...],
) -> None:
    assert_refused(post(notify, headers, body), status, *words)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([VALID], "JSON object"),
        ("notify me", "JSON object"),
        ({**VALID, "recipients": None}, "recipients"),
        ({**VALID, "recipients": ["user:default/ann"]}, "recipients"),
        ({**VALID, "recipients": {"type": "everyone"}}, "everyone"),
        ({**VALID, "recipients": {"type": "entity", "entityRef": []}}, "entityRef"),
        ({**VALID, "recipients": {"type": "entity", "entityRef": [5]}}, "entityRef"),
        (
            {
                **VALID,
                "recipients": {
                    "type": "entity",
                    "entityRef": "u",
                    "excludeEntityRef": {},
                },
            },
            "excludeEntityRef",
        ),
        ({**VALID, "payload": None}, "payload"),
        ({**VALID, "payload": {"title": ["Hello"]}}, "title"),
        ({**VALID, "payload": {"title": "  "}}, "title"),
        ({**VALID, "payload": {"title": "t", "severity": "urgent"}}, "severity"),
        ({**VALID, "payload": {"title": "t", "severity": ["high"]}}, "severity"),
        ({**VALID, "payload": {"title": "t", "link": {"href": "x"}}}, "link"),
        ({**VALID, "payload": {"title": "t", "description": 5}}, "description"),
    ],
    ids=[
        "array",
        "text",
        "no-recipients",
        "recipients-list",
        "recipients-type",
        "refs-empty",
        "refs-numbers",
        "exclude-object",
        "no-payload",
        "title-list",
        "title-blank",
        "severity-word",
        "severity-list",
        "link-object",
        "description-number",
    ],
)
def test_a_notification_request_with_a_wrong_field_is_400_naming_it(
    notify: str, data: Any, words: str
) -> None:
    answer = _requested(notify, data, f"bad-{words}-{json.dumps(data)[:40]}")
    assert_refused(answer, 400, words)


def test_a_lifecycle_event_naming_no_instance_is_400(notify: str) -> None:
    headers = {**BINARY, "ce-type": "ProcessInstanceStateDataEvent", "ce-id": "life"}
    data = {"processInstanceId": ["a"], "eventType": 2, "state": 2}
    assert_refused(post(notify, headers, json.dumps(data).encode()), 400, "instance")


def test_an_event_type_notify_does_not_handle_is_400(notify: str) -> None:
    headers = {**BINARY, "ce-type": "org.example.other", "ce-id": "other"}
    assert_refused(post(notify, headers, b"{}"), 400, "org.example.other")


def test_a_valid_request_is_acknowledged(notify: str) -> None:
    assert _requested(notify, VALID, "fine").status_code == 202
