"""Scheduled starts (`start.schedule`, SW 0.8 §1.9): when they occur, and the job that fires them.

A definition with a schedule owns one job, recipient `{type: start, workflowId}`, whose
expiration is the next occurrence; job-trigger starts an instance when it fires and moves it to
the occurrence after. Cron expressions are 5-field Unix cron or 6/7-field Quartz (seconds
first, `?`, day-of-week 1 = Sunday, optional year), read in the schedule's `timezone` (UTC by
default); intervals are ISO 8601 repeating intervals `R[n]/<duration>`, `R[n]/<start>/<duration>`
and `R[n]/<duration>/<end>`, the first and last counted from registration.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import isodate

from knflow import uuids
from knflow.errors import DefinitionError, Problem
from knflow.runtime.instances import job_status, publishing
from knflow.store import jobs
from knflow.store.db import Connection
from knflow.store.jobs import JobRow
from knflow.workflow.model import Definition, Json

START_RECIPIENT: Final = "start"
SCHEDULE_TYPE: Final = "workflow"
START_NAMESPACE: Final = uuid.UUID("1f6d2c3b-7a4e-4d5f-9b8a-6c0e2d1f3a47")
POINTER: Final = "/start/schedule"
YEAR_SEARCH_LIMIT: Final = 1000
_REPEAT: Final = re.compile(r"^R(\d*)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class CronSchedule:
    """A cron schedule, ready for croniter."""

    expression: str
    """The expression in croniter's syntax (seconds first when `has_seconds`)."""
    has_seconds: bool
    """Quartz form: six fields, seconds first."""
    years: frozenset[int] | None
    """Quartz year field; None for any year."""
    zone: ZoneInfo
    """Where the fields are read."""
    valid_until: datetime | None
    """No occurrence after this."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IntervalSchedule:
    """A repeating interval: occurrences `base + k * period` for `k >= first`."""

    base: datetime
    """The first interval's start (registration time when the interval names none)."""
    period: timedelta | isodate.Duration
    """Length of each interval."""
    first: int
    """0 when `base` itself is an occurrence, 1 when it is only the anchor."""
    count: int | None
    """How many occurrences (`Rn`); None for unbounded."""
    end: datetime | None
    """No occurrence after this."""


Schedule = CronSchedule | IntervalSchedule


def schedule_starts(conn: Connection, definition: Definition, now: datetime) -> None:
    """Create, replace or cancel the start job of `definition`'s workflow; call at registration.

    The caller owns the transaction. A JobEvent for the change is queued.

    Raises:
        DefinitionError: the schedule is not a valid cron expression or repeating interval.
    """
    job_id = start_job_id(definition.workflow_id)
    if definition.start_schedule is None:
        _cancel(conn, job_id, now)
        return
    stored: dict[str, Json] = {
        "type": SCHEDULE_TYPE,
        "schedule": definition.start_schedule,
        "anchor": now.isoformat(),
    }
    first = next_occurrence(parse_schedule(definition.start_schedule, now), now)
    if first is None:
        _cancel(conn, job_id, now)
        return
    row = jobs.upsert(
        conn,
        job_id=job_id,
        due=first,
        now=now,
        recipient={"type": START_RECIPIENT, "workflowId": definition.workflow_id},
        workflow_id=definition.workflow_id,
        correlation_id=definition.workflow_id,
        schedule=stored,
        repeat_limit=-1,
    )
    _announce(conn, row, now)


def start_job_id(workflow_id: str) -> str:
    """Return the id of a workflow's start job (one per workflow id, whatever the version)."""
    return uuids.name_based(START_NAMESPACE, f"start/{workflow_id}")


def next_start(job: JobRow, after: datetime) -> datetime | None:
    """Return the occurrence of a start job's schedule after `after` (None when it ended)."""
    stored = job.schedule if isinstance(job.schedule, dict) else {}
    anchor = datetime.fromisoformat(str(stored.get("anchor") or job.created_at))
    return next_occurrence(parse_schedule(stored.get("schedule"), anchor), after)


