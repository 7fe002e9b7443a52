"""The Backstage Notifications API body and calls, against a local stand-in server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest

from knflow.errors import ActionError, InputError, UnavailableError
from knflow.outbound import backstage
from knflow.outbound.http import HttpClient, new_client
from tests.backstage import TOKEN, BackstageStandIn
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
    client: HttpClient, backstage_api: BackstageStandIn
) -> None:
    created = backstage.send_notification(
        client, BODY, base_url=backstage_api.url + "/", token=TOKEN
    )

    [request] = backstage_api.posts()
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json() == BODY
    assert created == 1


def test_send_notification_counts_zero_for_refs_that_resolve_to_nobody(
    client: HttpClient, backstage_api: BackstageStandIn
) -> None:
    body = {**BODY, "recipients": {"type": "entity", "entityRef": "group:default/x"}}

    created = backstage.send_notification(
        client, body, base_url=backstage_api.url, token=TOKEN
    )

    assert created == 0


def test_send_notification_counts_nothing_when_the_answer_is_not_an_array(
    client: HttpClient, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", PATH, Reply(201, {}))

    assert (
        backstage.send_notification(client, BODY, base_url=http_peer.url, token="t")
        is None
    )


@pytest.mark.parametrize(
    ("token", "status", "reason"),
    [
        ("", 401, "Missing credentials"),
        ("wrong", 401, "Illegal token"),
        ("catalog-only", 403, "restricted to plugin"),
    ],
    ids=["none", "unknown", "restricted"],
)
def test_send_notification_with_refused_credentials_is_retryable_and_says_what_to_check(
    client: HttpClient,
    backstage_api: BackstageStandIn,
    token: str,
    status: int,
    reason: str,
) -> None:
    backstage_api.restricted_tokens.add("catalog-only")

    with pytest.raises(ActionError, match=reason) as raised:
        backstage.send_notification(
            client, BODY, base_url=backstage_api.url, token=token
        )

    assert (raised.value.retryable, raised.value.status) == (True, status)
    assert "check BACKSTAGE_NOTIFICATIONS_TOKEN" in str(raised.value)
    assert backstage.is_credentials_refusal(raised.value)


@pytest.mark.parametrize(
    ("recipients", "status"),
    [({"type": "broadcast"}, 500), (BODY["recipients"], 400)],
    ids=["broadcast-500", "user-400"],
)
def test_backstage_refuses_an_unfitted_title_past_its_column(
    client: HttpClient, backstage_api: BackstageStandIn, recipients: dict, status: int
) -> None:
    body = {"recipients": recipients, "payload": {"title": "t" * 256}}

    with pytest.raises(ActionError, match="character varying") as raised:
        backstage.send_notification(
            client, body, base_url=backstage_api.url, token=TOKEN
        )

    assert raised.value.status == status
    assert backstage_api.notifications() == []


@pytest.mark.parametrize(
    "link",
    ["/orchestrator/instances/1", "https://devhub.example.com/x"],
    ids=["relative", "https"],
)
def test_backstage_takes_relative_and_web_links(
    client: HttpClient, backstage_api: BackstageStandIn, link: str
) -> None:
    body = {**BODY, "payload": {"title": "t", "link": link}}

    backstage.send_notification(client, body, base_url=backstage_api.url, token=TOKEN)

    [stored] = backstage_api.notifications()
    assert stored["payload"]["link"] == link


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "data:text/html,hi"], ids=["javascript", "data"]
)
def test_backstage_refuses_links_that_are_not_http_or_https(
    client: HttpClient, backstage_api: BackstageStandIn, link: str
) -> None:
    body = {**BODY, "payload": {"title": "t", "link": link}}

    with pytest.raises(ActionError, match="answered 400: Invalid link provided"):
        backstage.send_notification(
            client, body, base_url=backstage_api.url, token=TOKEN
        )

    assert backstage_api.notifications() == []


def test_fit_payload_keeps_texts_at_the_limit() -> None:
    payload = {name: "a" * 255 for name in backstage.LIMITED_TEXTS}

    assert backstage.fit_payload(payload) == payload


def test_fit_payload_cuts_a_long_title_and_writes_it_out_first_in_the_description() -> (
    None
):
    title = "b" * 300

    fitted = backstage.fit_payload({"title": title, "description": "why"})

    assert fitted["title"] == "b" * 254 + "\u2026"
    assert fitted["description"] == f"{title}\n\nwhy"


def test_fit_payload_keeps_long_scopes_that_share_a_prefix_distinct() -> None:
    first = backstage.fit_payload({"title": "t", "scope": "s" * 300 + "1"})
    second = backstage.fit_payload({"title": "t", "scope": "s" * 300 + "2"})

    assert len(first["scope"]) == len(second["scope"]) == 255
    assert first["scope"] != second["scope"]


def test_fit_payload_is_idempotent() -> None:
    fitted = backstage.fit_payload({"title": "c" * 400, "scope": "d" * 400})

    assert backstage.fit_payload(fitted) == fitted


def test_parse_notification_fits_the_payload() -> None:
    parsed = backstage.parse_notification({**BODY, "payload": {"title": "e" * 256}})

    assert len(parsed["payload"]["title"]) == 255


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
