"""Calling functions: dispatch, error mapping, timeouts and forwarded headers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from knflow.config import Settings
from knflow.errors import ActionError
from knflow.outbound import function_errors
from knflow.outbound.functions import invoke
from knflow.outbound.http import HttpClient
from tests.outbound.conftest import MakeCall
from tests.peers import HttpPeer, Recorded, Reply, Responder

FORWARDED = {"X-Authorization-Github": "token-1"}


def _settings(peer: HttpPeer) -> Settings:
    return Settings(
        function_urls={"greet": peer.url}, knative_url_pattern=peer.url + "/{service}"
    )


def _openapi(peer: HttpPeer) -> dict[str, Any]:
    return {
        "openapi": "3.0.0",
        "servers": [{"url": peer.url}],
        "paths": {"/greet": {"post": {"operationId": "greet", "requestBody": {}}}},
    }


@pytest.fixture
def slow_responder() -> Iterator[Responder]:
    """A responder that answers only at teardown, so that every call times out."""
    release = threading.Event()

    def answer(_request: Recorded) -> Reply:
        release.wait(10)
        return Reply(200, {})

    yield answer
    release.set()


@pytest.mark.parametrize(
    ("function_type", "operation"),
    [
        ("rest", "greet.json#greet"),
        ("custom", "rest:post:/greet"),
        ("custom", "knative:greet?path=/greet"),
    ],
    ids=["openapi", "rest-custom", "knative"],
)
def test_forward_headers_are_sent_on_every_http_call(
    client: HttpClient,
    http_peer: HttpPeer,
    make_call: MakeCall,
    function_type: str,
    operation: str,
) -> None:
    http_peer.route("POST", "/greet", Reply(200, {}))
    call = make_call(
        function_type=function_type,
        operation=operation,
        resources={"greet.json": _openapi(http_peer)},
        forward_headers=FORWARDED,
    )

    invoke(client, _settings(http_peer), call)

    assert http_peer.received("POST")[0].headers["x-authorization-github"] == "token-1"


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(400, False), (404, False), (408, True), (429, True), (500, True), (503, True)],
    ids=["400", "404", "408", "429", "500", "503"],
)
def test_error_status_becomes_an_http_kind_action_error(
    client: HttpClient,
    http_peer: HttpPeer,
    make_call: MakeCall,
    status: int,
    retryable: bool,
) -> None:
    http_peer.route(
        "POST",
        "/greet",
        Reply(status, b"no   such\nthing", {"content-type": "text/plain"}),
    )
    call = make_call(operation="rest:post:/greet")

    with pytest.raises(ActionError) as raised:
        invoke(client, _settings(http_peer), call)

    error = raised.value
    assert (error.status, error.kind, error.retryable) == (
        status,
        f"HTTP:{status}",
        retryable,
    )
    assert str(error) == (
        f"function 'greet': POST {http_peer.url}/greet answered {status}: no such thing"
    )


def test_redirect_is_not_followed_and_fails(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("POST", "/greet", Reply(302, None, {"location": "/elsewhere"}))
    call = make_call(operation="rest:post:/greet")

    with pytest.raises(ActionError, match="redirects are not followed") as raised:
        invoke(client, _settings(http_peer), call)

    assert raised.value.kind == "HTTP:302"
    assert http_peer.received("POST", "/elsewhere") == []


def test_refused_connection_is_a_retryable_connect_exception(
    client: HttpClient, make_call: MakeCall
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = Settings(function_urls={"greet": f"http://127.0.0.1:{closed_port}"})
    call = make_call(operation="rest:post:/greet")

    with pytest.raises(ActionError, match="could not connect") as raised:
        invoke(client, settings, call)

    assert raised.value.kind == function_errors.CONNECT
    assert raised.value.retryable is True
    assert raised.value.status is None


def test_unknown_host_is_a_retryable_unknown_host_exception(
    client: HttpClient, make_call: MakeCall
) -> None:
    settings = Settings(function_urls={"greet": "http://knflow-nowhere.invalid"})
    call = make_call(operation="rest:post:/greet")

    with pytest.raises(ActionError) as raised:
        invoke(client, settings, call)

    assert raised.value.kind == function_errors.UNKNOWN_HOST
    assert raised.value.retryable is True


def test_slow_answer_times_out_after_the_action_timeout(
    client: HttpClient,
    http_peer: HttpPeer,
    make_call: MakeCall,
    slow_responder: Responder,
) -> None:
    http_peer.route("POST", "/greet", slow_responder)
    call = make_call(operation="rest:post:/greet", timeout=timedelta(seconds=0.3))

    with pytest.raises(ActionError, match=r"timed out after 0\.3 s") as raised:
        invoke(client, _settings(http_peer), call)

    assert raised.value.kind == function_errors.TIMEOUT
    assert raised.value.retryable is True


def test_settings_action_timeout_applies_without_action_exec_timeout(
    client: HttpClient,
    http_peer: HttpPeer,
    make_call: MakeCall,
    slow_responder: Responder,
) -> None:
    http_peer.route("POST", "/greet", slow_responder)
    settings = Settings(
        function_urls={"greet": http_peer.url}, action_timeout=timedelta(seconds=0.2)
    )

    with pytest.raises(ActionError, match=r"timed out after 0\.2 s") as raised:
        invoke(client, settings, make_call(operation="rest:post:/greet"))

    assert raised.value.kind == function_errors.TIMEOUT


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(204), {}),
        (Reply(200, b""), {}),
        (Reply(200, b"plain words", {"content-type": "text/plain"}), "plain words"),
        (Reply(200, b"[1, 2]", {"content-type": "application/problem+json"}), [1, 2]),
        (Reply(200, b"not json", {"content-type": "application/json"}), "not json"),
        (Reply(200, 42), 42),
    ],
    ids=["204", "empty-200", "text", "json-suffix", "broken-json", "number"],
)
def test_answer_is_decoded_as_json_text_or_empty_object(
    client: HttpClient,
    http_peer: HttpPeer,
    make_call: MakeCall,
    reply: Reply,
    expected: Any,
) -> None:
    http_peer.route("POST", "/greet", reply)

    result = invoke(
        client, _settings(http_peer), make_call(operation="rest:post:/greet")
    )

    assert result == expected


@pytest.mark.parametrize(
    ("function_type", "operation"),
    [
        ("asyncapi", "streetlights.yaml#onLightMeasured"),
        ("rpc", "users.proto#UserService#ListUsers"),
        ("graphql", "https://example.com/graphql#query#pet"),
        ("odata", "https://example.com/odata#Persons"),
        ("custom", "service:java:org.acme.Service::run"),
        ("custom", "script:python"),
        ("custom", "camel:direct:route"),
        ("custom", "dmn"),
    ],
    ids=["asyncapi", "rpc", "graphql", "odata", "java", "python", "camel", "dmn"],
)
def test_unsupported_function_types_fail_permanently(
    client: HttpClient, make_call: MakeCall, function_type: str, operation: str
) -> None:
    call = make_call(function_type=function_type, operation=operation)

    with pytest.raises(ActionError, match="is not supported") as raised:
        invoke(client, Settings(), call)

    assert raised.value.kind == function_errors.UNSUPPORTED
    assert raised.value.retryable is False


def test_kind_names_list_the_java_superclasses_a_kind_matches() -> None:
    assert function_errors.kind_names(function_errors.CONNECT) == (
        "java.net.ConnectException",
        "java.net.SocketException",
        "java.io.IOException",
        "java.lang.Exception",
        "java.lang.Throwable",
    )
    assert "java.lang.RuntimeException" in function_errors.kind_names("HTTP:404")


def test_error_messages_leave_out_user_information_of_the_url(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("POST", "/greet", Reply(500, b""))
    secret_url = http_peer.url.replace("http://", "http://user:s3cret@")
    settings = Settings(function_urls={"greet": secret_url})

    with pytest.raises(ActionError) as raised:
        invoke(client, settings, make_call(operation="rest:post:/greet"))

    assert "s3cret" not in str(raised.value)
    assert str(raised.value).endswith(f"POST {http_peer.url}/greet answered 500")