def parse_schedule(raw: Json, registered: datetime) -> Schedule:
    """Read a `start.schedule` value; `registered` anchors intervals without a start.

    Raises:
        DefinitionError: the schedule is invalid (with its JSON pointer).
    """
    if isinstance(raw, str):
        return parse_interval(raw, registered)
    if not isinstance(raw, dict):
        raise _invalid(
            POINTER, "must be an interval string or {interval | cron, timezone}"
        )
    zone = _zone(raw.get("timezone"))
    if raw.get("cron") is not None:
        return parse_cron(raw["cron"], zone)
    if isinstance(raw.get("interval"), str):
        return parse_interval(raw["interval"], registered)
    raise _invalid(POINTER, "needs 'interval' or 'cron'")


def parse_cron(raw: Json, zone: ZoneInfo) -> CronSchedule:
    """Read `cron` (a string or `{expression, validUntil}`) in `zone`.

    Raises:
        DefinitionError: not a 5-field cron or 6/7-field Quartz expression.
    """
    pointer = f"{POINTER}/cron"
    text, valid_until = raw, None
    if isinstance(raw, dict):
        text = raw.get("expression")
        valid_until = _instant(raw.get("validUntil"), f"{pointer}/validUntil")
    if not isinstance(text, str) or not text.strip():
        raise _invalid(pointer, "needs a cron expression")
    fields = text.split()
    if len(fields) not in (5, 6, 7):
        raise _invalid(pointer, f"cron '{text}' must have 5, 6 or 7 fields")
    quartz = len(fields) > 5
    years = _years(fields[6], pointer) if len(fields) == 7 else None
    expression = " ".join(
        _quartz_fields(fields[:6]) if quartz else _unix_fields(fields)
    )
    from croniter import (  # only where cron is read: off cold starts
        CroniterError,
        croniter,
    )

    try:
        croniter(expression, datetime.now(UTC), second_at_beginning=quartz)
    except (CroniterError, ValueError) as error:
        raise _invalid(pointer, f"cron '{text}' is not valid: {error}") from error
    return CronSchedule(
        expression=expression,
        has_seconds=quartz,
        years=years,
        zone=zone,
        valid_until=valid_until,
    )


def parse_interval(text: str, registered: datetime) -> IntervalSchedule:
    """Read an ISO 8601 repeating interval.

    Raises:
        DefinitionError: not `R[n]/<duration>`, `R[n]/<start>/<duration>` or `R[n]/<duration>/<end>`.
    """
    parts = text.strip().split("/")
    repeat = _REPEAT.match(parts[0]) if parts else None
    if repeat is None or len(parts) not in (2, 3):
        raise _invalid(POINTER, f"interval '{text}' is not a repeating interval R/...")
    count = int(repeat.group(1)) if repeat.group(1) else None
    if len(parts) == 2:
        period = _duration(parts[1], text)
        return IntervalSchedule(
            base=registered, period=period, first=1, count=count, end=None
        )
    if parts[1].upper().startswith("P"):
        period = _duration(parts[1], text)
        end = _instant(parts[2], POINTER)
        return IntervalSchedule(
            base=registered, period=period, first=1, count=count, end=end
        )
    start = _instant(parts[1], POINTER)
    assert start is not None
    period = _duration(parts[2], text)
    return IntervalSchedule(base=start, period=period, first=0, count=count, end=None)


def next_occurrence(schedule: Schedule, after: datetime) -> datetime | None:
    """Return the first occurrence strictly after `after` (aware UTC), None when none is left."""
    if isinstance(schedule, CronSchedule):
        found = _next_cron(schedule, after)
        limit = schedule.valid_until
    else:
        found = _next_interval(schedule, after)
        limit = schedule.end
    if found is None or (limit is not None and found > limit):
        return None
    return found


def cancel_starts(conn: Connection, workflow_id: str, now: datetime) -> None:
    """Stop the scheduled starts of a workflow that is no longer available."""
    _cancel(conn, start_job_id(workflow_id), now)


