"""functions/notify end to end: CloudEvents in, Backstage and webhook POSTs out."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app

from knflow.events import codec, types
from knflow.events.codec import Event
from knflow.store import db, notifications
from knflow.store.notifications import Channel, DeliveryStatus, SendOutcome
from tests.backstage import TOKEN, BackstageStandIn
from tests.peers import HttpPeer, Reply
from tests.waiting import eventually

MAIN = Path(__file__).resolve().parents[2] / "functions" / "notify" / "main.py"
BODY = {
    "recipients": {"type": "entity", "entityRef": ["group:default/ops"]},
    "payload": {"title": "Deploy finished", "severity": "normal", "topic": "deploy"},
}
OPS = ["user:default/ana", "user:default/bo"]


@pytest.fixture
def backstage(http_peer: HttpPeer, backstage_api: BackstageStandIn) -> BackstageStandIn:
    """Backstage with group ops of two users, and a webhook at /hook beside it."""
    backstage_api.groups["group:default/ops"] = OPS
    http_peer.route("POST", "/hook", Reply(200))
    return backstage_api


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, database_url: str, backstage: BackstageStandIn
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


def _ping(client: FlaskClient):
    tick = Event(id="tick", source="/ping", type=types.PING, data={"reason": "tick"})
    headers, body = codec.to_binary_http(tick)
    return client.post("/", headers=headers, data=body)


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
    client: FlaskClient, backstage: BackstageStandIn, database_url: str
) -> None:
    answer = _post(client)

    assert (answer.status_code, answer.data) == (202, b"")
    [request] = backstage.posts()
    assert request.json() == BODY
    assert [n["user"] for n in backstage.notifications()] == OPS
    delivery = _deliveries(database_url)[Channel.BACKSTAGE]
    assert (delivery.status, delivery.recipient_count) == (DeliveryStatus.SENT, 2)


def test_webhook_receives_the_notification_with_instance_and_workflow(
    client: FlaskClient, backstage: BackstageStandIn
) -> None:
    _post(client)

    [request] = backstage.peer.received("POST", "/hook")
    assert request.json()["instanceId"] == "inst-7"
    assert request.json()["workflowId"] == "deploy"
    assert request.json()["payload"] == BODY["payload"]


def test_duplicate_delivery_still_makes_one_post(
    client: FlaskClient, backstage: BackstageStandIn
) -> None:
    first = _post(client)
    second = _post(client)

    assert (first.status_code, second.status_code) == (202, 202)
    assert len(backstage.posts()) == 1
    assert len(backstage.peer.received("POST", "/hook")) == 1


def test_backstage_down_answers_503_and_a_ping_after_the_back_off_delivers_once(
    client: FlaskClient, backstage: BackstageStandIn, database_url: str
) -> None:
    backstage.up = False
    answers = [_post(client).status_code, _post(client).status_code]
    backstage.up = True

    eventually(lambda: _ping(client).status_code == 202 and backstage.notifications())

    assert answers == [503, 503]
    assert _post(client).status_code == 202
    assert len(backstage.notifications()) == len(OPS)
    assert _deliveries(database_url)[Channel.BACKSTAGE].status is DeliveryStatus.SENT


def test_backstage_refusal_is_recorded_and_not_retried(
    client: FlaskClient, backstage: BackstageStandIn, database_url: str
) -> None:
    data = {**BODY, "payload": {"title": "t", "link": "javascript:alert(1)"}}

    first = _post(client, data)
    again = _post(client, data)

    assert (first.status_code, again.status_code) == (422, 202)
    assert "Invalid link provided" in first.get_json()["message"]
    assert len(backstage.posts()) == 1
    delivery = _deliveries(database_url)[Channel.BACKSTAGE]
    assert delivery.status is DeliveryStatus.REJECTED
    assert "Invalid link provided" in (delivery.last_error or "")


def test_bad_data_is_refused_with_400_and_recorded_and_the_function_keeps_running(
    client: FlaskClient, backstage: BackstageStandIn, database_url: str
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
    assert len(backstage.posts()) == 1


def test_notification_refused_for_a_wrong_token_goes_out_once_the_token_is_fixed(
    environment: pytest.MonkeyPatch, backstage: BackstageStandIn, database_url: str
) -> None:
    environment.setenv("BACKSTAGE_NOTIFICATIONS_TOKEN", "wrong")
    refused = _post(_app_client())
    environment.setenv("BACKSTAGE_NOTIFICATIONS_TOKEN", TOKEN)
    fixed = _app_client()

    eventually(lambda: _ping(fixed).status_code == 202 and backstage.notifications())

    assert refused.status_code == 503
    assert "check BACKSTAGE_NOTIFICATIONS_TOKEN" in refused.get_json()["message"]
    delivery = _deliveries(database_url)[Channel.BACKSTAGE]
    assert (delivery.status, delivery.outcome) == (
        DeliveryStatus.SENT,
        SendOutcome.SENT,
    )


def test_a_failure_past_the_configured_give_up_age_is_dead_lettered(
    environment: pytest.MonkeyPatch, backstage: BackstageStandIn, database_url: str
) -> None:
    environment.setenv("KNFLOW_NOTIFY_GIVE_UP_AFTER_SECONDS", "0")
    backstage.up = False

    answer = _post(_app_client())

    assert answer.status_code == 422
    assert "gave up after 1 attempt over 0:00:00" in answer.get_json()["message"]
    assert _deliveries(database_url)[Channel.BACKSTAGE].status is DeliveryStatus.DEAD


def test_metrics_count_a_wrong_token_apart_from_the_deliveries_that_went_out(
    environment: pytest.MonkeyPatch, backstage: BackstageStandIn
) -> None:
    environment.setenv("BACKSTAGE_NOTIFICATIONS_TOKEN", "wrong")
    client = _app_client()
    assert _post(client).status_code == 503

    text = client.get("/metrics").get_data(as_text=True)

    refused = 'knflow_notification_deliveries_total{channel="backstage",outcome="UNAUTHORIZED"} 1.0'
    sent = 'knflow_notification_deliveries_total{channel="webhook",outcome="SENT"} 1.0'
    assert refused in text.splitlines()
    assert sent in text.splitlines()
