"""Waits through the running stack: event switches, callbacks, timeouts and correlation.

One `knflow dev` stack serves the module, with SonataFlow's timeouts showcase (its PT30S
timeouts shortened to PT4S) and correlation example; events go through the broker, timers are
fired by job-trigger.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest

from knflow.events import codec
from knflow.events.codec import Event
from tests.examples import copy_example
from tests.stack import DevStack
from tests.waiting import eventually


@dataclass(frozen=True)
class Stack:
    """The running stack and its database."""

    stack: DevStack
    database_url: str

    def start(self, workflow_id: str, data: dict[str, Any] | None = None) -> str:
        answer = httpx.post(
            f"{self.stack.url('start-workflow')}/{workflow_id}",
            json=data or {},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def send(self, event_type: str, data: Any = None, **extensions: str) -> None:
        event = Event(
            id=str(uuid.uuid4()),
            source="tests",
            type=event_type,
            data=data,
            extensions=extensions,
        )
        headers, body = codec.to_binary_http(event)
        assert (
            httpx.post(
                self.stack.broker_url, headers=headers, content=body, timeout=10
            ).status_code
            == 202
        )

    def row(self, instance_id: str) -> tuple[str, Any]:
        with psycopg.connect(self.database_url) as conn:
            found = conn.execute(
                "SELECT status, data FROM instances WHERE id = %s", (instance_id,)
            ).fetchone()
        assert found is not None
        return str(found[0]), found[1]

    def ended(self, instance_id: str, *, timeout: float = 30) -> tuple[str, Any]:
        return eventually(
            lambda: self.row(instance_id),
            lambda row: row[0] != "ACTIVE",
            timeout=timeout,
        )


@pytest.fixture(scope="module")
def running(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("workflows")
    copy_example(
        "serverless-workflow-timeouts-showcase-embedded",
        folder,
        patch={"PT30S": "PT4S"},
    )
    copy_example("serverless-workflow-correlation-quarkus", folder)
    url = module_database_url
    stack = DevStack.start(
        workflows_dir=folder,
        database_url=url,
        work_dir=tmp_path_factory.mktemp("stack"),
    )
    try:
        yield Stack(stack=stack, database_url=url)
    finally:
        stack.stop()


def test_an_event_switch_takes_the_branch_of_the_event_that_came(
    running: Stack,
) -> None:
    instance_id = running.start("switch_state_timeouts")
    running.send("visa_approved_event_type", {}, kogitoprocrefid=instance_id)
    status, data = running.ended(instance_id)
    assert status == "COMPLETED"
    assert data["exitMessage"] == "Your visa was approved."


def test_an_event_switch_takes_its_default_when_no_event_comes(running: Stack) -> None:
    instance_id = running.start("switch_state_timeouts")
    assert running.row(instance_id)[0] == "ACTIVE"
    status, data = running.ended(instance_id)
    assert status == "COMPLETED"
    assert data["exitMessage"].startswith("No decision was made")


def test_a_callback_merges_its_event(running: Stack) -> None:
    instance_id = running.start("callback_state_timeouts")
    running.send(
        "callback_event_type", {"eventData": "here"}, kogitoprocrefid=instance_id
    )
    status, data = running.ended(instance_id)
    assert status == "COMPLETED"
    assert data["exitMessage"] == "The callback event has arrived."


def test_a_callback_moves_on_at_its_event_timeout(running: Stack) -> None:
    instance_id = running.start("callback_state_timeouts")
    status, data = running.ended(instance_id)
    assert status == "COMPLETED"
    assert data["exitMessage"].startswith("The callback event has not arrived")


def test_an_event_state_moves_on_at_its_event_timeout(running: Stack) -> None:
    instance_id = running.start("event_state_timeouts")
    assert running.ended(instance_id)[0] == "COMPLETED"


def test_the_workflow_timeout_ends_a_waiting_instance(running: Stack) -> None:
    instance_id = running.start("workflow_timeouts")
    assert running.ended(instance_id)[0] == "ABORTED"
    assert (
        httpx.get(
            f"{running.stack.url('start-workflow')}/workflow_timeouts/{instance_id}"
        ).status_code
        == 404
    )


def test_correlated_events_follow_one_user_through_the_broker(running: Stack) -> None:
    user = uuid.uuid4().hex[:8]
    running.send("newAccountEventType", {"email": "a@b.c", "userId": user}, userid=user)

    def instance() -> str | None:
        with psycopg.connect(running.database_url) as conn:
            found = conn.execute(
                "SELECT id FROM instances WHERE correlation->>'userid' = %s", (user,)
            ).fetchone()
        return None if found is None else str(found[0])

    instance_id = eventually(instance, lambda found: found is not None, timeout=20)
    assert instance_id is not None
    running.send("validatedAccountEmail", {}, userid="someone-else")
    running.send("validatedAccountEmail", {}, userid=user)
    running.send("activatedAccount", {}, userid=user)
    assert running.ended(instance_id)[0] == "COMPLETED"
