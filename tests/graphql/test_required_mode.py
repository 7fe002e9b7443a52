"""The Data Index in production mode still answers the Orchestrator plugin's token-less queries."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app

from tests.graphql.conftest import MAIN, data, load_dataset
from tests.graphql.test_recorded_plugin_calls import CALLS_RECORDED


@pytest.fixture
def required(environment: pytest.MonkeyPatch) -> FlaskClient:
    environment.setenv("KNFLOW_AUTH_MODE", "required")
    app = create_app(target="handle", source=str(MAIN), signature_type="http")
    return load_dataset(app.test_client())


def test_every_recorded_plugin_query_is_answered_without_a_token(
    required: FlaskClient,
) -> None:
    answered = [
        data(required, call.query, call.variables, method=call.method)
        for call in CALLS_RECORDED
    ]
    assert all(value is not None for found in answered for value in found.values())
    assert len(answered) == 43


def test_a_query_with_an_invalid_token_is_refused(required: FlaskClient) -> None:
    answer = required.post(
        "/graphql",
        json={"query": "{ ProcessInstances { id } }"},
        headers={"Authorization": "Bearer not-a-jwt"},
    )
    assert answer.status_code == 401
