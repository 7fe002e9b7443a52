"""Fixtures for function tests: an app built from a function's real `main.py`."""

from __future__ import annotations

from collections.abc import Callable

import flask
import pytest
from functions_framework import create_app

from tests.conftest import ROOT
from tests.issuer import TEST_TOKEN_KEY

FunctionClient = Callable[[str], "flask.testing.FlaskClient"]


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
