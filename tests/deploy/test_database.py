"""`knflow deploy --database`: definitions registered straight into PostgreSQL, and those
removed from the folder marked unavailable (no cluster involved)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from knflow.cli import main
from knflow.commands.deploy import ANNOUNCED_LATER
from knflow.events import codec
from knflow.runtime import catalog
from knflow.runtime.services import Services
from knflow.store import db, index
from knflow.store.index import IndexedDefinition
from tests.peers import HttpPeer, Reply
from tests.runtime import runs

SERVICE_URL = "http://start-workflow.knflow.svc.cluster.local"
DEPLOY = ["deploy", "--database", "--service-url", SERVICE_URL]


def _workflow(
    folder: Path, workflow_id: str, *, version: str = "1.0", a: int = 1
) -> None:
    document = {
        "id": workflow_id,
        "version": version,
        "specVersion": "0.8",
        "name": workflow_id,
        "start": "Hello",
        "states": [{"name": "Hello", "type": "inject", "data": {"a": a}, "end": True}],
    }
    folder.mkdir(exist_ok=True)
    (folder / f"{workflow_id}.sw.json").write_text(
        json.dumps(document), encoding="utf-8"
    )


def _statuses(database_url: str) -> dict[str, str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT workflow_id, status FROM definitions").fetchall()
    return {workflow_id: status for workflow_id, status in rows}


def _announced_versions(database_url: str, workflow_id: str) -> list[str]:
    """The version of each ProcessDefinitionEvent queued for the Data Index."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT event FROM outbox WHERE event_type = 'ProcessDefinitionEvent' ORDER BY id"
        ).fetchall()
    return [
        event["data"]["version"]
        for (event,) in rows
        if event["data"]["id"] == workflow_id
    ]


def _announced_statuses(database_url: str, workflow_id: str) -> list[str]:
    """The `metadata.status` of each ProcessDefinitionEvent queued for the Data Index."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT event FROM outbox WHERE event_type = 'ProcessDefinitionEvent' ORDER BY id"
        ).fetchall()
    return [
        event["data"]["metadata"]["status"]
        for (event,) in rows
        if event["data"]["id"] == workflow_id
    ]


def test_database_deploy_registers_every_definition_of_the_folder(
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("K_SINK", raising=False)
    _workflow(tmp_path / "defs", "hello")
    _workflow(tmp_path / "defs", "greet")

    code = main([*DEPLOY, str(tmp_path / "defs"), "--database-url", database_url])

    assert code == 0
    assert _statuses(database_url) == {"hello": "AVAILABLE", "greet": "AVAILABLE"}
    assert capsys.readouterr().out.splitlines() == [
        "registered greet",
        "registered hello",
        ANNOUNCED_LATER,
    ]


def test_with_a_broker_named_the_deploy_announces_at_once(
    tmp_path: Path,
    database_url: str,
    http_peer: HttpPeer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    http_peer.route("POST", "/broker", Reply(202))
    monkeypatch.setenv("K_SINK", f"{http_peer.url}/broker")
    _workflow(tmp_path / "defs", "hello")

    code = main([*DEPLOY, str(tmp_path / "defs"), "--database-url", database_url])

    assert code == 0
    assert ANNOUNCED_LATER not in capsys.readouterr().out
    delivered = [
        codec.from_http(r.headers, r.body)
        for r in http_peer.received("POST", "/broker")
    ]
    assert [e.type for e in delivered] == ["ProcessDefinitionEvent"]
    with psycopg.connect(database_url) as conn:
        unsent = conn.execute(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
        ).fetchone()
    assert unsent == (0,)


def test_database_deploy_marks_definitions_removed_from_the_folder_unavailable(
    tmp_path: Path, database_url: str
) -> None:
    defs = tmp_path / "defs"
    _workflow(defs, "hello")
    _workflow(defs, "greet")
    main([*DEPLOY, str(defs), "--database-url", database_url])
    (defs / "greet.sw.json").unlink()

    code = main([*DEPLOY, str(defs), "--database-url", database_url])

    assert code == 0
    assert _statuses(database_url) == {"hello": "AVAILABLE", "greet": "UNAVAILABLE"}
    assert _announced_statuses(database_url, "greet") == ["available", "unavailable"]


def _deploy(folder: Path, database_url: str) -> None:
    assert main([*DEPLOY, str(folder), "--database-url", database_url]) == 0


def _indexed(services: Services, workflow_id: str, version: str) -> IndexedDefinition:
    runs.index_outbox(services)
    with db.transaction(services.pool) as conn:
        found = index.get_definition(conn, workflow_id, version)
    assert found is not None
    return found


def test_going_back_to_an_earlier_definition_reaches_the_data_index(
    tmp_path: Path, database_url: str, services: Services
) -> None:
    defs = tmp_path / "defs"
    for a in (1, 2, 1):
        _workflow(defs, "hello", a=a)
        _deploy(defs, database_url)

    indexed = _indexed(services, "hello", "1.0")

    assert '"a": 1' in str(indexed.source)


def test_a_workflow_deployed_again_after_its_withdrawal_is_available_again(
    tmp_path: Path, database_url: str, services: Services
) -> None:
    defs = tmp_path / "defs"
    _workflow(defs, "hello")
    _deploy(defs, database_url)
    (defs / "hello.sw.json").unlink()
    _deploy(defs, database_url)
    _workflow(defs, "hello")

    _deploy(defs, database_url)

    assert _statuses(database_url) == {"hello": "AVAILABLE"}
    assert _indexed(services, "hello", "1.0").metadata["status"] == "available"


def test_deploying_an_earlier_version_again_serves_and_announces_it(
    tmp_path: Path, database_url: str, services: Services
) -> None:
    defs = tmp_path / "defs"
    for version in ("1.0", "2.0", "1.0"):
        _workflow(defs, "hello", version=version)
        _deploy(defs, database_url)

    with db.transaction(services.pool) as conn:
        served = catalog.load(conn, services.definitions, "hello")
    assert served.definition.version == "1.0"
    assert _announced_versions(database_url, "hello") == ["1.0", "2.0", "1.0"]


def test_two_files_of_one_workflow_are_refused(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    defs = tmp_path / "defs"
    _workflow(defs, "hello")
    (defs / "hello.sw.json").rename(defs / "hello-1.sw.json")
    _workflow(defs, "hello", version="2.0")

    code = main([*DEPLOY, str(defs), "--database-url", database_url])

    assert code == 1
    assert "workflow id 'hello' is defined twice" in capsys.readouterr().err
    assert _statuses(database_url) == {}


def test_without_a_service_url_the_deploy_is_refused_and_changes_nothing(
    tmp_path: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KNFLOW_SERVICE_URL", raising=False)
    _workflow(tmp_path / "defs", "hello")

    code = main(
        ["deploy", "--database", str(tmp_path / "defs"), "--database-url", database_url]
    )

    assert code == 1
    assert "--service-url" in capsys.readouterr().err
    assert _statuses(database_url) == {}


def test_the_service_url_given_is_the_one_announced(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KNFLOW_SERVICE_URL", raising=False)
    _workflow(tmp_path / "defs", "hello")

    main([*DEPLOY, str(tmp_path / "defs"), "--database-url", database_url])

    with psycopg.connect(database_url) as conn:
        [(endpoint,)] = conn.execute(
            "SELECT event->'data'->>'endpoint' FROM outbox"
            " WHERE event_type = 'ProcessDefinitionEvent'"
        ).fetchall()
    assert endpoint == f"{SERVICE_URL}/hello"
