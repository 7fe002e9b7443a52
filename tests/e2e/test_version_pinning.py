"""Version pinning through the running stack: redeploys while instances wait, migration.

One `knflow dev` stack serves the module. A redeploy is what the cluster's ApiServerSource sends
start-workflow when a workflow's ConfigMap changes; events go through the broker, timers are
fired by job-trigger, and the versions are read from the Data Index over GraphQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from knflow.events import codec, types
from knflow.events.codec import Event
from tests.runtime.pinning import GO, sleeper, waiter
from tests.stack import DevStack
from tests.waiting import eventually


@dataclass(frozen=True)
class Stack:
    """The running stack and its database."""

    stack: DevStack
    database_url: str

    @property
    def api(self) -> str:
        return self.stack.url("start-workflow")

    def start(self, workflow_id: str) -> str:
        answer = httpx.post(f"{self.api}/{workflow_id}", json={}, timeout=30)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def redeploy(self, document: Any) -> None:
        """Send start-workflow the ConfigMap event a changed workflow ConfigMap causes."""
        configmap = {
            "kind": "ConfigMap",
            "metadata": {"labels": {"knflow.dev/workflow": document["id"]}},
            "data": {f"{document['id']}.sw.json": json.dumps(document)},
        }
        event = Event(
            id=str(uuid.uuid4()),
            source="apiserver",
            type=types.APISERVER_RESOURCE_UPDATE,
            data=configmap,
        )
        headers, body = codec.to_binary_http(event)
        answer = httpx.post(
            f"{self.api}/management/definitions/events",
            headers=headers,
            content=body,
            timeout=30,
        )
        assert answer.json() == {"registered": [document["id"]]}

    def go(self, instance_id: str) -> None:
        event = Event(
            id=str(uuid.uuid4()),
            source="tests",
            type=GO,
            data={},
            extensions={"kogitoprocrefid": instance_id},
        )
        headers, body = codec.to_binary_http(event)
        answer = httpx.post(
            self.stack.broker_url, headers=headers, content=body, timeout=10
        )
        assert answer.status_code == 202

    def ended(self, instance_id: str) -> tuple[str, Any]:
        def read() -> tuple[str, Any]:
            with psycopg.connect(self.database_url) as conn:
                found = conn.execute(
                    "SELECT status, data FROM instances WHERE id = %s", (instance_id,)
                ).fetchone()
            assert found is not None
            return str(found[0]), found[1]

        return eventually(read, lambda row: row[0] != "ACTIVE", timeout=30)

    def shown_version(self, instance_id: str, expected: str) -> str:
        """The instance's `version` in the Data Index, once it is `expected`."""
        query = (
            "query ($id: String!) { ProcessInstances(where: {id: {equal: $id}})"
            " { id version } }"
        )

        def read() -> str | None:
            answer = httpx.post(
                f"{self.stack.url('data-index-sink')}/graphql",
                json={"query": query, "variables": {"id": instance_id}},
                timeout=5,
            ).json()
            found = answer["data"]["ProcessInstances"]
            return found[0]["version"] if found else None

        return str(eventually(read, lambda version: version == expected))

    def latest_label(self, workflow_id: str) -> str:
        """The label of the revision a start without a version gets."""
        listed = httpx.get(
            f"{self.api}/management/processes/{workflow_id}/revisions", timeout=10
        ).json()
        [latest] = [r["label"] for r in listed if r["latest"]]
        return str(latest)

    def migrate(self, instance_id: str, body: Any) -> httpx.Response:
        return httpx.post(
            f"{self.api}/management/processes/pinned/instances/{instance_id}/migrate",
            json=body,
            timeout=30,
        )


@pytest.fixture(scope="module")
def running(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("workflows")
    (folder / "pinned.sw.json").write_text(json.dumps(waiter("one")))
    (folder / "sleeper.sw.json").write_text(json.dumps(sleeper("one")))
    stack = DevStack.start(
        workflows_dir=folder,
        database_url=module_database_url,
        work_dir=tmp_path_factory.mktemp("stack"),
    )
    try:
        yield Stack(stack=stack, database_url=module_database_url)
    finally:
        stack.stop()


def test_instances_waiting_through_a_redeploy_and_a_restart_finish_on_their_revision(
    running: Stack,
) -> None:
    waiting = running.start("pinned")
    sleeping = running.start("sleeper")
    before = running.latest_label("pinned")
    running.redeploy(waiter("two"))
    running.redeploy(sleeper("two"))
    fresh = running.start("pinned")
    after = running.latest_label("pinned")
    old_pid = running.stack.kill("step-executor")
    running.stack.wait_restarted("step-executor", old_pid=old_pid)

    running.go(waiting)
    running.go(fresh)

    assert running.ended(waiting) == ("COMPLETED", {"mark": "one"})
    assert running.ended(fresh) == ("COMPLETED", {"mark": "two"})
    assert running.ended(sleeping) == ("COMPLETED", {"mark": "one"})
    assert after != before
    assert running.shown_version(waiting, before) == before
    assert running.shown_version(fresh, after) == after


def test_the_management_api_lists_the_revisions(running: Stack) -> None:
    running.redeploy(waiter("listed"))

    answer = httpx.get(f"{running.api}/management/processes/pinned/revisions")

    assert answer.status_code == 200
    labels = [(r["label"], r["latest"]) for r in answer.json()]
    assert labels[0] == ("1.0", False)
    assert labels[-1][1] is True
    assert len({r["checksum"] for r in answer.json()}) == len(labels)


def test_a_migrated_instance_finishes_on_the_target_and_the_data_index_shows_it(
    running: Stack,
) -> None:
    instance_id = running.start("pinned")
    running.redeploy(waiter("migrated"))

    answer = running.migrate(instance_id, {})
    running.go(instance_id)

    assert answer.status_code == 200, answer.text
    version = answer.json()["version"]
    assert version.startswith("1.0+r")
    assert running.ended(instance_id) == ("COMPLETED", {"mark": "migrated"})
    assert running.shown_version(instance_id, version) == version


def test_a_migration_to_a_revision_without_the_waiting_state_is_refused(
    running: Stack,
) -> None:
    instance_id = running.start("pinned")
    running.redeploy(waiter("renamed", wait_state="Await"))

    answer = running.migrate(instance_id, {})
    running.go(instance_id)

    assert answer.status_code == 409
    assert "state 'Wait' does not exist in the target" in answer.json()["message"]
    assert running.ended(instance_id)[0] == "COMPLETED"
