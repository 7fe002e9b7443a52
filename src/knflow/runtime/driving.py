"""Carrying out what commits leave behind: publishing events and performing claimed calls.

A claimed call runs here, outside any transaction; its result (or failure) is applied in a new
transaction, which may claim the next call, and so on until the instance waits, fans out to
step-executor, or ends. Several calls claimed at once (a local run) run concurrently.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Final

from knflow.engine.outcome import Activation, CallCompleted, Failure
from knflow.errors import ActionError
from knflow.outbound import functions
from knflow.runtime import claims, publishing
from knflow.runtime.committing import (
    Aftermath,
    PendingCall,
    Writer,
    advance_locked,
)
from knflow.runtime.services import Services
from knflow.store import db, instances
from knflow.store.db import Connection
from knflow.workflow.model import Json

logger = logging.getLogger(__name__)

UNBOUNDED: Final = 1_000_000


def new_writer(services: Services, conn: Connection) -> Writer:
    """Return a writer for this transaction; without a broker, every call is kept in-process."""
    local_claims = 1 if services.settings.k_sink else UNBOUNDED
    return Writer(
        services=services, conn=conn, now=services.clock(), local_claims=local_claims
    )


def settle(services: Services, aftermath: Aftermath) -> None:
    """Publish what was queued and perform the claimed calls, following each to its next wait.

    A loop, not recursion: a sequential foreach over thousands of calls settles call by call.
    """
    deadline = time.monotonic() + services.settings.step_budget.total_seconds()
    waiting = [aftermath]
    while waiting:
        current = waiting.pop()
        # Past the step budget, the next calls go to step-executor as step events, so one
        # invocation never outlives its request timeout (docs/architecture.md §2,
        # principle 4).
        keep = time.monotonic() < deadline
        publishing.publish_ids(services, current.outbox_ids)
        for call in (c for c in current.calls if c.asynchronous):
            _fire_and_forget(services, call)
        pending = [c for c in current.calls if not c.asynchronous]
        if len(pending) == 1:
            waiting.append(complete_call(services, pending[0], keep_calls=keep))
        elif pending:
            with ThreadPoolExecutor(max_workers=min(len(pending), 16)) as pool:
                waiting.extend(
                    pool.map(
                        partial(complete_call, services, keep_calls=keep),
                        pending,
                    )
                )


def complete_call(
    services: Services, call: PendingCall, *, keep_calls: bool = True
) -> Aftermath:
    """Perform a claimed call and apply its outcome; `keep_calls`: claim the next calls here."""
    result, failure = perform(services, call)
    activation = CallCompleted(
        thread_id=call.thread_id, key=call.key, result=result, failure=failure
    )
    return apply_activation(
        services, call.instance_id, activation, keep_calls=keep_calls
    )


def apply_activation(
    services: Services,
    instance_id: str,
    activation: Activation,
    *,
    keep_calls: bool = True,
) -> Aftermath:
    """Advance an instance by one activation in one transaction; ended instances ignore it."""
    with db.transaction(services.pool) as conn:
        writer = new_writer(services, conn)
        if not keep_calls:
            writer.local_claims = 0
        row = instances.lock(conn, instance_id)
        if row is None or row.status != "ACTIVE":
            return writer.aftermath
        advance_locked(writer, row, activation)
    return writer.aftermath


def perform(services: Services, call: PendingCall) -> tuple[Json, Failure | None]:
    """Call the service; return its result, or a failure the engine can match against `onErrors`."""
    definition = call.loaded.definition
    function_def = definition.functions[call.function_name]
    try:
        result = functions.invoke(
            services.http,
            services.settings,
            functions.FunctionCall(
                function_name=function_def.name,
                function_type=function_def.type,
                operation=function_def.operation,
                arguments=call.arguments,
                resources=call.loaded.source.resources,
                instance_id=call.instance_id,
                workflow_id=definition.workflow_id,
                forward_headers=call.headers,
                timeout=claims.call_timeout(services.settings, call.timeout),
            ),
        )
    except ActionError as error:
        logger.info(
            "function call failed",
            extra={"function": call.function_name, "kind": error.kind},
        )
        return None, Failure(
            message=str(error),
            kind=error.kind,
            status=error.status,
            retryable=error.retryable,
        )
    return result, None


def _fire_and_forget(services: Services, call: PendingCall) -> None:
    result, failure = perform(services, call)
    if failure is not None:
        logger.warning(
            "async function call failed", extra={"function": call.function_name}
        )
    del result
