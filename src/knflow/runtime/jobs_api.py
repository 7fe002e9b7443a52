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
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import isodate

from knflow.errors import InputError, NotFoundError
from knflow.events import jobs as job_events
from knflow.events import types
from knflow.events.codec import Event, render_time
from knflow.events.jobs import JobFacts
from knflow.runtime import publishing
from knflow.runtime.services import Services
from knflow.runtime.web import Request, Response, Route
from knflow.store import db, jobs
from knflow.store.db import Connection
from knflow.store.jobs import JobRow
from knflow.workflow.model import Json

HTTP_RECIPIENT: Final = "http"
SINK_RECIPIENT: Final = "sink"
TIME_UNITS: Final = {
    "MILLIS": 1,
    "SECONDS": 1_000,
    "MINUTES": 60_000,
    "HOURS": 3_600_000,
    "DAYS": 86_400_000,
}
PENDING: Final = frozenset({"SCHEDULED", "RETRY", "RUNNING"})
SINK_EVENT_NAMESPACE: Final = uuid.UUID("4a7e9d21-3c5b-4f08-a6d2-8b1e0c9f7d35")
WAKE_NAMESPACE: Final = uuid.UUID("9a3b7c1e-2f4d-4e5a-8b6c-0d1e2f3a4b5c")
_PROCESS_FIELDS: Final = (
    ("processInstanceId", "instance_id"),
    ("processId", "workflow_id"),
    ("rootProcessInstanceId", "root_instance_id"),
    ("rootProcessId", "root_workflow_id"),
    ("nodeInstanceId", "node_instance_id"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSpec:
    """A v2 job as posted, checked."""

    job_id: str
    """`id`."""
    correlation_id: str
    """`correlationId` (the id when absent)."""
    due: datetime
    """`schedule.startTime`."""
    repeat_limit: int
    """`schedule.repeatCount` (-1: forever)."""
    repeat_interval_ms: int | None
    """`schedule.delay` in milliseconds."""
    schedule: Mapping[str, Json]
    """The schedule as posted."""
    retry: Mapping[str, Json] | None
    """The retry policy as posted."""
    recipient: Mapping[str, Json]
    """The recipient as posted."""
    execution_timeout_ms: int | None
    """Per-attempt limit."""
    process: Mapping[str, str]
    """Optional `processInstanceId`, `processId`, ... keyed by jobs column name."""


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
    spec = parse_job(body)
    now = services.clock()
    with db.transaction(services.pool) as conn:
        row = store_job(conn, spec, now=now)
        queued = [announce(conn, row, now=now)]
        wake = wake_event(
            row.id, row.expiration_time, instance_id=row.instance_id, now=now
        )
        queued.append(
            publishing.enqueue(conn, wake, instance_id=row.instance_id, now=now)
        )
    publishing.publish_ids(services, [row_id for row_id in queued if row_id])
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
    if row is None or row.status not in PENDING:
        raise NotFoundError(f"job '{job_id}' does not exist")
    return row


def cancel_job(services: Services, job_id: str) -> JobRow:
    """Cancel a pending job and announce it.

    Raises:
        NotFoundError: no such pending job.
    """
    now = services.clock()
    with db.transaction(services.pool) as conn:
        row = jobs.cancel(conn, job_id, now=now)
        if row is None:
            raise NotFoundError(f"job '{job_id}' does not exist")
        outbox_id = announce(conn, row, now=now)
    publishing.publish_ids(services, [outbox_id] if outbox_id else [])
    return row


def reschedule_job(services: Services, job_id: str, body: Json) -> JobRow:
    """Move a pending job to a new `expirationTime` (v1 `PATCH /jobs/{id}`, the Data Index's call).

    Raises:
        InputError: the body names no valid `expirationTime`.
        NotFoundError: no such pending job.
    """
    if not isinstance(body, dict):
        raise InputError("reschedule body must be a JSON object")
    due = _instant(body.get("expirationTime"), "expirationTime")
    now = services.clock()
    with db.transaction(services.pool) as conn:
        row = jobs.lock(conn, job_id)
        if row is None or row.status not in PENDING:
            raise NotFoundError(f"job '{job_id}' does not exist")
        row = jobs.set_status(
            conn, row, status="SCHEDULED", now=now, expiration_time=due, retries=0
        )
        queued = [announce(conn, row, now=now)]
        wake = wake_event(row.id, due, instance_id=row.instance_id, now=now)
        queued.append(
            publishing.enqueue(conn, wake, instance_id=row.instance_id, now=now)
        )
    publishing.publish_ids(services, [row_id for row_id in queued if row_id])
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


def announce(
    conn: Connection,
    job: JobRow,
    *,
    now: datetime,
    response: tuple[str, str] | None = None,
) -> int | None:
    """Queue the JobEvent for `job`'s current status; return its outbox row id.

    `response` is the recipient's answer as (code, message) after a firing.
    """
    event = job_events.job_event(facts(job, now=now, response=response))
    return publishing.enqueue(conn, event, instance_id=job.instance_id, now=now)


def facts(
    job: JobRow, *, now: datetime, response: tuple[str, str] | None = None
) -> JobFacts:
    """Return what a JobEvent says about `job`."""
    status = "SCHEDULED" if job.status == "RUNNING" else job.status
    return JobFacts(
        job_id=job.id,
        status=status,
        expiration_time=job.expiration_time,
        last_update=now,
        priority=job.priority,
        callback_endpoint=callback_endpoint(job),
        instance_id=job.instance_id,
        workflow_id=job.workflow_id,
        root_instance_id=job.root_instance_id,
        root_workflow_id=job.root_workflow_id,
        node_instance_id=job.node_instance_id,
        repeat_interval_ms=job.repeat_interval_ms,
        repeat_limit=job.repeat_limit,
        retries=job.retries,
        execution_counter=job.execution_counter,
        response_code=None if response is None else response[0],
        response_message=None if response is None else response[1],
        error=job.last_error if job.status in ("RETRY", "ERROR") else None,
    )


def callback_endpoint(job: JobRow) -> str | None:
    """Return the URL an http or sink recipient is called at."""
    recipient = job.recipient if isinstance(job.recipient, dict) else {}
    url = recipient.get("url") or recipient.get("sinkUrl")
    return str(url) if url else None


def render_job(job: JobRow) -> dict[str, Json]:
    """Render the v2 job JSON (`GET /v2/jobs/{id}`)."""
    timeout = job.execution_timeout_ms
    return {
        "id": job.id,
        "correlationId": job.correlation_id or job.id,
        "state": "SCHEDULED" if job.status == "RUNNING" else job.status,
        "schedule": job.schedule
        or {"type": "timer", "startTime": render_time(job.expiration_time)},
        "retry": job.retry,
        "recipient": job.recipient,
        "executionTimeout": timeout,
        "executionTimeoutUnit": "MILLIS" if timeout is not None else None,
    }


def parse_job(body: Json) -> JobSpec:
    """Check a v2 job JSON.

    Raises:
        InputError: a required field is missing or has the wrong shape.
    """
    if not isinstance(body, dict):
        raise InputError("a job must be a JSON object")
    job_id = body.get("id")
    if not isinstance(job_id, str) or not job_id.strip():
        raise InputError("a job needs an 'id'")
    schedule = _object(body.get("schedule"), "schedule")
    if schedule.get("type", "timer") != "timer":
        raise InputError(f"job '{job_id}': only timer schedules are supported")
    delay = _milliseconds(schedule, "delay", "delayUnit")
    timeout = _milliseconds(body, "executionTimeout", "executionTimeoutUnit")
    retry = _object(body["retry"], "retry") if body.get("retry") else None
    if retry is not None:
        _milliseconds(retry, "delay", "delayUnit")
        _milliseconds(retry, "maxDuration", "durationUnit")
        _integer(retry.get("maxRetries", 0), "retry.maxRetries")
    return JobSpec(
        job_id=job_id,
        correlation_id=str(body.get("correlationId") or job_id),
        due=_instant(schedule.get("startTime"), "schedule.startTime"),
        repeat_limit=_integer(schedule.get("repeatCount", 0), "schedule.repeatCount"),
        repeat_interval_ms=delay,
        schedule=schedule,
        retry=retry,
        recipient=parse_recipient(body.get("recipient")),
        execution_timeout_ms=timeout,
        process={
            column: str(body[name])
            for name, column in _PROCESS_FIELDS
            if isinstance(body.get(name), str) and body[name]
        },
    )


def parse_recipient(raw: Json) -> Mapping[str, Json]:
    """Check an `http` or `sink` recipient.

    Raises:
        InputError: another type, or a required field is missing.
    """
    recipient = _object(raw, "recipient")
    kind = recipient.get("type")
    if kind == HTTP_RECIPIENT:
        if not isinstance(recipient.get("url"), str) or not recipient["url"]:
            raise InputError("an http recipient needs a 'url'")
        return recipient
    if kind == SINK_RECIPIENT:
        if not isinstance(recipient.get("ce-type"), str) or not recipient["ce-type"]:
            raise InputError("a sink recipient needs a 'ce-type'")
        return recipient
    raise InputError(f"recipient type {kind!r} is not supported; use http or sink")


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


def sink_event(job: JobRow, *, now: datetime) -> Event:
    """Build the CloudEvent a sink recipient receives when `job` fires (its n-th firing)."""
    recipient = job.recipient if isinstance(job.recipient, dict) else {}
    payload = recipient.get("payload")
    data = payload.get("data") if isinstance(payload, dict) else None
    extensions: dict[str, str] = {
        str(k): str(v) for k, v in (recipient.get("ce-extensions") or {}).items()
    }
    remaining = job.repeat_limit - job.execution_counter
    extensions["limit"] = str(max(remaining, 0) if job.repeat_limit >= 0 else -1)
    return Event(
        id=str(uuid.uuid5(SINK_EVENT_NAMESPACE, f"{job.id}/{job.execution_counter}")),
        source=str(recipient.get("ce-source") or job_events.SOURCE),
        type=str(recipient.get("ce-type")),
        subject=recipient.get("ce-subject"),
        data=data,
        time=now,
        datacontenttype=str(recipient.get("ce-datacontenttype") or "application/json"),
        extensions=extensions,
    )


def attempt_timeout(job: JobRow, default: timedelta) -> timedelta:
    """Return the per-attempt timeout of `job`'s recipient call."""
    if job.execution_timeout_ms is None:
        return default
    return timedelta(milliseconds=job.execution_timeout_ms)


def retry_policy(job: JobRow) -> RetryPolicy:
    """Return the retry policy of `job` (defaults where the job names none)."""
    raw = job.retry if isinstance(job.retry, dict) else {}
    default = RetryPolicy()
    delay = _milliseconds(raw, "delay", "delayUnit")
    duration = _milliseconds(raw, "maxDuration", "durationUnit")
    return RetryPolicy(
        max_retries=_integer(raw.get("maxRetries", default.max_retries), "maxRetries"),
        delay=timedelta(milliseconds=delay) if delay else default.delay,
        max_duration=timedelta(milliseconds=duration)
        if duration
        else default.max_duration,
    )


def _object(raw: Json, name: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InputError(f"job field '{name}' must be an object")
    return raw


def _integer(raw: Json, name: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise InputError(f"job field '{name}' must be a number")
    try:
        return int(raw)
    except ValueError as error:
        raise InputError(f"job field '{name}' must be a number") from error


def _milliseconds(raw: Mapping[str, Json], name: str, unit_name: str) -> int | None:
    if raw.get(name) is None:
        return None
    unit = str(raw.get(unit_name) or "MILLIS").upper()
    if unit not in TIME_UNITS:
        raise InputError(f"job field '{unit_name}' must be one of {sorted(TIME_UNITS)}")
    return _integer(raw[name], name) * TIME_UNITS[unit]


def _instant(raw: Json, name: str) -> datetime:
    if not isinstance(raw, str):
        raise InputError(f"job field '{name}' must be an ISO 8601 date-time")
    try:
        moment: datetime = isodate.parse_datetime(raw)
    except (isodate.ISO8601Error, ValueError) as error:
        raise InputError(f"job field '{name}' must be an ISO 8601 date-time") from error
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


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
    Route("POST", "/v2/jobs", _post_job),
    Route("GET", "/v2/jobs/{id}", _get_job),
    Route("DELETE", "/v2/jobs/{id}", _delete_job),
    Route("DELETE", "/jobs/{id}", _delete_job),
    Route("PATCH", "/jobs/{id}", _patch_job),
)


def wake_event(
    job_id: str, due: datetime, *, instance_id: str | None, now: datetime
) -> Event:
    """Build the hint that wakes job-trigger for a new timer (the job row is the truth).

    Without it a short sleep would wait for the next PingSource tick; with it, job-trigger
    wakes, and stays to fire the timer on time when it is due within its window.
    """
    return Event(
        id=str(uuid.uuid5(WAKE_NAMESPACE, f"{job_id}/{due.isoformat()}/wake")),
        source="/knflow/runtime",
        type=types.JOB_SCHEDULED,
        data={"id": job_id, "expirationTime": render_time(due)},
        time=now,
        extensions={"partitionkey": instance_id} if instance_id else {},
    )
