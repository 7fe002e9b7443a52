"""The development broker's ingress under hostile and careless input (issue 12).

Framing errors get an answer (never a silently closed connection), chunked bodies are
delivered whole, every body is bounded, and malformed events are refused as every
function refuses them.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from tests.edges.envelopes import BINARY, CASES, post
from tests.edges.refusals import assert_no_leak, assert_refused, assert_up
from tests.stack import DevStack
from tests.waiting import eventually


@pytest.fixture(scope="module")
def ingress(stack: DevStack) -> Iterator[str]:
    """The default broker's ingress URL; after the module, the broker must still be up."""
    yield stack.broker_url
    base = stack.broker_url.rsplit("/", 2)[0]
    assert_up(base)


def _raw(url: str, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send bytes as they are (no client fixing the framing); return status and body."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        request = (
            f"POST {parts.path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{head}\r\n"
        )
        conn.sendall(request.encode() + body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line, "the broker closed the connection without an answer"
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def _ce_head() -> str:
    return "".join(f"{name}: {value}\r\n" for name, value in BINARY.items())


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "10, 10", " "])
def test_a_bad_content_length_is_400(ingress: str, length: str) -> None:
    status, body = _raw(ingress, f"{_ce_head()}Content-Length: {length}\r\n", b"{}")
    assert status == 400
    assert b"Content-Length" in body
    assert_no_leak(body.decode())


def test_content_length_and_chunked_together_are_400(ingress: str) -> None:
    head = f"{_ce_head()}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n"
    status, _ = _raw(ingress, head, b"2\r\n{}\r\n0\r\n\r\n")
    assert status == 400


def test_a_malformed_chunk_size_is_400(ingress: str) -> None:
    head = f"{_ce_head()}Transfer-Encoding: chunked\r\n"
    status, body = _raw(ingress, head, b"zz\r\n{}\r\n0\r\n\r\n")
    assert status == 400
    assert b"chunk" in body


def test_a_chunked_body_over_the_limit_is_413(ingress: str) -> None:
    head = f"{_ce_head()}Transfer-Encoding: chunked\r\n"
    chunk = b"x" * (1024 * 1024)
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(11))
    status, answer = _raw(ingress, head, body + b"0\r\n\r\n")
    assert status == 413
    assert b"KNFLOW_MAX_BODY_BYTES" in answer


def test_a_declared_body_over_the_limit_is_413_before_it_is_read(ingress: str) -> None:
    head = f"{_ce_head()}Content-Length: {50 * 1024 * 1024}\r\n"
    status, answer = _raw(ingress, head, b"{}")
    assert status == 413
    assert b"KNFLOW_MAX_BODY_BYTES" in answer


def test_a_chunked_event_is_delivered_with_its_data(
    stack: DevStack, ingress: str, module_database_url: str
) -> None:
    started = httpx.post(f"{stack.url('start-workflow')}/waiter", json={}, timeout=60)
    instance_id = started.json()["id"]
    head = (
        "ce-specversion: 1.0\r\nce-id: chunked-1\r\nce-source: /edge\r\n"
        f"ce-type: org.example.approval\r\nce-kogitoprocrefid: {instance_id}\r\n"
        "content-type: application/json\r\nTransfer-Encoding: chunked\r\n"
    )
    parts = [b'{"approved":', b' true, "by": "ann"}']
    body = b"".join(b"%x\r\n" % len(p) + p + b"\r\n" for p in parts) + b"0\r\n\r\n"
    status, _ = _raw(ingress, head, body)
    assert status == 202

    def data() -> object:
        with psycopg.connect(module_database_url) as conn:
            row = conn.execute(
                "SELECT data FROM instances WHERE id = %s AND status = 'COMPLETED'",
                (instance_id,),
            ).fetchone()
        return None if row is None else row[0]

    finished = eventually(data)
    assert finished == {"approval": {"approved": True, "by": "ann"}}


@pytest.mark.parametrize(("headers", "body", "status", "words"), CASES)
def test_a_malformed_event_is_refused_as_the_functions_refuse_it(
    ingress: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    words: tuple[str, ...],
) -> None:
    assert_refused(post(ingress, headers, body), status, *words)


def test_an_unknown_broker_is_404(stack: DevStack) -> None:
    base = stack.broker_url.rsplit("/", 2)[0]
    answer = post(f"{base}/nowhere/none", BINARY, json.dumps({}).encode())
    assert_refused(answer, 404, "no broker")
