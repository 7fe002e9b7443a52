"""Ended runs as notify reads them: stored instances and the state events announcing their end."""

from __future__ import annotations

from datetime import UTC, datetime

from psycopg.types.json import Jsonb

from knflow.events import kogito
from knflow.events.codec import Event
from knflow.store import db

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def store_run(
    conn: db.Connection,
    *,
    instance_id: str = "inst-1",
    variables: dict | None = None,
    status: str = "COMPLETED",
    error_message: str | None = None,
    metadata: dict | None = None,
    annotations: list | None = None,
    name: str = "Greeting",
) -> None:
    """Store a definition `greet` 1.0 named `name` and one ended instance of it."""
    document = {"id": "greet", "version": "1.0", "name": name}
    document |= {"metadata": metadata} if metadata else {}
    document |= {"annotations": annotations} if annotations else {}
    conn.execute(
        "INSERT INTO definitions (workflow_id, version, name, source, checksum)"
        " VALUES ('greet', '1.0', %(name)s, %(source)s, 'x') ON CONFLICT DO NOTHING",
        {"name": name, "source": Jsonb({"text": "", "document": document})},
    )
    conn.execute(
        "INSERT INTO instances (id, workflow_id, workflow_version, status, variables,"
        " error_message, started_at, updated_at)"
        " VALUES (%(id)s, 'greet', '1.0', %(status)s, %(variables)s, %(error)s,"
        " now(), now())",
        {
            "id": instance_id,
            "status": status,
            "variables": Jsonb(variables or {}),
            "error": error_message,
        },
    )


def state_event(
    instance_id: str = "inst-1", *, event_type: int = 2, status: str = "COMPLETED"
) -> Event:
    """A ProcessInstanceStateDataEvent as the runtime emits it."""
    facts = kogito.InstanceFacts(
        instance_id=instance_id,
        workflow_id="greet",
        workflow_version="1.0",
        workflow_name="Greeting",
        endpoint="http://localhost:8081/greet",
        status=status,
        start=NOW,
    )
    return kogito.state_event(facts, event_type=event_type, at=NOW, seq="9")
