"""Faults against the whole stack: honest answers during an outage, recovery in seconds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.e2e.stacks import instance_status, workflows_folder
from tests.peers import HttpPeer, Recorded, Reply
from tests.stack import DevStack
from tests.waiting import eventually

StackFactory = Callable[..., DevStack]
OUTAGE_SECONDS = 2.0


def _cut_database(server_url: str, database_url: str, *, for_seconds: float) -> None:
    """Refuse connections to the test's database and end its sessions, for a while."""
    name = sql.Identifier(str(conninfo_to_dict(database_url)["dbname"]))
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(name)
        )
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (str(conninfo_to_dict(database_url)["dbname"]),),
        )

    def restore() -> None:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(name)
            )

    threading.Timer(for_seconds, restore).start()


def test_a_start_whose_work_after_commit_fails_answers_201_and_completes(
    dev_stack_factory: StackFactory,
    tmp_path: Path,
    http_peer: HttpPeer,
    server_url: str,
    database_url: str,
) -> None:
    calls: list[str] = []

    def greet(request: Recorded) -> Reply:
        calls.append(request.path)
        if len(calls) == 1:  # the database goes away while the first call runs
            _cut_database(server_url, database_url, for_seconds=OUTAGE_SECONDS)
        return Reply(body={"greeting": "hello"})

    http_peer.route("POST", "/greet/*", greet)
    env = {
        "KNFLOW_FUNCTION_URL_greet": http_peer.url,
        "KNFLOW_SYNC_BUDGET_SECONDS": "3",
        "KNFLOW_ACTION_TIMEOUT_SECONDS": "2",
        "KNFLOW_REDRIVE_AFTER_SECONDS": "1",
    }
    stack = dev_stack_factory(workflows_folder(tmp_path, "greet-rest.sw.json"), env=env)
    answer = httpx.post(
        f"{stack.url('start-workflow')}/greetrest",
        json={"language": "en", "name": "Ann"},
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    instance_id = answer.json()["id"]
    assert answer.headers["location"] == f"/greetrest/{instance_id}"
    eventually(
        lambda: instance_status(database_url, instance_id),
        lambda status: status == "COMPLETED",
        timeout=90,
    )
    assert len(calls) == 2  # the one call in flight was repeated, once
