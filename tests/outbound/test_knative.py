"""SonataFlow `knative:` custom functions against a real local HTTP server."""

from __future__ import annotations

import pytest

from knflow.config import Settings
from knflow.errors import ActionError
from knflow.outbound import function_errors
from knflow.outbound.functions import invoke
from knflow.outbound.http import HttpClient
from tests.outbound.conftest import MakeCall
from tests.peers import HttpPeer, Reply

FULL = "knative:services.v1.serving.knative.dev/custom-functions/greeter"


def _pattern(peer: HttpPeer) -> Settings:
    """Route every service to the peer, with namespace and service in the path."""
    return Settings(
        namespace="team", knative_url_pattern=peer.url + "/{namespace}/{service}"
    )


def test_plain_json_call_posts_arguments_to_the_service_of_the_pattern(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route(
        "POST", "/custom-functions/greeter/plainJsonFunction", Reply(200, {"g": "hi"})
    )
    call = make_call(
        operation=f"{FULL}?path=/plainJsonFunction", arguments={"name": "Kogito"}
    )

    result = invoke(client, _pattern(http_peer), call)

    [request] = http_peer.received("POST")
    assert result == {"g": "hi"}
    assert request.json() == {"name": "Kogito"}
    assert request.headers["content-type"] == "application/json"


def test_short_form_uses_the_configured_namespace_and_root_path(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("POST", "/team/greeter/", Reply(200, {}))
    call = make_call(operation="knative:greeter", arguments={"a": 1})

    invoke(client, _pattern(http_peer), call)

    assert http_peer.received("POST")[0].path == "/team/greeter/"


def test_configured_service_url_wins_over_the_pattern(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("POST", "/x", Reply(200, {}))
    settings = Settings(
        knative_url_pattern="http://{service}.invalid",
        function_urls={"GREETER": http_peer.url},
    )
    call = make_call(operation=f"{FULL}?path=/x")

    invoke(client, settings, call)

    assert len(http_peer.received("POST")) == 1


def test_get_sends_scalar_arguments_as_query(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route(
        "GET",
        "/team/greeter/hello",
        Reply(200, b"hello", {"content-type": "text/plain"}),
    )
    call = make_call(
        operation="knative:greeter?path=/hello&method=GET",
        arguments={"name": "Ana", "times": 2},
    )

    result = invoke(client, _pattern(http_peer), call)

    assert result == "hello"
    assert http_peer.received("GET")[0].path == "/team/greeter/hello?name=Ana&times=2"


def test_get_with_structured_argument_is_a_permanent_error(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    call = make_call(
        operation="knative:greeter?path=/hello&method=get", arguments={"who": {"a": 1}}
    )

    with pytest.raises(ActionError, match="'who'") as raised:
        invoke(client, _pattern(http_peer), call)

    assert raised.value.kind == function_errors.ILLEGAL_ARGUMENT


def test_cloud_event_is_posted_structured_with_a_stable_id(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    answer = {"specversion": "1.0", "id": "r-1", "source": "fn", "type": "annotated"}
    http_peer.route("POST", "/custom-functions/greeter/ce", Reply(200, answer))
    arguments = {
        "specversion": "1.0",
        "type": "test",
        "source": "org.acme.source",
        "data": {"value": "test data"},
    }
    call = make_call(
        operation=f"{FULL}?path=/ce&asCloudEvent=true", arguments=arguments
    )

    first = invoke(client, _pattern(http_peer), call)
    invoke(client, _pattern(http_peer), call)

    sent = [request.json() for request in http_peer.received("POST")]
    assert first == answer
    assert sent[0]["id"] == sent[1]["id"]
    assert sent[0]["id"].startswith(f"{call.instance_id}_")
    assert {k: v for k, v in sent[0].items() if k != "id"} == arguments
    assert (
        http_peer.received("POST")[0]
        .headers["content-type"]
        .startswith("application/cloudevents+json")
    )


def test_cloud_event_defaults_specversion_and_source_and_keeps_a_given_id(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    http_peer.route("POST", "/team/greeter/", Reply(202))
    call = make_call(
        operation="knative:greeter?asCloudEvent=true",
        arguments={"type": "t", "id": "mine", "kogitoext": "x"},
    )

    invoke(client, _pattern(http_peer), call)

    assert http_peer.received("POST")[0].json() == {
        "type": "t",
        "id": "mine",
        "kogitoext": "x",
        "specversion": "1.0",
        "source": "/knflow/greeting",
    }


def test_binary_cloud_event_answer_becomes_its_structured_form(
    client: HttpClient, http_peer: HttpPeer, make_call: MakeCall
) -> None:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "r-2",
        "ce-source": "fn",
        "ce-type": "ok",
    }
    http_peer.route("POST", "/team/greeter/", Reply(200, {"v": 1}, headers))
    call = make_call(
        operation="knative:greeter?asCloudEvent=true", arguments={"type": "t"}
    )

    result = invoke(client, _pattern(http_peer), call)

    assert result == {
        "specversion": "1.0",
        "id": "r-2",
        "source": "fn",
        "type": "ok",
        "datacontenttype": "application/json",
        "data": {"v": 1},
    }


@pytest.mark.parametrize(
    ("operation", "arguments", "message"),
    [
        ("knative:greeter?method=GET&asCloudEvent=true", {"type": "t"}, "needs POST"),
        ("knative:greeter?asCloudEvent=true", {"data": 1}, "'type'"),
        ("knative:greeter?method=PUT", {}, "method PUT"),
        ("knative:?path=/x", {}, "does not name a service"),
    ],
    ids=["cloud-event-get", "cloud-event-without-type", "put", "no-service"],
)
def test_invalid_knative_call_is_a_permanent_error(
    client: HttpClient,
    http_peer: HttpPeer,
    make_call: MakeCall,
    operation: str,
    arguments: dict[str, object],
    message: str,
) -> None:
    call = make_call(operation=operation, arguments=arguments)

    with pytest.raises(ActionError, match=message) as raised:
        invoke(client, _pattern(http_peer), call)

    assert raised.value.retryable is False
    assert http_peer.received() == []
