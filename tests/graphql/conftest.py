"""The real data-index-sink app, loaded with runs through its own CloudEvent ingestion."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from functions_framework import create_app
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from knflow.events import codec, kogito
from knflow.events.codec import Event
from knflow.events.types import PROCESS_INSTANCE_MULTIPLE
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
    """The sink after ingesting `dataset()`: definitions one by one, runs as one group."""
    return load_dataset(sink)


@pytest.fixture(scope="module")
def shared_index(server_url: str, template_db: str) -> Iterator[FlaskClient]:
    """One loaded sink per test module, for tests that only read (saves set-up time)."""
    name = f"knflow_gq_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template_db)
            )
        )
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", make_conninfo(**params))
        app = create_app(target="handle", source=str(MAIN), signature_type="http")
        yield load_dataset(app.test_client())
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )


def load_dataset(sink: FlaskClient) -> FlaskClient:
    """Ingest `dataset()` through `sink`: definitions one by one, runs as one group."""
    runs = []
    for path, event in dataset():
        if path == "/definitions":
            post_event(sink, event, path=path)
        else:
            runs.append(event.to_dict())
    group = Event(
        id="group-1", source="/test", type=PROCESS_INSTANCE_MULTIPLE, data=runs
    )
    post_event(sink, group, path="/processes")
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
