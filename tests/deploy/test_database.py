"""`knflow deploy --database`: definitions registered straight into PostgreSQL, and those
removed from the folder marked unavailable (no cluster involved)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from knflow.cli import main


def _workflow(folder: Path, workflow_id: str) -> None:
    document = {
        "id": workflow_id,
        "version": "1.0",
        "specVersion": "0.8",
        "name": workflow_id,
        "start": "Hello",
        "states": [{"name": "Hello", "type": "inject", "data": {"a": 1}, "end": True}],
    }
    folder.mkdir(exist_ok=True)
    (folder / f"{workflow_id}.sw.json").write_text(
        json.dumps(document), encoding="utf-8"
    )


def _statuses(database_url: str) -> dict[str, str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT workflow_id, status FROM definitions").fetchall()
    return {workflow_id: status for workflow_id, status in rows}


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
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _workflow(tmp_path / "defs", "hello")
    _workflow(tmp_path / "defs", "greet")

    code = main(
        ["deploy", "--database", str(tmp_path / "defs"), "--database-url", database_url]
    )

    assert code == 0
    assert _statuses(database_url) == {"hello": "AVAILABLE", "greet": "AVAILABLE"}
    assert capsys.readouterr().out.splitlines() == [
        "registered greet",
        "registered hello",
    ]


def test_database_deploy_marks_definitions_removed_from_the_folder_unavailable(
    tmp_path: Path, database_url: str
) -> None:
    defs = tmp_path / "defs"
    _workflow(defs, "hello")
    _workflow(defs, "greet")
    main(["deploy", "--database", str(defs), "--database-url", database_url])
    (defs / "greet.sw.json").unlink()

    code = main(["deploy", "--database", str(defs), "--database-url", database_url])

    assert code == 0
    assert _statuses(database_url) == {"hello": "AVAILABLE", "greet": "UNAVAILABLE"}
    assert _announced_statuses(database_url, "greet") == ["available", "unavailable"]
