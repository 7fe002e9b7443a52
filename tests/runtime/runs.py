"""Driving instances in-process for runtime tests: start, run to the end, send events, read events."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from knflow.events import codec
from knflow.events.codec import Event
from knflow.runtime import local_run
from knflow.runtime.data_index import ingest
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import starting
from knflow.runtime.step_executor import inbox
from knflow.store import instances, outbox


def start(services: Services, workflow_id: str, data: Any) -> str:
    """Start an instance as `POST /{workflowId}` would; return its id."""
    request = starting.StartRequest(
        workflow_id=workflow_id, data=data, variables={}, headers={}
    )
    return starting.start_instance(services, request).id


def finish(services: Services, instance_id: str) -> instances.StatusView:
    """Run the instance until it ends or waits for an event (timers fire on the way)."""
    return local_run.run_to_end(services, instance_id, timeout=timedelta(seconds=30))


def send(
    services: Services,
    event_type: str,
    data: Any = None,
    *,
    source: str = "tests",
    **extensions: str,
) -> None:
    """Hand a CloudEvent to step-executor's intake; its id derives from its content."""
    identity = json.dumps(
        [event_type, data, sorted(extensions.items())], sort_keys=True
    )
    inbox.handle_event(
        services,
        Event(
            id=identity,
            source=source,
            type=event_type,
            data=data,
            extensions=extensions,
        ),
    )


def emitted(services: Services, event_type: str) -> list[dict[str, Any]]:
    """Return the queued (unsent) events of one type, oldest first."""
    with services.pool.connection() as conn:
        rows = outbox.claim_unsent_of_type(conn, event_type, limit=100)
    return [row.event for row in rows]


def index_outbox(services: Services) -> None:
    """Feed every queued event, sent or not, to the Data Index, in emission order."""
    with services.pool.connection() as conn:
        raw = conn.execute("SELECT event FROM outbox ORDER BY id").fetchall()
    for (event,) in raw:
        ingest.handle_event(services, codec.from_dict(event))
