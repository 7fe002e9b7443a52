"""What every refusal must look like: the status, a message naming the problem, nothing leaked.

`assert_refused(answer, 400, "businessKey")` checks the status, that the JSON `message`
(or GraphQL `errors[].message`) names every given word, and that no body holds a traceback,
SQL text, an exception class name or an HTML error page. `assert_up` checks that a process
still answers its health endpoints.
"""

from __future__ import annotations

import re
from typing import Any, Final

import httpx

LEAKS: Final = re.compile(
    r"Traceback|File \"|\bline \d+, in\b"  # Python tracebacks
    r"|\b(SELECT|INSERT INTO|UPDATE|DELETE FROM)\b.{0,80}\b(FROM|WHERE|SET|VALUES)\b"
    r"|\bpsycopg\b|\bSQLSTATE\b|\bLINE \d+:"  # SQL and driver text
    # exception class names; the two graphql-java classifications are the contract's words
    r"|\b(?!ValidationError\b|DataFetchingException\b)[A-Z][A-Za-z]*(Error|Exception)\b"
    r"|<!doctype|<html",  # framework error pages
)


def assert_refused(answer: httpx.Response, status: int, *words: str) -> str:
    """Check one refusal; return its message."""
    assert_no_leak(answer.text)
    assert answer.status_code == status, (answer.status_code, answer.text[:500])
    message = message_of(answer.json())
    for word in words:
        assert word in message, (word, message)
    return message


def assert_no_leak(text: str) -> None:
    """No traceback, SQL, exception class or HTML error page in `text`."""
    found = LEAKS.search(text)
    assert found is None, (found.group(0) if found else "", text[:500])


def message_of(body: Any) -> str:
    """The message of a JSON error body or of a GraphQL answer's errors."""
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return " | ".join(str(error.get("message")) for error in body["errors"])
    assert isinstance(body, dict), body
    assert "message" in body, body
    return str(body["message"])


def assert_up(base_url: str) -> None:
    """The process behind `base_url` still answers both health endpoints."""
    for path in ("/health/liveness", "/health/readiness"):
        answer = httpx.get(f"{base_url}{path}", timeout=10)
        assert answer.status_code == 200, (path, answer.text)


def nested(levels: int, leaf: str = "0") -> str:
    """JSON text of `levels` nested arrays around `leaf`."""
    return "[" * levels + leaf + "]" * levels


def nested_object(levels: int) -> dict[str, Any]:
    """An object nesting `levels` objects (`{"a": {"a": ... {}}}`)."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value