def _cancel(conn: Connection, job_id: str, now: datetime) -> None:
    cancelled = jobs.cancel(conn, job_id, now=now)
    if cancelled is not None:
        _announce(conn, cancelled, now)


def _announce(conn: Connection, job: JobRow, now: datetime) -> None:
    publishing.enqueue(
        conn, job_status.job_event(job, now=now), instance_id=job.instance_id, now=now
    )


def _next_cron(schedule: CronSchedule, after: datetime) -> datetime | None:
    from croniter import croniter  # only where cron is read: off cold starts

    cursor = croniter(
        schedule.expression,
        after.astimezone(schedule.zone),
        second_at_beginning=schedule.has_seconds,
    )
    for _ in range(YEAR_SEARCH_LIMIT):
        found: datetime = cursor.get_next(datetime)
        if schedule.years is None or found.year in schedule.years:
            return found.astimezone(UTC)
        if found.year > max(schedule.years):
            return None
    return None


def _next_interval(schedule: IntervalSchedule, after: datetime) -> datetime | None:
    period = schedule.period
    if isinstance(period, timedelta):
        index = max(schedule.first, (after - schedule.base) // period + 1)
    else:
        index = schedule.first
        while schedule.base + period * index <= after:
            index += 1
    if schedule.count is not None and index - schedule.first >= schedule.count:
        return None
    return (schedule.base + period * index).astimezone(UTC)


def _unix_fields(fields: list[str]) -> list[str]:
    return [field.replace("?", "*") for field in fields]


def _quartz_fields(fields: list[str]) -> list[str]:
    """Quartz: `?` means any, day-of-week counts 1 (Sunday) to 7; croniter counts 0 to 6."""
    seconds, minutes, hours, day, month, weekday = (f.replace("?", "*") for f in fields)
    weekdays = ",".join(_quartz_weekday(token) for token in weekday.split(","))
    return [seconds, minutes, hours, day, month, weekdays]


def _quartz_weekday(token: str) -> str:
    if "#" in token:
        day, nth = token.split("#", 1)
        return f"{_weekday_number(day)}#{nth}"
    if token.upper().endswith("L") and len(token) > 1:
        return f"L{_weekday_number(token[:-1])}"
    base, _, step = token.partition("/")
    days = "-".join(_weekday_number(day) for day in base.split("-"))
    return f"{days}/{step}" if step else days


def _weekday_number(day: str) -> str:
    return str(int(day) - 1) if day.isdigit() else day


def _years(field: str, pointer: str) -> frozenset[int] | None:
    if field in ("*", "?"):
        return None
    years: set[int] = set()
    try:
        for token in field.split(","):
            low, _, high = token.partition("-")
            years.update(range(int(low), int(high or low) + 1))
    except ValueError as error:
        raise _invalid(pointer, f"cron year field '{field}' is not valid") from error
    return frozenset(years)


def _zone(raw: Json) -> ZoneInfo:
    name = raw if isinstance(raw, str) and raw else "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise _invalid(f"{POINTER}/timezone", f"'{name}' is not a time zone") from error


def _duration(text: str, interval: str) -> timedelta | isodate.Duration:
    try:
        period = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError) as error:
        raise _invalid(
            POINTER, f"interval '{interval}' has no valid duration"
        ) from error
    if isinstance(period, timedelta) and period <= timedelta(0):
        raise _invalid(POINTER, f"interval '{interval}' has an empty duration")
    return period


def _instant(raw: Json, pointer: str) -> datetime | None:
    if raw is None:
        return None
    try:
        moment: datetime = isodate.parse_datetime(str(raw))
    except (isodate.ISO8601Error, ValueError) as error:
        raise _invalid(pointer, f"'{raw}' is not an ISO 8601 date-time") from error
    # SW 0.8: UTC is assumed when the time carries no offset.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _invalid(pointer: str, reason: str) -> DefinitionError:
    return DefinitionError([Problem(pointer=pointer, reason=reason)])
