"""Fixtures for function tests: an app built from a function's real `main.py`."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import flask
import pytest
from functions_framework import create_app

from tests.conftest import ROOT, TEST_DATA
from tests.issuer import TEST_TOKEN_KEY, Issuer
from tests.peers import HttpPeer

FunctionClient = Callable[[str], "flask.testing.FlaskClient"]
GuardedStartWorkflow = Callable[[str, Mapping[str, str]], "flask.testing.FlaskClient"]
"""Builds start-workflow in `required` mode from a policy text and the issuers' settings."""


@pytest.fixture
def function_client(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> FunctionClient:
    """Return a factory of test clients for `functions/<name>/main.py` on this test's database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("K_SINK", raising=False)
    monkeypatch.setenv("KNFLOW_TOKEN_KEY", TEST_TOKEN_KEY)

    def client(name: str) -> flask.testing.FlaskClient:
        app = create_app(
            target="handle",
            source=str(ROOT / "functions" / name / "main.py"),
            signature_type="http",
        )
        return app.test_client()

    return client


@pytest.fixture
def guarded_start_workflow(
    function_client: FunctionClient,
    register: Callable[[Path], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    http_peer: HttpPeer,
) -> GuardedStartWorkflow:
    """Return a factory of start-workflow clients in `required` mode.

    Each has the given policy file and issuer settings, and `greet-rest` (calling
    `http_peer`) and `waiter` registered.
    """

    def build(policy: str, issuers: Mapping[str, str]) -> flask.testing.FlaskClient:
        (tmp_path / "policy.yaml").write_text(policy)
        settings = {
            "KNFLOW_FUNCTION_URL_greet": http_peer.url,
            "KNFLOW_AUTH_MODE": "required",
            "KNFLOW_AUTH_POLICY": str(tmp_path / "policy.yaml"),
            **issuers,
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        workflows = tmp_path / "workflows"
        workflows.mkdir()
        for name in ("greet-rest", "waiter"):
            shutil.copy(TEST_DATA / "workflows" / f"{name}.sw.json", workflows)
        register(workflows)
        return function_client("start-workflow")

    return build


def backstage_settings(backstage: Issuer) -> dict[str, str]:
    """The settings that make a function accept `backstage`'s user tokens."""
    return {
        "KNFLOW_BACKSTAGE_ISSUER": backstage.issuer,
        "KNFLOW_BACKSTAGE_JWKS_URL": backstage.jwks_url,
    }
