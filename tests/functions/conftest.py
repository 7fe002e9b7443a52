"""Fixtures for function tests: an app built from a function's real `main.py`, and registration."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import flask
import pytest
from functions_framework import create_app

from knflow.config import Settings
from knflow.outbound.http import new_client
from knflow.runtime import definitions
from knflow.runtime.services import Services
from knflow.store.db import Pool
from tests.conftest import ROOT

FunctionClient = Callable[[str], "flask.testing.FlaskClient"]


@pytest.fixture
def function_client(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> FunctionClient:
    """Return a factory of test clients for `functions/<name>/main.py` on this test's database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("K_SINK", raising=False)

    def client(name: str) -> flask.testing.FlaskClient:
        app = create_app(
            target="handle",
            source=str(ROOT / "functions" / name / "main.py"),
            signature_type="http",
        )
        return app.test_client()

    return client


@pytest.fixture
def services(pool: Pool) -> Iterator[Services]:
    """Services on this test's database, with the settings of the environment."""
    http = new_client(timedelta(seconds=10))
    yield Services(settings=Settings.from_environment(), pool=pool, http=http)
    http.close()


@pytest.fixture
def register(services: Services) -> Callable[[Path], list[str]]:
    """Register every definition of a folder."""
    return lambda folder: definitions.register_folder(services, folder)
