"""Service calls performed by this process: what to call, and calling it.

A call is performed outside any transaction; its result (or failure) comes back to the engine
as an activation. The tokens the instance keeps go along to the functions that ask for them
(`tokens.headers_for`), read while the call is claimed, inside the transaction.
"""

from __future__ import annotations

import logging
import time

from knflow.engine.outcome import CallFunction, Failure
from knflow.engine.thread_waits import CallWait
from knflow.errors import ActionError
from knflow.outbound import function_errors, functions
from knflow.outbound.function_call import FunctionCall
from knflow.runtime.catalog import LoadedDefinition
from knflow.runtime.instances import claims, tokens
from knflow.runtime.instances.work import PendingCall, UnitOfWork
from knflow.runtime.services import Services
from knflow.store.instances import InstanceRow
from knflow.tracing import SpanKind
from knflow.workflow.model import Json

logger = logging.getLogger(__name__)


def pending(
    work: UnitOfWork,
    row: InstanceRow,
    loaded: LoadedDefinition,
    thread_id: str,
    wait: CallWait,
) -> PendingCall:
    """Describe the call `thread_id` of `row` is blocked on, for this process to perform."""
    return PendingCall(
        instance_id=row.id,
        thread_id=thread_id,
        key=wait.key,
        function_name=wait.function,
        arguments=wait.arguments,
        loaded=loaded,
        headers=forwarded_headers(work, row, loaded, wait.function),
        timeout=wait.timeout,
        claimed_until=wait.claimed_until,
    )


def asynchronous(
    work: UnitOfWork, row: InstanceRow, loaded: LoadedDefinition, command: CallFunction
) -> PendingCall:
    """Describe an `invoke: async` call: performed after commit, nobody waits for it."""
    return PendingCall(
        instance_id=row.id,
        thread_id=command.thread_id,
        key=command.key,
        function_name=command.function_name,
        arguments=command.arguments,
        loaded=loaded,
        headers=forwarded_headers(work, row, loaded, command.function_name),
        asynchronous=True,
        timeout=command.timeout,
    )


def forwarded_headers(
    work: UnitOfWork, row: InstanceRow, loaded: LoadedDefinition, function_name: str
) -> dict[str, str]:
    """Return the kept tokens a call of `function_name` carries (none unless it asks)."""
    function_def = loaded.definition.functions.get(function_name)
    if function_def is None or not tokens.wanted_by(function_def):
        return {}
    kept = tokens.read(work.conn, work.services.settings, row.id)
    return tokens.headers_for(function_def, kept)


def perform(services: Services, call: PendingCall) -> tuple[Json, Failure | None]:
    """Call the service; return its result, or a failure the engine can match against `onErrors`.

    The call is a client span; the called service gets its `traceparent`.
    """
    workflow_id = call.loaded.definition.workflow_id
    started = time.perf_counter()
    with services.tracer.span(
        f"call {call.function_name}",
        kind=SpanKind.CLIENT,
        attributes={
            "knflow.workflow_id": workflow_id,
            "knflow.instance_id": call.instance_id,
            "knflow.function": call.function_name,
        },
    ):
        result, failure = _invoke(services, call)
        if failure is not None:
            services.tracer.fail(failure.kind)
    services.metrics.call_duration.labels(workflow_id, call.function_name).observe(
        time.perf_counter() - started
    )
    if failure is not None:
        services.metrics.call_errors.labels(
            workflow_id, call.function_name, str(failure.status or failure.kind)
        ).inc()
    return result, failure


def _invoke(services: Services, call: PendingCall) -> tuple[Json, Failure | None]:
    definition = call.loaded.definition
    function_def = definition.functions[call.function_name]
    try:
        result = functions.invoke(
            services.http,
            services.settings,
            FunctionCall(
                function_name=function_def.name,
                function_type=function_def.type,
                operation=function_def.operation,
                arguments=call.arguments,
                resources=call.loaded.source.resources,
                instance_id=call.instance_id,
                workflow_id=definition.workflow_id,
                forward_headers={**call.headers, **services.tracer.carrier()},
                timeout=claims.call_timeout(services.settings, call.timeout),
            ),
        )
    except ActionError as error:
        logger.warning(
            "function call failed",
            extra={
                "workflow_id": definition.workflow_id,
                "instance_id": call.instance_id,
                "function": call.function_name,
                "kind": error.kind,
                "retryable": error.retryable,
            },
        )
        return None, Failure(
            message=str(error),
            kind=error.kind,
            status=error.status,
            retryable=error.retryable,
            ancestors=function_errors.kind_names(error.kind)[1:],
        )
    return result, None
