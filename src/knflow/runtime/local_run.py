"""Running instances to completion in one process, with no broker and no other functions.

Used by `knflow run` and tests: step events are taken from the outbox instead of the broker,
and due timers are fired here, sleeping until the next one is due.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Final

from knflow.engine.outcome import InstanceStatus
from knflow.events import codec, types
from knflow.runtime.job_trigger import firing
from knflow.runtime.services import Services
from knflow.runtime.step_executor import steps
from knflow.store import db, instances, jobs, outbox
from knflow.store.instances import StatusView

LONGEST_NAP: Final = timedelta(seconds=1)


def run_to_end(
    services: Services, instance_id: str, *, timeout: timedelta
) -> StatusView:
    """Drive an instance until it ends, waits for an event, or `timeout` passes; return its status."""
    deadline = services.clock() + timeout
    while True:
        view = _status(services, instance_id)
        if view.status is not InstanceStatus.ACTIVE or services.clock() >= deadline:
            return view
        if drain_step_events(services) or firing.fire_due(services):
            continue
        next_due = _next_due(services)
        if next_due is None:
            return view
        _nap_until(services, min(next_due, deadline))


def drain_step_events(services: Services) -> int:
    """Run every queued step event in this process; return how many ran."""
    ran = 0
    while True:
        with db.transaction(services.pool) as conn:
            rows = outbox.claim_unsent_of_type(conn, types.STEP_READY, limit=1)
            for row in rows:
                outbox.mark_sent(conn, row.id, now=services.clock())
        if not rows:
            return ran
        steps.run_step(services, codec.from_dict(rows[0].event))
        ran += 1


def _status(services: Services, instance_id: str) -> StatusView:
    with db.transaction(services.pool) as conn:
        view = instances.status_of(conn, instance_id)
    assert view is not None, "the instance was created by the caller"
    return view


def _next_due(services: Services) -> datetime | None:
    with db.transaction(services.pool) as conn:
        return jobs.next_due(conn)


def _nap_until(services: Services, moment: datetime) -> None:
    wait = (moment - services.clock()).total_seconds()
    time.sleep(max(0.0, min(wait, LONGEST_NAP.total_seconds())))
