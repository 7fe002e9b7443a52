"""The Kogito Job Service v2 contract: job JSON in and out, `/v2/jobs`, `job.create`/`job.delete`, JobEvents.

Shapes are the Job Service's own. Like the Job Service, only `timer` schedules are
accepted through the API, re-posting an id replaces the job, and a job that fired, failed or
was cancelled is gone for `GET` (its history lives in the JobEvents). Calling a recipient when
a job fires (http, or a CloudEvent to a sink) is described here and carried out by job-trigger.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from knflow.auth.policy import Permission
from knflow.errors import InputError, NotFoundError
from knflow.events import hints, types
from knflow.events.codec import Event, render_time
from knflow.runtime.instances import publishing, transaction
from knflow.runtime.instances.work import UnitOfWork
from knflow.runtime.job_trigger import job_json
from knflow.runtime.job_trigger.job_json import JobSpec
from knflow.runtime.services import Services
from knflow.runtime.web import Request, Response, Route
from knflow.store import db, jobs
from knflow.store.db import Connection
from knflow.store.jobs import PENDING_STATUSES, JobRow, JobStatus
from knflow.workflow.model import Json

HTTP_RECIPIENT: Final = job_json.HTTP_RECIPIENT
SINK_RECIPIENT: Final = job_json.SINK_RECIPIENT
WAKE_NAMESPACE: Final = uuid.UUID("9a3b7c1e-2f4d-4e5a-8b6c-0d1e2f3a4b5c")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How a failed firing is retried: `delay` doubling per attempt, within both limits."""

    max_retries: int = 3
    """Attempts after the first (`retry.maxRetries`)."""
    delay: timedelta = timedelta(seconds=1)
    """Wait before the first retry (`retry.delay`; the Job Service's 1 s when 0)."""
    max_duration: timedelta = timedelta(seconds=60)
    """No retry later than this after the due time (`retry.maxDuration`)."""


def create_job(services: Services, body: Json) -> JobRow:
    """Schedule (or replace) a job from its v2 JSON and announce it.

    Raises:
        InputError: the job JSON is invalid.
    """
    spec = job_json.parse_job(body, services.settings)
    with transaction.unit_of_work(services) as work:
        row = store_job(work.conn, spec, now=work.now)
        _announce_scheduled(work, row)
    publishing.publish(services, work.after_commit.outgoing)
    return row


def store_job(conn: Connection, spec: JobSpec, *, now: datetime) -> JobRow:
    """Write a job in the caller's transaction; an existing id is replaced."""
    return jobs.upsert(
        conn,
        job_id=spec.job_id,
        due=spec.due,
        now=now,
        recipient=dict(spec.recipient),
        correlation_id=spec.correlation_id,
        schedule=dict(spec.schedule),
        retry=None if spec.retry is None else dict(spec.retry),
        execution_timeout_ms=spec.execution_timeout_ms,
        repeat_limit=spec.repeat_limit,
        repeat_interval_ms=spec.repeat_interval_ms,
        instance_id=spec.process.get("instance_id"),
        workflow_id=spec.process.get("workflow_id"),
        root_instance_id=spec.process.get("root_instance_id"),
        root_workflow_id=spec.process.get("root_workflow_id"),
        node_instance_id=spec.process.get("node_instance_id"),
    )


def get_job(services: Services, job_id: str) -> JobRow:
    """Return a pending job.

    Raises:
        NotFoundError: no such job, or it already fired, failed or was cancelled.
    """
    with db.transaction(services.pool) as conn:
        row = jobs.get(conn, job_id)
    if row is None or row.status not in PENDING_STATUSES:
        raise NotFoundError(f"job '{job_id}' does not exist")
    return row


def cancel_job(services: Services, job_id: str) -> JobRow:
    """Cancel a pending job and announce it.

    Raises:
        NotFoundError: no such pending job.
    """
    with transaction.unit_of_work(services) as work:
        row = jobs.cancel(work.conn, job_id, now=work.now)
        if row is None:
            raise NotFoundError(f"job '{job_id}' does not exist")
        work.announce_job(row)
    publishing.publish(services, work.after_commit.outgoing)
    return row


def reschedule_job(services: Services, job_id: str, body: Json) -> JobRow:
    """Move a pending job to a new `expirationTime` (v1 `PATCH /jobs/{id}`, the Data Index's call).

    Raises:
        InputError: the body names no valid `expirationTime`.
        NotFoundError: no such pending job.
    """
    if not isinstance(body, dict):
        raise InputError("reschedule body must be a JSON object")
    due = job_json.instant(body.get("expirationTime"), "expirationTime")
    with transaction.unit_of_work(services) as work:
        row = jobs.lock(work.conn, job_id)
        if row is None or row.status not in PENDING_STATUSES:
            raise NotFoundError(f"job '{job_id}' does not exist")
        row = jobs.set_status(
            work.conn,
            row,
            status=JobStatus.SCHEDULED,
            now=work.now,
            expiration_time=due,
            retries=0,
        )
        _announce_scheduled(work, row)
    publishing.publish(services, work.after_commit.outgoing)
    return row


