"""Malformed CloudEvent envelopes every CloudEvent edge must refuse the same way.

Each case is (headers, body, status, words the message must hold); `post` sends one.
The edge modules parametrize a test over `CASES` for their own function.
"""

from __future__ import annotations

import json
from typing import Any, Final

import httpx
import pytest

from knflow.json_limits import DEFAULT_MAX_DEPTH
from tests.edges.refusals import nested

BINARY: Final = {
    "ce-specversion": "1.0",
    "ce-id": "edge-1",
    "ce-source": "/edge",
    "ce-type": "org.example.edge",
    "content-type": "application/json",
}
STRUCTURED: Final = {"content-type": "application/cloudevents+json"}
LIMIT: Final = str(DEFAULT_MAX_DEPTH)


def structured(**attributes: Any) -> bytes:
    """A structured event with valid attributes, overridden by `attributes`."""
    event = {
        "specversion": "1.0",
        "id": "edge-1",
        "source": "/edge",
        "type": "org.example.edge",
        "data": {},
    }
    event.update(attributes)
    return json.dumps(event).encode()


def _binary_without(name: str) -> dict[str, str]:
    return {key: value for key, value in BINARY.items() if key != name}


def _case(
    case_id: str, headers: dict[str, str], body: bytes, status: int, *words: str
) -> Any:
    return pytest.param(headers, body, status, words, id=case_id)


CASES: Final = [
    _case("binary-no-id", _binary_without("ce-id"), b"{}", 400, "'id'"),
    _case("binary-no-type", _binary_without("ce-type"), b"{}", 400, "'type'"),
    _case("binary-bad-version", {**BINARY, "ce-specversion": "0.2"}, b"{}", 400, "0.2"),
    _case(
        "binary-deep-data",
        BINARY,
        nested(10_000).encode(),
        400,
        "KNFLOW_MAX_JSON_DEPTH",
        LIMIT,
    ),
    _case("binary-nul-in-data", BINARY, b'{"a": "x\\u0000"}', 400, "NUL", "/a"),
    _case("binary-nan-in-data", BINARY, b'{"a": NaN}', 400, "NaN"),
    _case(
        "structured-deep",
        STRUCTURED,
        b'{"specversion": "1.0", "data": ' + nested(10_000).encode() + b"}",
        400,
        "KNFLOW_MAX_JSON_DEPTH",
        LIMIT,
    ),
    _case("structured-not-an-object", STRUCTURED, b"[1, 2]", 400, "CloudEvent"),
    _case("structured-not-json", STRUCTURED, b"{oops", 400, "JSON"),
    _case("structured-id-is-a-list", STRUCTURED, structured(id=["a"]), 400, "'id'"),
    _case("structured-empty-id", STRUCTURED, structured(id=""), 400, "'id'"),
    _case("structured-blank-id", STRUCTURED, structured(id=" \t "), 400, "'id'"),
    _case("structured-type-is-a-number", STRUCTURED, structured(type=5), 400, "'type'"),
    _case(
        "structured-object-extension",
        STRUCTURED,
        structured(partitionkey={"a": 1}),
        400,
        "partitionkey",
    ),
    _case("structured-nul-in-id", STRUCTURED, structured(id="a\x00b"), 400, "NUL"),
    _case(
        "structured-bad-base64",
        STRUCTURED,
        structured(data=None, data_base64="%%%"),
        400,
        "data_base64",
    ),
    _case(
        "batch",
        {"content-type": "application/cloudevents-batch+json"},
        b"[]",
        400,
        "batched",
    ),
    _case("plain-text", {"content-type": "text/plain"}, b"hello", 400, "CloudEvent"),
    _case(
        "too-large",
        BINARY,
        b'{"a": "' + b"x" * (11 * 1024 * 1024) + b'"}',
        413,
        "KNFLOW_MAX_BODY_BYTES",
    ),
]


def post(url: str, headers: dict[str, str], body: bytes) -> httpx.Response:
    """Send one delivery as the broker would."""
    return httpx.post(url, headers=headers, content=body, timeout=60)
