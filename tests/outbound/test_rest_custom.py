"""SonataFlow `rest:` custom functions against a real local HTTP server."""

from __future__ import annotations

import pytest

from knflow.config import Settings
from knflow.errors import ActionError
from knflow.outbound import function_errors
from knflow.outbound.functions import invoke
from knflow.outbound.http import HttpClient
from tests.outbound.conftest import MakeCall
from tests.peers import HttpPeer, Reply


def _settings(peer: HttpPeer, name: str = "publish") -> Settings:
    return Settings(function_urls={name: peer.url})


def test_placeholders_fill_the_path_and_leave_the_body(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("POST", "/publish/even/4", Reply(200, {"ok": True}))
    call = make_call(
        function_name="publish",
        operation="rest:post:/publish/{type}/{number}",
        arguments={"type": "even", "number": 4, "note": "x"},
    )

    result = invoke(client, _settings(http_peer), call)

    [request] = http_peer.received("POST")
    assert result == {"ok": True}
    assert request.path == "/publish/even/4"
    assert request.json() == {"note": "x"}
    assert request.headers["content-type"] == "application/json"


def test_post_without_body_arguments_sends_an_empty_object(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("POST", "/publish/odd/3", Reply(204))
    call = make_call(
        function_name="publish",
        operation="rest:post:/publish/{type}/{number}",
        arguments={"type": "odd", "number": 3},
    )

    result = invoke(client, _settings(http_peer), call)

    assert result == {}
    assert http_peer.received("POST")[0].json() == {}


def test_sonataflow_numbers_example_puts_multiplier_in_path_and_rest_in_body(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("POST", "/numbers/7/multiplyByAndSum", Reply(200, {"sum": 49}))
    call = make_call(
        function_name="multiplyAllByRandomAndSum",
        operation="rest:post:/numbers/{multiplier}/multiplyByAndSum",
        arguments={
            "numbers": [1, 2],
            "additionalData": {"numbers": [1, 2]},
            "multiplier": 7,
        },
    )

    result = invoke(client, _settings(http_peer, "multiplyAllByRandomAndSum"), call)

    assert result == {"sum": 49}
    assert http_peer.received("POST")[0].json() == {
        "numbers": [1, 2],
        "additionalData": {"numbers": [1, 2]},
    }


def test_get_sends_plain_arguments_as_query(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("GET", "/numbers/random", Reply(200, {"randomNumber": 5}))
    call = make_call(
        function_name="randomNumber",
        operation="rest:get:/numbers/random",
        arguments={"max": 10, "tags": ["a", "b"], "exact": True, "skip": None},
    )

    result = invoke(client, _settings(http_peer, "randomNumber"), call)

    [request] = http_peer.received("GET")
    assert result == {"randomNumber": 5}
    assert request.path == "/numbers/random?max=10&tags=a&tags=b&exact=true"
    assert request.body == b""


def test_header_and_query_prefixes_become_headers_and_query_parameters(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("PUT", "/items", Reply(200, {}))
    call = make_call(
        function_name="publish",
        operation="rest:put:/items",
        arguments={"HEADER_X-Trace": "t-1", "QUERY_dryRun": True, "name": "n"},
    )

    invoke(client, _settings(http_peer), call)

    [request] = http_peer.received("PUT")
    assert request.path == "/items?dryRun=true"
    assert request.headers["x-trace"] == "t-1"
    assert request.json() == {"name": "n"}


def test_full_uri_is_used_as_is_with_its_query_kept(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("GET", "/v1/users/a%20b", Reply(200, ["u"]))
    call = make_call(
        function_name="users",
        operation=f"rest:get:{http_peer.url}/v1/users/{{id}}?fields={{fields}}",
        arguments={"id": "a b", "fields": "name", "QUERY_page": 2},
    )

    result = invoke(client, Settings(), call)

    assert result == ["u"]
    assert http_peer.received("GET")[0].path == "/v1/users/a%20b?fields=name&page=2"


def test_path_without_configured_base_url_names_the_variable_to_set(
    client: HttpClient, make_call: MakeCall
) -> None:
    call = make_call(function_name="publish-result", operation="rest:post:/publish")

    with pytest.raises(ActionError) as raised:
        invoke(client, Settings(), call)

    assert "KNFLOW_FUNCTION_URL_PUBLISH_RESULT" in str(raised.value)
    assert raised.value.kind == function_errors.ILLEGAL_ARGUMENT
    assert raised.value.retryable is False


def test_base_url_is_found_under_the_environment_form_of_the_name(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("POST", "/api/publish", Reply(200, {"done": 1}))
    settings = Settings(function_urls={"PUBLISH_RESULT": f"{http_peer.url}/api/"})
    call = make_call(function_name="publish-result", operation="rest:post:/publish")

    assert invoke(client, settings, call) == {"done": 1}


def test_missing_placeholder_argument_is_a_permanent_error(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    call = make_call(
        function_name="publish",
        operation="rest:post:/publish/{type}/{number}",
        arguments={"type": "odd"},
    )

    with pytest.raises(ActionError, match="number") as raised:
        invoke(client, _settings(http_peer), call)

    assert raised.value.retryable is False
    assert http_peer.received() == []


@pytest.mark.parametrize(
    "operation",
    ["rest:/publish", "rest:fetch:/publish", "rest:post:"],
    ids=["no-method", "unknown-method", "no-path"],
)
def test_malformed_operation_is_a_permanent_error(
    client: HttpClient, make_call: MakeCall, operation: str
) -> None:
    call = make_call(function_name="publish", operation=operation)

    with pytest.raises(ActionError, match="is not of the form") as raised:
        invoke(client, Settings(function_urls={"publish": "http://x"}), call)

    assert raised.value.kind == function_errors.ILLEGAL_ARGUMENT
