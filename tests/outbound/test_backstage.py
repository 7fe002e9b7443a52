"""The Backstage Notifications API body and calls, against a local stand-in server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest

from knflow.errors import ActionError, InputError, UnavailableError
from knflow.outbound import backstage
from knflow.outbound.http import HttpClient, new_client
from tests.peers import HttpPeer, Reply

PATH = "/api/notifications/notifications"
BODY = {
    "recipients": {"type": "entity", "entityRef": ["user:default/ana"]},
    "payload": {"title": "Deployed", "severity": "high", "link": "https://x/y"},
}


@pytest.fixture
def client() -> Iterator[HttpClient]:
    with new_client(timedelta(seconds=5)) as opened:
        yield opened


def test_parse_notification_keeps_a_valid_entity_body() -> None:
    assert backstage.parse_notification(BODY) == BODY


def test_parse_notification_keeps_only_type_of_broadcast_recipients() -> None:
    body = {"recipients": {"type": "broadcast", "x": 1}, "payload": {"title": "t"}}

    parsed = backstage.parse_notification(body)

    assert parsed["recipients"] == {"type": "broadcast"}


def test_parse_notification_accepts_single_refs_and_exclusions() -> None:
    recipients = {
        "type": "entity",
        "entityRef": "group:default/ops",
        "excludeEntityRef": ["user:default/bob"],
    }

    parsed = backstage.parse_notification(
        {"recipients": recipients, "payload": {"title": "t"}}
    )

    assert parsed["recipients"] == recipients


def test_parse_notification_drops_null_payload_fields_and_unknown_top_level_keys() -> (
    None
):
    body = {**BODY, "extra": 1, "payload": {"title": "t", "description": None}}

    parsed = backstage.parse_notification(body)

    assert parsed == {"recipients": BODY["recipients"], "payload": {"title": "t"}}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("text", "must be a JSON object"),
        ({"payload": {"title": "t"}}, "has no recipients"),
        (
            {"recipients": {"type": "users"}, "payload": {"title": "t"}},
            "'broadcast' or 'entity'",
        ),
        ({"recipients": {"type": "entity"}, "payload": {"title": "t"}}, "'entityRef'"),
        (
            {
                "recipients": {"type": "entity", "entityRef": []},
                "payload": {"title": "t"},
            },
            "'entityRef'",
        ),
        (
            {
                "recipients": {"type": "entity", "entityRef": [""]},
                "payload": {"title": "t"},
            },
            "'entityRef'",
        ),
        ({"recipients": {"type": "broadcast"}}, "has no payload"),
        (
            {"recipients": {"type": "broadcast"}, "payload": {"title": " "}},
            "has no title",
        ),
        (
            {
                "recipients": {"type": "broadcast"},
                "payload": {"title": "t", "severity": "urgent"},
            },
            "severity",
        ),
        (
            {"recipients": {"type": "broadcast"}, "payload": {"title": "t", "link": 3}},
            "'link'",
        ),
    ],
    ids=[
        "not-object",
        "no-recipients",
        "bad-type",
        "no-ref",
        "empty-refs",
        "blank-ref",
        "no-payload",
        "blank-title",
        "bad-severity",
        "link-not-text",
    ],
)
def test_parse_notification_refuses_bad_bodies_with_the_reason(
    data, reason: str
) -> None:
    with pytest.raises(InputError, match=reason):
        backstage.parse_notification(data)


def test_send_notification_posts_the_body_with_the_bearer_token(
    client: HttpClient, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", PATH, Reply(201, [{"id": "n1"}]))

    backstage.send_notification(
        client, BODY, base_url=http_peer.url + "/", token="s3cret"
    )

    [request] = http_peer.received("POST", PATH)
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.json() == BODY


@pytest.mark.parametrize("status", [500, 503, 429, 408])
def test_send_notification_failure_a_retry_can_fix_is_retryable(
    client: HttpClient, http_peer: HttpPeer, status: int
) -> None:
    http_peer.route("POST", PATH, Reply(status, {"error": {"message": "busy"}}))

    with pytest.raises(ActionError, match="busy") as raised:
        backstage.send_notification(client, BODY, base_url=http_peer.url, token="t")

    assert (raised.value.retryable, raised.value.status) == (True, status)


def test_send_notification_refusal_is_permanent_with_backstages_message(
    client: HttpClient, http_peer: HttpPeer
) -> None:
    error = {"error": {"name": "InputError", "message": "Invalid recipients"}}
    http_peer.route("POST", PATH, Reply(400, error))

    with pytest.raises(ActionError, match="answered 400: Invalid recipients") as raised:
        backstage.send_notification(client, BODY, base_url=http_peer.url, token="t")

    assert raised.value.retryable is False


def test_send_notification_to_a_closed_port_is_unavailable(client: HttpClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(UnavailableError, match="unreachable"):
        backstage.send_notification(
            client, BODY, base_url=f"http://127.0.0.1:{port}", token="t"
        )


def test_send_webhook_posts_the_webhook_body(
    client: HttpClient, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/hook", Reply(204))
    body = backstage.render_webhook_body(
        BODY, event_id="ev-1", instance_id="inst-1", workflow_id="greet"
    )

    backstage.send_webhook(client, body, url=http_peer.url + "/hook")

    [request] = http_peer.received("POST", "/hook")
    assert request.json() == {
        **BODY,
        "text": "Deployed",
        "eventId": "ev-1",
        "instanceId": "inst-1",
        "workflowId": "greet",
    }


def test_webhook_text_joins_title_and_description() -> None:
    body = {**BODY, "payload": {"title": "Done", "description": "all good"}}

    rendered = backstage.render_webhook_body(
        body, event_id="e", instance_id=None, workflow_id=None
    )

    assert rendered["text"] == "Done: all good"


def test_send_webhook_to_an_invalid_url_is_a_permanent_failure(
    client: HttpClient,
) -> None:
    with pytest.raises(ActionError, match="invalid") as raised:
        backstage.send_webhook(client, BODY, url="http://[::1/hook")

    assert raised.value.retryable is False
