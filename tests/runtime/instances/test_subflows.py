"""Subflows: sync children resume their parent; async ones end with it when asked to."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from knflow.runtime.services import Services
from knflow.runtime.start_workflow import management
from knflow.store import instances
from tests.conftest import TEST_DATA
from tests.runtime import runs

Register = Callable[[Path], list[str]]


def _write(folder: Path, document: dict[str, Any]) -> None:
    (folder / f"{document['id']}.sw.json").write_text(json.dumps(document))


def _children(services: Services, parent_id: str) -> list[tuple[str, str]]:
    with services.pool.connection() as conn:
        rows = conn.execute(
            "SELECT id, status FROM instances WHERE parent_instance_id = %s",
            (parent_id,),
        )
        return [(str(r[0]), str(r[1])) for r in rows.fetchall()]


def _install(tmp_path: Path, register: Register, on_parent_complete: str) -> None:
    (tmp_path / "waiter.sw.json").write_text(
        (TEST_DATA / "workflows" / "waiter.sw.json").read_text()
    )
    _write(
        tmp_path,
        {
            "id": "launcher",
            "specVersion": "0.8",
            "start": "launch",
            "states": [
                {
                    "name": "launch",
                    "type": "operation",
                    "end": True,
                    "actions": [
                        {
                            "subFlowRef": {
                                "workflowId": "waiter",
                                "invoke": "async",
                                "onParentComplete": on_parent_complete,
                            }
                        }
                    ],
                }
            ],
        },
    )
    register(tmp_path)


def test_an_async_child_with_terminate_ends_with_its_parent(
    services: Services, register: Register, tmp_path: Path
) -> None:
    _install(tmp_path, register, "terminate")
    parent = runs.start(services, "launcher", {})
    assert runs.finish(services, parent).status == "COMPLETED"
    assert [status for _, status in _children(services, parent)] == ["ABORTED"]


def test_an_async_child_with_continue_outlives_its_parent(
    services: Services, register: Register, tmp_path: Path
) -> None:
    _install(tmp_path, register, "continue")
    parent = runs.start(services, "launcher", {})
    assert runs.finish(services, parent).status == "COMPLETED"
    assert [status for _, status in _children(services, parent)] == ["ACTIVE"]


def test_aborting_a_waited_for_child_fails_the_parent_step(
    services: Services, register: Register, tmp_path: Path
) -> None:
    (tmp_path / "waiter.sw.json").write_text(
        (TEST_DATA / "workflows" / "waiter.sw.json").read_text()
    )
    _write(
        tmp_path,
        {
            "id": "caller",
            "specVersion": "0.8",
            "start": "call",
            "states": [
                {
                    "name": "call",
                    "type": "operation",
                    "end": True,
                    "actions": [{"subFlowRef": "waiter"}],
                }
            ],
        },
    )
    register(tmp_path)
    parent = runs.start(services, "caller", {})
    [(child, status)] = _children(services, parent)
    assert status == "ACTIVE"
    management.abort(services, "waiter", child)
    with services.pool.connection() as conn:
        row = instances.get(conn, parent)
    assert row is not None
    assert row.status == "ERROR"
    assert row.error_state == "call"


def test_aborting_a_parent_aborts_its_running_children(
    services: Services, register: Register, tmp_path: Path
) -> None:
    _install(tmp_path, register, "continue")
    parent = runs.start(services, "launcher", {})
    runs.finish(services, parent)
    (tmp_path / "holder.sw.json").write_text(
        json.dumps(
            {
                "id": "holder",
                "specVersion": "0.8",
                "start": "call",
                "states": [
                    {
                        "name": "call",
                        "type": "operation",
                        "end": True,
                        "actions": [{"subFlowRef": "waiter"}],
                    }
                ],
            }
        )
    )
    register(tmp_path)
    holder = runs.start(services, "holder", {})
    management.abort(services, "holder", holder)
    assert [status for _, status in _children(services, holder)] == ["ABORTED"]


def test_a_subflow_that_cannot_start_fails_its_parent_step(
    services: Services, register: Register, tmp_path: Path
) -> None:
    _write(
        tmp_path,
        {
            "id": "orphan",
            "specVersion": "0.8",
            "start": "call",
            "states": [
                {
                    "name": "call",
                    "type": "operation",
                    "end": True,
                    "actions": [{"subFlowRef": "missing"}],
                }
            ],
        },
    )
    register(tmp_path)
    view = runs.finish(services, runs.start(services, "orphan", {}))
    assert view.status == "ERROR"
    assert view.error_message is not None
    assert "subflow 'missing' could not start" in view.error_message
