"""Helpers of the end-to-end tests (and `make chaos`): workflow folders, statuses, broker posts."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import psycopg

from knflow.events import codec
from knflow.events.codec import Event
from tests.stack import DevStack

WORKFLOWS = Path(__file__).resolve().parent.parent / "data" / "workflows"


def workflows_folder(tmp_path: Path, *names: str) -> Path:
    """Copy the named definitions of `tests/data/workflows` into a fresh folder."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    for name in names:
        shutil.copy(WORKFLOWS / name, folder / name)
    return folder


def instance_status(database_url: str, instance_id: str) -> str:
    """The instance's status in the runtime tables ("" when there is no such instance)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT status FROM instances WHERE id = %s", (instance_id,)
        ).fetchone()
    return "" if row is None else str(row[0])


def post_event(stack: DevStack, event: Event) -> httpx.Response:
    """Send a CloudEvent (binary mode) to the stack's broker ingress."""
    headers, body = codec.to_binary_http(event)
    return httpx.post(stack.broker_url, headers=headers, content=body, timeout=10)
