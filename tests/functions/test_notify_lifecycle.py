"""functions/notify end to end: ended runs notify the entity that started them."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app

from knflow.events import codec
from knflow.events.codec import Event
from knflow.store import db
from tests.backstage import TOKEN, BackstageStandIn
from tests.runtime.notify.ended_runs import state_event, store_run

MAIN = Path(__file__).resolve().parents[2] / "functions" / "notify" / "main.py"
INITIATOR = "user:default/ana"


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, database_url: str, backstage_api: BackstageStandIn
) -> pytest.MonkeyPatch:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BACKSTAGE_URL", backstage_api.url)
    monkeypatch.setenv("BACKSTAGE_NOTIFICATIONS_TOKEN", TOKEN)
    monkeypatch.setenv("KNFLOW_NOTIFY_OUTCOMES", "completed,error")
    return monkeypatch


@pytest.fixture
def client(environment: pytest.MonkeyPatch) -> FlaskClient:
    return _app_client()


def _app_client() -> FlaskClient:
    app = create_app(target="handle", source=str(MAIN), signature_type="http")
    return app.test_client()


def _post(client: FlaskClient, event: Event):
    headers, body = codec.to_binary_http(event)
    return client.post("/", headers=headers, data=body)


def test_completed_run_notifies_the_initiator_through_backstage(
    client: FlaskClient, backstage_api: BackstageStandIn, database_url: str
) -> None:
    with db.connect(database_url) as conn:
        store_run(conn, variables={"initiatorEntity": INITIATOR})

    answer = _post(client, state_event())

    assert answer.status_code == 202
    [request] = backstage_api.posts()
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json()["recipients"] == {"type": "entity", "entityRef": [INITIATOR]}
    assert request.json()["payload"]["title"] == "Workflow 'Greeting' completed"
    assert request.json()["payload"]["link"] == "/orchestrator/instances/inst-1"
    [stored] = backstage_api.notifications()
    assert stored["user"] == INITIATOR


def test_run_link_starts_with_the_configured_public_url(
    environment: pytest.MonkeyPatch, backstage_api: BackstageStandIn, database_url: str
) -> None:
    environment.setenv("BACKSTAGE_PUBLIC_URL", "https://devhub.example.com/")
    with db.connect(database_url) as conn:
        store_run(conn, variables={"initiatorEntity": INITIATOR})

    answer = _post(_app_client(), state_event())

    assert answer.status_code == 202
    [stored] = backstage_api.notifications()
    assert stored["payload"]["link"] == (
        "https://devhub.example.com/orchestrator/instances/inst-1"
    )


def test_failed_run_notifies_the_initiator_with_the_error(
    client: FlaskClient, backstage_api: BackstageStandIn, database_url: str
) -> None:
    with db.connect(database_url) as conn:
        store_run(
            conn,
            variables={"initiatorEntity": INITIATOR},
            status="ERROR",
            error_message="expression '.x' failed",
        )

    answer = _post(client, state_event(status="ERROR"))

    assert answer.status_code == 202
    [request] = backstage_api.posts()
    payload = request.json()["payload"]
    assert (payload["severity"], payload["topic"]) == ("high", "greet")
    assert "expression '.x' failed" in payload["description"]


def test_aborted_run_is_not_notified_when_not_configured(
    client: FlaskClient, backstage_api: BackstageStandIn, database_url: str
) -> None:
    with db.connect(database_url) as conn:
        store_run(conn, variables={"initiatorEntity": INITIATOR}, status="ABORTED")

    answer = _post(client, state_event(status="ABORTED"))

    assert answer.status_code == 202
    assert backstage_api.posts() == []


def test_started_run_is_acknowledged_without_a_notification(
    client: FlaskClient, backstage_api: BackstageStandIn
) -> None:
    answer = _post(client, state_event(event_type=1, status="ACTIVE"))

    assert (answer.status_code, answer.data) == (202, b"")
    assert backstage_api.posts() == []
