"""A running `knflow dev` with SonataFlow's integration-test workflows, for REST-level cases.

SonataFlow's ITs call the workflow application's REST API and post CloudEvents to it (or to
Kafka); here the same requests go to start-workflow and to the development broker, and the
events a workflow publishes are read from the outbox, where every published event is
written first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from knflow.events import codec
from knflow.events.codec import Event
from tests.stack import DevStack
from tests.waiting import eventually


@dataclass(frozen=True)
class RestStack:
    """The stack, its database, and the calls SonataFlow's ITs make."""

    stack: DevStack
    database_url: str

    @property
    def url(self) -> str:
        """start-workflow: the SonataFlow REST API."""
        return self.stack.url("start-workflow")

    def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        """POST JSON (or nothing, when `body` is None) to the REST API."""
        if body is None:
            return httpx.post(f"{self.url}{path}", timeout=60, **kwargs)
        return httpx.post(f"{self.url}{path}", json=body, timeout=60, **kwargs)

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """Make any other call to the REST API."""
        return httpx.request(method, f"{self.url}{path}", json=body, timeout=60)

    def start(self, workflow_id: str, data: Any = None, **params: str) -> str:
        """Start an instance the way the ITs' `startProcess` does; return its id."""
        answer = self.post(
            f"/{workflow_id}", {"workflowdata": data or {}}, params=params or None
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def send(self, event_type: str, data: Any = None, **extensions: str) -> str:
        """Post a CloudEvent to the broker, as the ITs post one to the app or Kafka.

        Returns the event's id.
        """
        event = Event(
            id=str(uuid.uuid4()),
            source="sonataflow-conformance",
            type=event_type,
            data=data if data is not None else {},
            extensions=extensions,
        )
        headers, body = codec.to_binary_http(event)
        answer = httpx.post(self.stack.broker_url, headers=headers, content=body)
        assert answer.status_code == 202, answer.text
        return event.id

    def wait_received(self, event_id: str) -> None:
        """Wait until step-executor has taken the event (matched or not)."""
        eventually(
            lambda: self._one(
                "SELECT 1 FROM received_events WHERE event_id = %s", event_id
            ),
            lambda row: row is not None,
        )

    def correlated(self, workflow_id: str, attribute: str, value: str) -> str | None:
        """The id of the instance whose correlation `attribute` is `value`, if any."""
        row = self._one(
            "SELECT id FROM instances WHERE workflow_id = %s AND correlation->>%s = %s",
            workflow_id,
            attribute,
            value,
        )
        return None if row is None else str(row[0])

    def announced_definitions(self) -> set[str]:
        """Ids of the definitions a `ProcessDefinitionEvent` was published for."""
        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute(
                "SELECT event->'data'->>'id' FROM outbox"
                " WHERE event_type = 'ProcessDefinitionEvent'"
            ).fetchall()
        return {str(row[0]) for row in rows}

    def ended_instances(self, workflow_id: str) -> int:
        """How many instances of the workflow completed."""
        row = self._one(
            "SELECT count(*) FROM instances WHERE workflow_id = %s"
            " AND status = 'COMPLETED'",
            workflow_id,
        )
        return int(row[0])

    def is_active(self, workflow_id: str, instance_id: str) -> bool:
        """`GET /{workflowId}/{id}` answers 200 (404 once the instance ended)."""
        answer = self.call("GET", f"/{workflow_id}/{instance_id}")
        assert answer.status_code in (200, 404), answer.text
        return answer.status_code == 200

    def ended(self, workflow_id: str, instance_id: str, *, timeout: float = 30) -> str:
        """Wait until the REST API no longer knows the instance; return its status."""
        eventually(
            lambda: self.is_active(workflow_id, instance_id),
            lambda active: not active,
            timeout=timeout,
        )
        return self.status(instance_id)

    def status(self, instance_id: str) -> str:
        """The instance's status, from the database."""
        row = self._one("SELECT status FROM instances WHERE id = %s", instance_id)
        assert row is not None
        return str(row[0])

    def active_ids(self, workflow_id: str) -> list[str]:
        """`GET /{workflowId}`: ids of the active instances."""
        answer = self.call("GET", f"/{workflow_id}")
        assert answer.status_code == 200, answer.text
        return [str(item["id"]) for item in answer.json()]

    def published(
        self, event_type: str, *, instance_id: str | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        """Wait for a published event of `event_type` (of the instance); return it."""
        return eventually(
            lambda: self._published(event_type, instance_id),
            lambda found: found is not None,
            timeout=timeout,
        )

    def _published(self, event_type: str, instance_id: str | None) -> Any:
        row = self._one(
            "SELECT event FROM outbox WHERE event_type = %s"
            " AND (%s::text IS NULL OR instance_id = %s) ORDER BY id LIMIT 1",
            event_type,
            instance_id,
            instance_id,
        )
        return None if row is None else row[0]

    def _one(self, query: str, *params: Any) -> Any:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(query, params).fetchone()


def wait_until(check: Callable[[], bool], *, timeout: float = 30) -> None:
    """Wait until `check()` is true."""
    eventually(check, bool, timeout=timeout)
