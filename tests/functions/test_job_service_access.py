"""job-trigger's Job Service API in production mode: tokens, the schedule permission, allowed hosts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app

from tests.conftest import ROOT
from tests.issuer import Issuer, backstage_token

MAIN = ROOT / "functions" / "job-trigger" / "main.py"
POLICY = """
default: [read]
rules:
  - principals: ["group:default/schedulers"]
    allow: [schedule]
"""


@pytest.fixture
def client(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    backstage: Issuer,
    tmp_path: Path,
) -> FlaskClient:
    (tmp_path / "policy.yaml").write_text(POLICY)
    for name, value in {
        "DATABASE_URL": database_url,
        "KNFLOW_JOB_WINDOW_SECONDS": "0",
        "KNFLOW_AUTH_MODE": "required",
        "KNFLOW_BACKSTAGE_ISSUER": backstage.issuer,
        "KNFLOW_BACKSTAGE_JWKS_URL": backstage.jwks_url,
        "KNFLOW_AUTH_POLICY": str(tmp_path / "policy.yaml"),
        "KNFLOW_JOB_RECIPIENT_HOSTS": "*.svc.cluster.local, hooks.example.com",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("K_SINK", raising=False)
    return create_app(
        target="handle", source=str(MAIN), signature_type="http"
    ).test_client()


def _job(url: str) -> dict[str, Any]:
    due = datetime.now(UTC) + timedelta(hours=1)
    return {
        "id": "j1",
        "correlationId": "c1",
        "schedule": {"type": "timer", "startTime": due.isoformat()},
        "recipient": {"type": "http", "url": url, "method": "POST"},
    }


def _scheduler(backstage: Issuer) -> dict[str, str]:
    token = backstage_token(
        backstage, ent=["user:default/ada", "group:default/schedulers"]
    )
    return {"X-Authorization-Backstage": token}


def test_a_job_without_a_token_is_refused(client: FlaskClient) -> None:
    answer = client.post("/v2/jobs", json=_job("http://hooks.example.com/x"))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_job_by_a_caller_without_schedule_is_refused(
    client: FlaskClient, backstage: Issuer
) -> None:
    token = backstage_token(backstage, sub="user:default/eve")
    answer = client.post(
        "/v2/jobs",
        json=_job("http://hooks.example.com/x"),
        headers={"X-Authorization-Backstage": token},
    )
    assert answer.status_code == 403
    assert "'schedule'" in answer.get_json()["message"]


def test_a_job_to_an_allowed_host_is_scheduled(
    client: FlaskClient, backstage: Issuer
) -> None:
    answer = client.post(
        "/v2/jobs",
        json=_job("http://notify.knflow.svc.cluster.local/hook"),
        headers=_scheduler(backstage),
    )
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            "http://169.254.169.254/latest/meta-data",
            "host '169.254.169.254' is not allowed",
        ),
        ("file:///etc/passwd", "uses the scheme 'file'; allowed: http, https"),
    ],
    ids=["metadata-service", "file-scheme"],
)
def test_a_job_to_another_host_or_scheme_is_refused(
    client: FlaskClient, backstage: Issuer, url: str, reason: str
) -> None:
    answer = client.post("/v2/jobs", json=_job(url), headers=_scheduler(backstage))
    assert answer.status_code == 400
    assert reason in answer.get_json()["message"]
