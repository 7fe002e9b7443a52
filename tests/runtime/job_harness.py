"""Shared set-up of the job-trigger tests: a clock to move by hand, services, definitions.

Holds helpers only (no tests); the job-trigger test modules build their fixtures with them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg_pool import ConnectionPool

from knflow.config import Settings
from knflow.outbound.http import new_client
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import registration
from knflow.store import db, outbox
from knflow.workflow import loading

T0 = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)

NAPPER = {
    "id": "napper",
    "version": "1.0",
    "specVersion": "0.8",
    "start": "nap",
    "states": [
        {"name": "nap", "type": "sleep", "duration": "PT2S", "transition": "done"},
        {"name": "done", "type": "inject", "data": {"rested": True}, "end": True},
    ],
}


GREET = {
    "id": "greet",
    "version": "1.0",
    "specVersion": "0.8",
    "start": "greet",
    "functions": [{"name": "greet", "type": "custom", "operation": "rest:post:/greet"}],
    "states": [
        {
            "name": "greet",
            "type": "operation",
            "actions": [{"functionRef": {"refName": "greet", "arguments": {"n": 1}}}],
            "end": True,
        }
    ],
}


class Clock:
    """A clock that moves only when told."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@contextmanager
def services_for(
    pool: ConnectionPool, clock: Any, **settings: Any
) -> Iterator[Services]:
    """Services on the test's database, with `clock` and the given settings."""
    http = new_client(timedelta(seconds=5))
    try:
        yield Services(settings=Settings(**settings), pool=pool, http=http, clock=clock)
    finally:
        http.close()


def register(services: Services, document: dict[str, Any]) -> None:
    """Register a workflow definition as start-workflow would."""
    source = loading.load_text(json.dumps(document), name=f"{document['id']}.sw.json")
    with db.transaction(services.pool) as conn:
        registration.register_source(
            conn, source, settings=services.settings, now=services.clock()
        )


def unsent_events(pool: ConnectionPool, event_type: str) -> list[dict[str, Any]]:
    """The queued, unpublished CloudEvents of one type, oldest first."""
    with db.transaction(pool) as conn:
        rows = outbox.claim_unsent_of_type(conn, event_type, limit=10_000)
    return [row.event for row in rows]  # type: ignore[misc]


def job_statuses(pool: ConnectionPool, job_id: str) -> list[str]:
    """The statuses announced for one job, in order."""
    return [
        event["data"]["status"]
        for event in unsent_events(pool, "JobEvent")
        if event["data"]["id"] == job_id
    ]
