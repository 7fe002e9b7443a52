"""functions/notify end to end: CloudEvents in, Backstage and webhook POSTs out."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app

from knflow.events import codec, types
from knflow.events.codec import Event
from knflow.store import db, notifications
from knflow.store.notifications import Channel, DeliveryStatus
from tests.peers import HttpPeer, Reply

MAIN = Path(__file__).resolve().parents[2] / "functions" / "notify" / "main.py"
PATH = "/api/notifications/notifications"
TOKEN = "backstage-static-token"
BODY = {
    "recipients": {"type": "entity", "entityRef": ["group:default/ops"]},
    "payload": {"title": "Deploy finished", "severity": "normal", "topic": "deploy"},
}


@pytest.fixture
def backstage(http_peer: HttpPeer) -> HttpPeer:
    """Backstage's Notifications API: answers 201 only to the right bearer token."""

    def answer(request):
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return Reply(401, {"error": {"message": "Missing credentials"}})
        return Reply(201, [{"id": "n1", "payload": request.json()["payload"]}])

    http_peer.route("POST", PATH, answer)
    http_peer.route("POST", "/hook", Reply(200))
    return http_peer


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, database_url: str, backstage: HttpPeer
) -> pytest.MonkeyPatch:
    """The process environment the function reads its settings from."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BACKSTAGE_URL", backstage.url)
    monkeypatch.setenv("BACKSTAGE_NOTIFICATIONS_TOKEN", TOKEN)
    monkeypatch.setenv("NOTIFY_WEBHOOK_URL", backstage.url + "/hook")
    return monkeypatch


@pytest.fixture
def client(environment: pytest.MonkeyPatch) -> FlaskClient:
    return _app_client()


def _app_client() -> FlaskClient:
    app = create_app(target="handle", source=str(MAIN), signature_type="http")
    return app.test_client()


def _post(client: FlaskClient, data=BODY, event_id: str = "ev-1"):
    event = Event(
        id=event_id,
        source="/knflow/step-executor",
        type=types.NOTIFICATION_REQUESTED,
        data=data,
        extensions={"kogitoprocinstanceid": "inst-7", "kogitoprocid": "deploy"},
    )
    headers, body = codec.to_binary_http(event)
    return client.post("/", headers=headers, data=body)


def _deliveries(database_url: str, event_id: str = "ev-1"):
    with db.connect(database_url) as conn:
        return {d.channel: d for d in notifications.list_deliveries(conn, event_id)}


def test_notification_event_makes_exactly_one_backstage_post(
    client: FlaskClient, backstage: HttpPeer, database_url: str
) -> None:
    answer = _post(client)

    assert (answer.status_code, answer.data) == (202, b"")
    [request] = backstage.received("POST", PATH)
    assert request.json() == BODY
    assert _deliveries(database_url)[Channel.BACKSTAGE].status is DeliveryStatus.SENT


def test_webhook_receives_the_notification_with_instance_and_workflow(
    client: FlaskClient, backstage: HttpPeer
) -> None:
    _post(client)

    [request] = backstage.received("POST", "/hook")
    assert request.json()["instanceId"] == "inst-7"
    assert request.json()["workflowId"] == "deploy"
    assert request.json()["payload"] == BODY["payload"]


def test_duplicate_delivery_still_makes_one_post(
    client: FlaskClient, backstage: HttpPeer
) -> None:
    first = _post(client)
    second = _post(client)

    assert (first.status_code, second.status_code) == (202, 202)
    assert len(backstage.received("POST", PATH)) == 1
    assert len(backstage.received("POST", "/hook")) == 1


def test_two_503s_then_200_deliver_on_the_third_delivery(
    client: FlaskClient, backstage: HttpPeer, database_url: str
) -> None:
    backstage.queue("POST", PATH, Reply(503), Reply(503))

    statuses = [_post(client).status_code for _ in range(3)]

    assert statuses == [503, 503, 202]
    assert len(backstage.received("POST", PATH)) == 3
    delivery = _deliveries(database_url)[Channel.BACKSTAGE]
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 3)


def test_backstage_400_is_recorded_and_not_retried(
    client: FlaskClient, backstage: HttpPeer, database_url: str
) -> None:
    refusal = {"error": {"name": "InputError", "message": "Invalid recipients"}}
    backstage.queue("POST", PATH, Reply(400, refusal))

    first = _post(client)
    again = _post(client)

    assert (first.status_code, again.status_code) == (422, 202)
    assert "Invalid recipients" in first.get_json()["message"]
    assert len(backstage.received("POST", PATH)) == 1
    delivery = _deliveries(database_url)[Channel.BACKSTAGE]
    assert delivery.status is DeliveryStatus.REJECTED
    assert "Invalid recipients" in (delivery.last_error or "")


def test_bad_data_is_refused_with_400_and_recorded_and_the_function_keeps_running(
    client: FlaskClient, backstage: HttpPeer, database_url: str
) -> None:
    bad = _post(client, {"payload": {"title": "no recipients"}}, event_id="ev-bad")
    good = _post(client)

    assert bad.status_code == 400
    assert "has no recipients" in bad.get_json()["message"]
    assert good.status_code == 202
    refused = _deliveries(database_url, "ev-bad")[Channel.INTAKE]
    assert (refused.status, refused.last_error) == (
        DeliveryStatus.REFUSED,
        "notification has no recipients",
    )
    assert len(backstage.received("POST", PATH)) == 1


def test_wrong_token_is_a_permanent_failure(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("BACKSTAGE_NOTIFICATIONS_TOKEN", "wrong")

    answer = _post(_app_client())

    assert answer.status_code == 422
    assert "Missing credentials" in answer.get_json()["message"]
