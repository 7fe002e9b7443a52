"""Faults against the whole stack: honest answers during an outage, recovery in seconds."""

from __future__ import annotations

import contextlib
import threading
import time
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
RECOVERY_BOUND = 30.0
"""A generous margin over the stated worst case of a dead claimer (README: about 10 s)."""


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


def test_a_call_whose_executor_was_killed_is_re_driven_within_seconds(
    dev_stack_factory: StackFactory,
    tmp_path: Path,
    http_peer: HttpPeer,
    database_url: str,
) -> None:
    arrivals: list[float] = []
    first_arrived = threading.Event()
    release = threading.Event()

    def greet(request: Recorded) -> Reply:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            first_arrived.set()
            release.wait(60)  # the first executor dies while this call is in flight
        return Reply(body={"greeting": "hello"})

    http_peer.route("POST", "/greet/*", greet)
    env = {"KNFLOW_FUNCTION_URL_greet": http_peer.url}
    stack = dev_stack_factory(workflows_folder(tmp_path, "greet-rest.sw.json"), env=env)
    starter = threading.Thread(target=_start_greeting, args=(stack,), daemon=True)
    starter.start()
    assert first_arrived.wait(30)
    killed_at = time.monotonic()
    stack.kill("start-workflow")
    eventually(lambda: len(arrivals), lambda count: count >= 2, timeout=60)
    release.set()
    recovered = arrivals[1] - killed_at
    assert recovered < RECOVERY_BOUND, f"re-driven after {recovered:.1f} s"
    [instance_id] = _instance_ids(database_url)
    eventually(
        lambda: instance_status(database_url, instance_id),
        lambda status: status == "COMPLETED",
        timeout=30,
    )
    assert len(arrivals) == 2


def _start_greeting(stack: DevStack) -> None:
    """Start an instance whose answer never comes: its function is killed meanwhile."""
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(
            f"{stack.url('start-workflow')}/greetrest",
            json={"language": "en", "name": "Ann"},
            timeout=60,
        )


def _instance_ids(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        return [str(row[0]) for row in conn.execute("SELECT id FROM instances")]
