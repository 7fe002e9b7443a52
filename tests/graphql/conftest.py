"""The real data-index-sink app, loaded with runs through its own CloudEvent ingestion."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app

from knflow.events import codec, kogito
from knflow.events.codec import Event
from tests.graphql import sample_runs
from tests.graphql.sample_runs import at
from tests.peers import HttpPeer

MAIN = Path(__file__).resolve().parents[2] / "functions" / "data-index-sink" / "main.py"
ANN = "user:default/ann"
BOB = "user:default/bob"


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, database_url: str, http_peer: HttpPeer
) -> pytest.MonkeyPatch:
    """The settings the function reads: this test's database, runtime and jobs peers."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KNFLOW_RUNTIME_URL", http_peer.url)
    monkeypatch.setenv("KNFLOW_JOBS_URL", http_peer.url + "/jobs-service")
    return monkeypatch


@pytest.fixture
def sink(environment: pytest.MonkeyPatch) -> FlaskClient:
    """A test client of `functions/data-index-sink/main.py`, nothing ingested."""
    app = create_app(target="handle", source=str(MAIN), signature_type="http")
    return app.test_client()


@pytest.fixture
def indexed(sink: FlaskClient) -> FlaskClient:
    """The sink after ingesting the dataset of `dataset()`."""
    for path, event in dataset():
        post_event(sink, event, path=path)
    return sink


def dataset() -> list[tuple[str, Event]]:
    """Definitions and runs: completed, failed, waiting with a child, retriggered."""
    child = sample_runs.completed_run("child-1", "greet", start=25)
    child = [_with_parent(e, "w-1") for e in child]
    events: list[tuple[str, Event]] = [
        ("/definitions", sample_runs.definition("greet")),
        ("/definitions", sample_runs.definition("approve")),
        (
            "/definitions",
            sample_runs.definition("retired", metadata={"status": "unavailable"}),
        ),
    ]
    runs = [
        *sample_runs.completed_run(
            "c-1",
            variables={"initiatorEntity": ANN, "targetEntity": "component:default/x"},
        ),
        *sample_runs.failed_run("f-1", start=10),
        *_with_variables("f-1", 10, {"initiatorEntity": BOB}),
        *sample_runs.waiting_run("w-1", "approve", start=20),
        *_with_variables(
            "w-1", 20, {"initiatorEntity": ANN, "targetEntity": "component:default/y"}
        ),
        *child,
        *sample_runs.retriggered_run("r-1", start=30),
    ]
    return events + [("/processes", e) for e in runs]


def post_event(client: FlaskClient, event: Event, *, path: str = "/") -> Any:
    """POST `event` in binary mode and check that it was accepted."""
    headers, body = codec.to_binary_http(event)
    answer = client.post(path, headers=headers, data=body)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    return answer


def gql(
    client: FlaskClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    method: str = "POST",
) -> dict[str, Any]:
    """Run a GraphQL operation over HTTP and return the decoded answer."""
    if method == "GET":
        params = {"query": query}
        if variables is not None:
            params["variables"] = json.dumps(variables)
        answer = client.get("/graphql", query_string=params)
    else:
        answer = client.post("/graphql", json={"query": query, "variables": variables})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    decoded: dict[str, Any] = answer.get_json()
    return decoded


def data(
    client: FlaskClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    method: str = "POST",
) -> dict[str, Any]:
    """Run an operation that must succeed and return its `data`."""
    answer = gql(client, query, variables, method=method)
    assert "errors" not in answer, answer["errors"]
    result: dict[str, Any] = answer["data"]
    return result


def _with_parent(event: Event, parent_id: str) -> Event:
    extensions = {**event.extensions, "kogitoparentprociid": parent_id}
    body = dict(event.data)
    if event.type == "ProcessInstanceStateDataEvent":
        body["parentInstanceId"] = parent_id
    return replace(event, data=body, extensions=extensions)


def _with_variables(
    instance_id: str, start: float, values: dict[str, Any]
) -> list[Event]:
    facts = sample_runs.facts(instance_id, start=at(start))
    return [
        kogito.variable_event(facts, name, value, at=at(start), seq=f"x-{name}")
        for name, value in values.items()
    ]
