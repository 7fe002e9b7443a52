"""step-executor's use case: continue one thread of one instance for each `knflow.step.ready`.

Stale or duplicate step events (the thread moved on, or its call is claimed by another
executor) are acknowledged and ignored.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from typing import Any

from knflow import logs
from knflow.engine.execution import Execution, ThreadStatus
from knflow.engine.outcome import RunThread
from knflow.errors import InputError
from knflow.events.codec import Event
from knflow.runtime import catalog, driving
from knflow.runtime.claims import claim_deadline, is_call_claimable
from knflow.runtime.committing import (
    Aftermath,
    advance_locked,
    pending_call,
)
from knflow.runtime.services import Services
from knflow.store import db, instances

logger = logging.getLogger(__name__)


def run_step(services: Services, event: Event) -> None:
    """Handle one step event; returns nothing (the broker gets an empty 2xx).

    Raises:
        InputError: the event data does not name an instance, thread and sequence number.
    """
    instance_id, thread_id, seq = _parse(event.data)
    with logs.context(instance_id=instance_id, step=thread_id):
        aftermath = take_step(services, instance_id, thread_id, seq)
        driving.settle(services, aftermath)


def take_step(
    services: Services, instance_id: str, thread_id: str, seq: int
) -> Aftermath:
    """Run a runnable thread, or claim the call a blocked thread waits for."""
    with db.transaction(services.pool) as conn:
        writer = driving.new_writer(services, conn)
        row = instances.lock(conn, instance_id)
        if row is None or row.status != "ACTIVE":
            return writer.aftermath
        execution = Execution.from_json(row.execution)
        thread = execution.threads.get(thread_id)
        if thread is None or thread.seq != seq:
            logger.debug("stale step event ignored")
            return writer.aftermath
        loaded = catalog.load(
            conn, services.definitions, row.workflow_id, row.workflow_version
        )
        if thread.status is ThreadStatus.RUNNABLE:
            advance_locked(writer, row, RunThread(thread_id=thread_id), loaded=loaded)
            return writer.aftermath
        if not is_call_claimable(execution, thread_id, writer.now):
            logger.debug("step event for a claimed or waiting thread ignored")
            return writer.aftermath
        wait = thread.wait or {}
        limit = timedelta(seconds=wait["timeout"]) if wait.get("timeout") else None
        wait["claimed_until"] = claim_deadline(services, limit, writer.now).isoformat()
        instances.update(
            conn,
            dataclasses.replace(
                row, execution=execution.to_json(), updated_at=writer.now
            ),
        )
        writer.aftermath.calls.append(
            pending_call(
                row,
                loaded,
                thread_id,
                str(wait["key"]),
                str(wait["function"]),
                wait.get("arguments"),
                timeout=limit,
            )
        )
        return writer.aftermath


def _parse(data: Any) -> tuple[str, str, int]:
    if (
        not isinstance(data, dict)
        or not data.get("instanceId")
        or not data.get("threadId")
    ):
        raise InputError("step event data must be {instanceId, threadId, seq}")
    try:
        return str(data["instanceId"]), str(data["threadId"]), int(data.get("seq", 0))
    except (TypeError, ValueError) as error:
        raise InputError(
            f"step event seq is not a number: {data.get('seq')!r}"
        ) from error
