"""The Kogito Job Service v2 job JSON, checked before anything is stored.

The refusals are the Job Service's own (`JobValidator`, `HttpRecipientValidator`): a
non-empty `id` and `correlationId`, a timer schedule with a `startTime`, no negative
`repeatCount`, `delay` or `executionTimeout`, a recipient with a valid URL. knflow adds
what its storage and clock need (numbers within Java's `int`/`long`, dates inside years
1 to 9999, ids it can address in a path) and, since a job makes knflow call a URL, a URL
policy: schemes from `KNFLOW_JOB_URL_SCHEMES`, hosts from `KNFLOW_JOB_RECIPIENT_HOSTS`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

import isodate

from knflow.config import Settings
from knflow.errors import InputError
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
HTTP_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})
PAYLOAD_TYPES: Final = frozenset({"json", "string", "binary"})
MAX_ID_LENGTH: Final = 255
INT32: Final = 2**31
INT64: Final = 2**63
# Java's `long` milliseconds reach far past Python's calendar; this keeps `due + delay`
# computable (about 2,700 years).
MAX_MILLISECONDS: Final = 86_400_000 * 999_999
LATEST: Final = datetime(9999, 12, 30, tzinfo=UTC)
PROCESS_FIELDS: Final = (
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
    """`correlationId`."""
    due: datetime
    """`schedule.startTime`."""
    repeat_limit: int
    """`schedule.repeatCount`: firings after the first."""
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


def parse_job(body: Json, settings: Settings) -> JobSpec:
    """Check a v2 job JSON as the Job Service does, plus the URL policy of `settings`.

    Raises:
        InputError: naming the field and what is wrong with it.
    """
    if not isinstance(body, dict):
        raise InputError("a job must be a JSON object")
    job_id = job_id_of(body.get("id"))
    correlation_id = _text(body, "correlationId", required=True)
    schedule = _object(body.get("schedule"), "schedule")
    if schedule.get("type", "timer") != "timer":
        raise InputError(f"job '{job_id}': only timer schedules are supported")
    due = instant(schedule.get("startTime"), "schedule.startTime")
    repeat_limit = _count(schedule, "repeatCount", "schedule.repeatCount")
    delay = milliseconds(schedule, "delay", "delayUnit")
    _check_repetition(due, repeat_limit, delay)
    retry = _retry(body.get("retry"))
    timeout = milliseconds(body, "executionTimeout", "executionTimeoutUnit")
    return JobSpec(
        job_id=job_id,
        correlation_id=str(correlation_id),
        due=due,
        repeat_limit=repeat_limit,
        repeat_interval_ms=delay,
        schedule=schedule,
        retry=retry,
        recipient=parse_recipient(body.get("recipient"), settings),
        execution_timeout_ms=timeout,
        process=_process(body),
    )


def job_id_of(raw: Json) -> str:
    """Check a job id: non-blank text a path segment can carry.

    Raises:
        InputError: naming what is wrong.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InputError("a job needs a non-empty 'id' (text)")
    if len(raw) > MAX_ID_LENGTH:
        raise InputError(f"a job 'id' has at most {MAX_ID_LENGTH} characters")
    if "/" in raw or not raw.isprintable():
        raise InputError(
            "a job 'id' cannot hold '/' or control characters: it is read back at"
            " /v2/jobs/{id}"
        )
    return raw


def parse_recipient(raw: Json, settings: Settings) -> Mapping[str, Json]:
    """Check an `http` or `sink` recipient and the URL it would make knflow call.

    Raises:
        InputError: another type, a missing or malformed field, or a URL the policy
            refuses.
    """
    recipient = _object(raw, "recipient")
    kind = recipient.get("type")
    if kind == HTTP_RECIPIENT:
        _check_http(recipient, settings)
        return recipient
    if kind == SINK_RECIPIENT:
        if not isinstance(recipient.get("ce-type"), str) or not recipient["ce-type"]:
            raise InputError("a sink recipient needs a 'ce-type'")
        if recipient.get("sinkUrl") is not None:
            check_url(recipient["sinkUrl"], "recipient.sinkUrl", settings)
        return recipient
    raise InputError(f"recipient type {kind!r} is not supported; use http or sink")


