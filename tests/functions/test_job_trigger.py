"""functions/job-trigger end to end: the v2 jobs API, job events, ticks, staying awake."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app

from knflow.events import codec, types
from knflow.events.codec import Event
from knflow.store import db
from tests.peers import HttpPeer, Recorded, Reply

MAIN = Path(__file__).resolve().parents[2] / "functions" / "job-trigger" / "main.py"


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> pytest.MonkeyPatch:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("K_SINK", raising=False)
    monkeypatch.setenv("KNFLOW_JOB_WINDOW_SECONDS", "0")
    return monkeypatch


@pytest.fixture
def client(environment: pytest.MonkeyPatch) -> FlaskClient:
    app = create_app(target="handle", source=str(MAIN), signature_type="http")
    return app.test_client()


def _job(
    peer: HttpPeer, job_id: str = "j1", due: datetime | None = None
) -> dict[str, Any]:
    due = due or datetime.now(UTC) + timedelta(hours=1)
    return {
        "id": job_id,
        "correlationId": "c1",
        "schedule": {"type": "timer", "startTime": due.isoformat()},
        "recipient": {"type": "http", "url": f"{peer.url}/hook", "method": "POST"},
    }


def _post_event(client: FlaskClient, event_type: str, data: Any, path: str = "/"):
    event = Event(id=f"ev-{event_type}", source="/test", type=event_type, data=data)
    headers, body = codec.to_binary_http(event)
    return client.post(path, headers=headers, data=body)


def test_a_posted_job_can_be_read_back(
    client: FlaskClient, http_peer: HttpPeer
) -> None:
    created = client.post("/v2/jobs", json=_job(http_peer))
    read = client.get("/v2/jobs/j1")
    assert created.status_code == 200
    assert read.status_code == 200
    assert read.json == created.json
    assert read.json["state"] == "SCHEDULED"


def test_reposting_a_job_reschedules_it(
    client: FlaskClient, http_peer: HttpPeer
) -> None:
    later = datetime(2031, 1, 1, tzinfo=UTC)
    client.post("/v2/jobs", json=_job(http_peer))
    client.post("/v2/jobs", json=_job(http_peer, due=later))
    read = client.get("/v2/jobs/j1")
    assert read.json["schedule"]["startTime"] == later.isoformat()


def test_a_deleted_job_answers_404_afterwards(
    client: FlaskClient, http_peer: HttpPeer
) -> None:
    client.post("/v2/jobs", json=_job(http_peer))
    deleted = client.delete("/v2/jobs/j1")
    read = client.get("/v2/jobs/j1")
    assert (deleted.status_code, deleted.json["state"]) == (200, "CANCELED")
    assert read.status_code == 404


def test_an_invalid_job_is_refused_with_400(client: FlaskClient) -> None:
    answer = client.post(
        "/v2/jobs",
        json={"id": "j1", "correlationId": "c1", "schedule": {"type": "cron"}},
    )
    assert answer.status_code == 400
    assert "only timer schedules" in answer.json["message"]


def test_job_create_and_delete_events_are_accepted_at_the_job_service_path(
    client: FlaskClient, http_peer: HttpPeer
) -> None:
    created = _post_event(client, types.JOB_CREATE, _job(http_peer), "/v2/jobs/events")
    read = client.get("/v2/jobs/j1")
    deleted = _post_event(client, types.JOB_DELETE, {"id": "j1"}, "/v2/jobs/events")
    gone = client.get("/v2/jobs/j1")
    assert (created.status_code, read.status_code) == (202, 200)
    assert (deleted.status_code, gone.status_code) == (202, 404)


def test_a_job_create_event_with_invalid_data_is_refused_with_400(
    client: FlaskClient,
) -> None:
    answer = _post_event(client, types.JOB_CREATE, {"schedule": {}})
    assert answer.status_code == 400


def test_an_event_of_another_type_is_refused_with_400(client: FlaskClient) -> None:
    answer = _post_event(client, "com.example.other", {})
    assert answer.status_code == 400


def test_a_tick_fires_the_jobs_that_are_due(
    client: FlaskClient, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/hook", Reply(200))
    client.post("/v2/jobs", json=_job(http_peer, due=datetime.now(UTC)))
    answer = _post_event(client, types.PING, {"reason": "tick"})
    assert answer.status_code == 202
    assert len(http_peer.received("POST", "/hook")) == 1
    assert client.get("/v2/jobs/j1").status_code == 404


def test_a_tick_stays_to_fire_a_job_due_shortly_after_at_its_time(
    environment: pytest.MonkeyPatch, http_peer: HttpPeer
) -> None:
    environment.setenv("KNFLOW_JOB_WINDOW_SECONDS", "1.5")
    client = _app_client()
    arrivals: list[datetime] = []

    def record(_request: Recorded) -> Reply:
        arrivals.append(datetime.now(UTC))
        return Reply(200)

    http_peer.route("POST", "/hook", record)
    due = datetime.now(UTC) + timedelta(milliseconds=600)
    client.post("/v2/jobs", json=_job(http_peer, due=due))
    answer = _post_event(client, types.PING, {"reason": "tick"})
    assert answer.status_code == 202
    assert len(arrivals) == 1
    assert timedelta(0) <= arrivals[0] - due < timedelta(seconds=1)


def test_only_one_invocation_stays_awake_at_a_time(
    environment: pytest.MonkeyPatch, database_url: str, http_peer: HttpPeer
) -> None:
    environment.setenv("KNFLOW_JOB_WINDOW_SECONDS", "8")
    first = _app_client()
    environment.setenv("KNFLOW_JOB_WINDOW_SECONDS", "5")
    second = _app_client()
    # Something due within both windows: an invocation stays only when there is.
    soon = datetime.now(UTC) + timedelta(seconds=3)
    first.post("/v2/jobs", json=_job(http_peer, due=soon))
    staying = threading.Thread(
        target=lambda: _post_event(first, types.PING, {"reason": "tick"})
    )
    staying.start()
    _wait_for_watcher(database_url)
    started = time.monotonic()
    answer = _post_event(second, types.PING, {"reason": "tick"})
    took = time.monotonic() - started
    staying.join(timeout=15)
    assert answer.status_code == 202
    assert took < 2.5  # the second did not stay for its 5 s window
    assert not staying.is_alive()


def _app_client() -> FlaskClient:
    """An app whose settings are read now (its first request reads the environment)."""
    client = create_app(
        target="handle", source=str(MAIN), signature_type="http"
    ).test_client()
    client.get("/health/readiness")
    return client


def _wait_for_watcher(database_url: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with db.connect(database_url) as conn:
            if conn.execute("SELECT holder FROM job_watch_leases").fetchone():
                return
        time.sleep(0.02)
    raise AssertionError("no invocation took the watch")


def test_health_endpoints_answer(client: FlaskClient) -> None:
    assert client.get("/health/liveness").status_code == 200
    assert client.get("/health/readiness").status_code == 200


def test_an_invocation_with_nothing_due_soon_returns_at_once(
    environment: pytest.MonkeyPatch, http_peer: HttpPeer
) -> None:
    environment.setenv("KNFLOW_JOB_WINDOW_SECONDS", "5")
    client = _app_client()
    client.post(
        "/v2/jobs", json=_job(http_peer, due=datetime.now(UTC) + timedelta(hours=1))
    )
    started = time.monotonic()
    answer = _post_event(client, types.PING, {"reason": "tick"})
    assert answer.status_code == 202
    assert time.monotonic() - started < 2  # scale to zero: no reason to stay