def handle_job_event(services: Services, event: Event) -> None:
    """Apply a `job.create` (data: the job JSON) or `job.delete` (data: `{id}`) event.

    Deleting a job that is unknown or no longer pending is acknowledged and ignored.

    Raises:
        InputError: the event is of another type, or its data is invalid.
    """
    if event.type == types.JOB_CREATE:
        create_job(services, event.data)
        return
    if event.type != types.JOB_DELETE:
        raise InputError(f"job-trigger does not handle events of type '{event.type}'")
    data = event.data if isinstance(event.data, dict) else {}
    job_id = data.get("id")
    if not isinstance(job_id, str) or not job_id:
        raise InputError("job.delete data must name the job: {id, correlationId}")
    try:
        cancel_job(services, job_id)
    except NotFoundError:
        return


def render_job(job: JobRow) -> dict[str, Json]:
    """Render the v2 job JSON (`GET /v2/jobs/{id}`)."""
    timeout = job.execution_timeout_ms
    return {
        "id": job.id,
        "correlationId": job.correlation_id or job.id,
        "state": JobStatus.SCHEDULED if job.status is JobStatus.RUNNING else job.status,
        "schedule": job.schedule
        or {"type": "timer", "startTime": render_time(job.expiration_time)},
        "retry": job.retry,
        "recipient": job.recipient,
        "executionTimeout": timeout,
        "executionTimeoutUnit": "MILLIS" if timeout is not None else None,
    }


def payload_body(recipient: Mapping[str, Json]) -> tuple[bytes | None, str | None]:
    """Return the encoded payload of a recipient and its content type."""
    payload = recipient.get("payload")
    if not isinstance(payload, dict) or payload.get("data") is None:
        return None, None
    data = payload["data"]
    kind = str(payload.get("type") or "json").lower()
    if kind == "string":
        return str(data).encode(), "text/plain"
    if kind == "binary":
        return base64.b64decode(str(data)), "application/octet-stream"
    return json.dumps(data).encode(), "application/json"


def attempt_timeout(job: JobRow, default: timedelta) -> timedelta:
    """Return the per-attempt timeout of `job`'s recipient call."""
    if job.execution_timeout_ms is None:
        return default
    return timedelta(milliseconds=job.execution_timeout_ms)


def retry_policy(job: JobRow) -> RetryPolicy:
    """Return the retry policy of `job` (defaults where the job names none)."""
    raw = job.retry if isinstance(job.retry, dict) else {}
    default = RetryPolicy()
    delay = job_json.milliseconds(raw, "delay", "delayUnit")
    duration = job_json.milliseconds(raw, "maxDuration", "durationUnit")
    max_retries = raw.get("maxRetries")
    return RetryPolicy(
        max_retries=max_retries
        if isinstance(max_retries, int) and not isinstance(max_retries, bool)
        else default.max_retries,
        delay=timedelta(milliseconds=delay) if delay else default.delay,
        max_duration=timedelta(milliseconds=duration)
        if duration
        else default.max_duration,
    )


def _post_job(services: Services, request: Request) -> Response:
    return Response(body=render_job(create_job(services, request.json())))


def _get_job(services: Services, request: Request) -> Response:
    return Response(body=render_job(get_job(services, request.params["id"])))


def _delete_job(services: Services, request: Request) -> Response:
    return Response(body=render_job(cancel_job(services, request.params["id"])))


def _patch_job(services: Services, request: Request) -> Response:
    row = reschedule_job(services, request.params["id"], request.json())
    return Response(body=render_job(row))


ROUTES: Final = (
    Route("POST", "/v2/jobs", _post_job, Permission.SCHEDULE),
    Route("GET", "/v2/jobs/{id}", _get_job, Permission.SCHEDULE),
    Route("DELETE", "/v2/jobs/{id}", _delete_job, Permission.SCHEDULE),
    Route("DELETE", "/jobs/{id}", _delete_job, Permission.SCHEDULE),
    Route("PATCH", "/jobs/{id}", _patch_job, Permission.SCHEDULE),
)


def _announce_scheduled(work: UnitOfWork, job: JobRow) -> None:
    """Announce a (re)scheduled job and wake job-trigger for it."""
    work.announce_job(job)
    work.queue_event(
        hints.job_scheduled_event(
            job.id, job.expiration_time, instance_id=job.instance_id, now=work.now
        ),
        instance_id=job.instance_id,
    )