def check_url(raw: Json, name: str, settings: Settings) -> None:
    """Check a URL a job would call against the scheme and host allow-lists.

    Raises:
        InputError: not a URL, or a scheme or host the settings do not allow.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InputError(f"job field '{name}' must be a non-empty URL")
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").lower()
    except ValueError as error:
        raise InputError(f"job field '{name}' is not a valid URL") from error
    scheme = parts.scheme.lower()
    if scheme not in settings.job_url_schemes:
        schemes = ", ".join(sorted(settings.job_url_schemes))
        raise InputError(
            f"job field '{name}' uses the scheme '{scheme}'; allowed: {schemes}"
            " (KNFLOW_JOB_URL_SCHEMES)"
        )
    if not host:
        raise InputError(f"job field '{name}' names no host")
    hosts = settings.job_recipient_hosts
    if hosts and not any(fnmatch.fnmatchcase(host, p.lower()) for p in hosts):
        raise InputError(
            f"job field '{name}': host '{host}' is not allowed; allowed hosts:"
            f" {', '.join(hosts)} (KNFLOW_JOB_RECIPIENT_HOSTS)"
        )


def milliseconds(raw: Mapping[str, Json], name: str, unit_name: str) -> int | None:
    """A non-negative duration field in milliseconds; absent gives None.

    Raises:
        InputError: not a whole number, negative, too long, or an unknown unit.
    """
    unit = raw.get(unit_name) or "MILLIS"
    if not isinstance(unit, str) or unit.upper() not in TIME_UNITS:
        raise InputError(f"job field '{unit_name}' must be one of {sorted(TIME_UNITS)}")
    if raw.get(name) is None:
        return None
    amount = _whole(raw[name], name, bound=INT64)
    if amount < 0:
        raise InputError(f"job field '{name}' cannot be negative, but is {amount}")
    total = amount * TIME_UNITS[unit.upper()]
    if total > MAX_MILLISECONDS:
        raise InputError(f"job field '{name}' is longer than {MAX_MILLISECONDS} ms")
    return total


def instant(raw: Json, name: str) -> datetime:
    """An ISO 8601 date-time (UTC when it has no offset) inside years 1 to 9999.

    Raises:
        InputError: not a date-time, or outside the calendar.
    """
    if not isinstance(raw, str):
        raise InputError(f"job field '{name}' must be an ISO 8601 date-time")
    try:
        moment: datetime = isodate.parse_datetime(raw)
    except (isodate.ISO8601Error, ValueError) as error:
        raise InputError(f"job field '{name}' must be an ISO 8601 date-time") from error
    try:
        utc = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or utc > LATEST:
        raise InputError(f"job field '{name}' lies outside years 1 to 9999")
    return utc


def _check_http(recipient: Mapping[str, Json], settings: Settings) -> None:
    check_url(recipient.get("url"), "recipient.url", settings)
    method = recipient.get("method", "POST")
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        raise InputError(
            f"job field 'recipient.method' must be one of {sorted(HTTP_METHODS)}"
        )
    for name in ("headers", "queryParams"):
        values = recipient.get(name)
        if values is not None and not (
            isinstance(values, dict)
            and all(isinstance(v, str) for v in values.values())
        ):
            raise InputError(f"job field 'recipient.{name}' must map names to strings")
    payload = recipient.get("payload")
    if payload is not None:
        _check_payload(payload)


def _check_payload(payload: Json) -> None:
    if not isinstance(payload, dict):
        raise InputError("job field 'recipient.payload' must be an object")
    kind = payload.get("type", "json")
    if not isinstance(kind, str) or kind.lower() not in PAYLOAD_TYPES:
        raise InputError(
            f"job field 'recipient.payload.type' must be one of {sorted(PAYLOAD_TYPES)}"
        )


def _check_repetition(due: datetime, repeat_limit: int, delay: int | None) -> None:
    if repeat_limit and not delay:
        raise InputError(
            "job field 'schedule.delay' must be positive when 'schedule.repeatCount'"
            " asks for repetitions"
        )
    try:
        last = due + timedelta(milliseconds=(delay or 0) * repeat_limit)
    except OverflowError:
        last = None
    if last is None or last > LATEST:
        raise InputError("the job's last repetition falls after the year 9999")


def _retry(raw: Json) -> Mapping[str, Json] | None:
    if raw is None:
        return None
    retry = _object(raw, "retry")
    milliseconds(retry, "delay", "delayUnit")
    milliseconds(retry, "maxDuration", "durationUnit")
    _count(retry, "maxRetries", "retry.maxRetries")
    return retry


def _process(body: Mapping[str, Json]) -> dict[str, str]:
    found = {}
    for name, column in PROCESS_FIELDS:
        value = _text(body, name)
        if value is not None:
            found[column] = value
    return found


def _text(body: Mapping[str, Json], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InputError(f"a job needs a non-empty '{name}' (text)")
        return None
    if not isinstance(value, str):
        raise InputError(f"job field '{name}' must be text")
    return value


def _count(raw: Mapping[str, Json], name: str, label: str) -> int:
    value = raw.get(name)
    if value is None:
        return 0
    count = _whole(value, label, bound=INT32)
    if count < 0:
        raise InputError(f"job field '{label}' cannot be negative, but is {count}")
    return count


def _whole(raw: Any, name: str, *, bound: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise InputError(f"job field '{name}' must be a whole number")
    if isinstance(raw, float) and not raw.is_integer():
        raise InputError(f"job field '{name}' must be a whole number")
    number = int(raw)
    if not -bound <= number < bound:
        raise InputError(f"job field '{name}' must be between {-bound} and {bound - 1}")
    return number


def _object(raw: Json, name: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InputError(f"job field '{name}' must be an object")
    return raw
