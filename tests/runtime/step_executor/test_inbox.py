"""step-executor's intake of consumed events: an event and a new wait that cross still meet."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from knflow.engine.outcome import InstanceStatus
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import starting
from knflow.runtime.step_executor import inbox
from tests.runtime import runs
from tests.waiting import eventually

APPROVAL = {
    "id": "approval",
    "version": "1.0",
    "specVersion": "0.8",
    "start": "prepare",
    "events": [{"name": "approved", "type": "org.example.approval", "source": ""}],
    "states": [
        {
            "name": "prepare",
            "type": "inject",
            "data": {"ready": True},
            "transition": "wait",
        },
        {
            "name": "wait",
            "type": "event",
            "onEvents": [{"eventRefs": ["approved"]}],
            "end": True,
        },
    ],
}


def test_an_event_that_crossed_a_new_wait_is_offered_again_after_its_commit(
    services: Services,
    register: Callable[[Path], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "approval.sw.json").write_text(json.dumps(APPROVAL))
    register(tmp_path)
    instance_id = runs.start(services, "approval", {})
    assert runs.finish(services, instance_id).waiting
    looks: list[str] = []
    real_resume = inbox._resume_waiting

    def first_look_misses_the_wait(work, event, **kept):  # type: ignore[no-untyped-def]
        # The wait's subscription committed just after the delivery looked for waits.
        looks.append(event.type)
        return [] if len(looks) == 1 else real_resume(work, event, **kept)

    monkeypatch.setattr(inbox, "_resume_waiting", first_look_misses_the_wait)

    runs.send(
        services, "org.example.approval", {"ok": True}, kogitoprocrefid=instance_id
    )

    assert looks == ["org.example.approval", "org.example.approval"]
    assert runs.finish(services, instance_id).status is InstanceStatus.COMPLETED


def test_a_kept_event_another_transaction_holds_is_waited_for_not_skipped(
    services: Services,
    register: Callable[[Path], list[str]],
    tmp_path: Path,
    database_url: str,
) -> None:
    (tmp_path / "approval.sw.json").write_text(json.dumps(APPROVAL))
    register(tmp_path)
    runs.send(  # nobody waits for it yet: kept
        services, "org.example.approval", {"ok": True}, kogitobusinesskey="order-7"
    )
    started: list[str] = []
    with psycopg.connect(database_url) as holder:
        # Another wait looking at the same kept event holds it, and will not take it.
        holder.execute("SELECT id FROM received_events FOR UPDATE").fetchall()
        request = starting.StartRequest(
            workflow_id="approval", data={}, business_key="order-7"
        )
        starter = threading.Thread(
            target=lambda: started.append(starting.start_instance(services, request).id)
        )
        starter.start()
        eventually(
            lambda: bool(started) or _waits_for_a_lock(database_url),
            timeout=30,
        )
        holder.rollback()
    starter.join(30)
    assert runs.finish(services, started[0]).status is InstanceStatus.COMPLETED


def _waits_for_a_lock(database_url: str) -> bool:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return bool(row and row[0])
