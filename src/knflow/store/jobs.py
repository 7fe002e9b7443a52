"""Job rows (instance timers, scheduled starts, Kogito Job Service v2 jobs) and job-trigger's sweeps.

Besides the `jobs` table this module holds the two other reads job-trigger sweeps with: the
instances that stalled (for the reconcile) and the lease of the one invocation that stays
awake to fire jobs on time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from psycopg.rows import RowFactory, class_row, kwargs_row
from psycopg.types.json import Jsonb

from knflow.store.db import Connection
from knflow.store.outbox import Backlog
from knflow.store.sql import queries
from knflow.workflow.model import Json

EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)


class JobStatus(StrEnum):
    """Where a job stands, with the Kogito Job Service's names (plus RUNNING)."""

    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    """Claimed by a firer calling its recipient; `expiration_time` is the lease end."""
    RETRY = "RETRY"
    EXECUTED = "EXECUTED"
    ERROR = "ERROR"
    CANCELED = "CANCELED"


PENDING_STATUSES: Final = frozenset(
    {JobStatus.SCHEDULED, JobStatus.RETRY, JobStatus.RUNNING}
)
"""Jobs that will still fire."""
FAILING_STATUSES: Final = frozenset({JobStatus.RETRY, JobStatus.ERROR})
"""Jobs whose last attempt failed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRow:
    """One job."""

    id: str
    """Job id."""
    status: JobStatus
    """Where it stands."""
    expiration_time: datetime
    """When it fires next (RUNNING: when the firer's lease ends)."""
    recipient: Json
    """`{type: instance|start|http|sink, ...}`: what firing does."""
    payload: Json
    """Data sent to http/sink recipients (v2 jobs keep it inside `recipient`)."""
    instance_id: str | None
    """Instance it belongs to."""
    workflow_id: str | None
    """That instance's workflow (the started workflow for scheduled starts)."""
    root_instance_id: str | None
    """Root instance."""
    root_workflow_id: str | None
    """Root workflow."""
    node_instance_id: str | None
    """Node that scheduled it."""
    repeat_interval_ms: int | None
    """Repeat period for periodic jobs."""
    repeat_limit: int
    """How many repeats after the first firing (-1: forever)."""
    retries: int
    """Failed attempts of the current occurrence."""
    execution_counter: int
    """Times fired successfully."""
    priority: int
    """Priority (informational)."""
    last_error: str | None
    """Last failure."""
    created_at: datetime
    """Created."""
    updated_at: datetime
    """Changed (for an executed job: when it fired)."""
    correlation_id: str | None = None
    """v2 `correlationId`."""
    schedule: Json = None
    """v2 schedule or workflow start schedule; None for one-shot timers."""
    retry: Json = None
    """v2 retry policy as posted."""
    execution_timeout_ms: int | None = None
    """Per-attempt limit of an http call."""
    occurrence_at: datetime | None = None
    """Due time of the occurrence being fired, while RUNNING or RETRY."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StalledInstance:
    """An ACTIVE instance that could run but made no progress for a while."""

    id: str
    """Instance id."""
    execution: Json
    """The engine's execution, as stored."""
    updated_at: datetime
    """Last change."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InFlight:
    """What a sweep may have to look at later."""

    oldest_running: datetime | None
    """`updated_at` of the oldest ACTIVE, not waiting instance not yet stalled; None: none."""
    next_unsent: datetime | None
    """When the next unsent outbox row is due; None when every row was sent."""
    next_timer: datetime | None
    """When the next timer is due; None when no timer is pending."""


def upsert(
    conn: Connection,
    *,
    job_id: str,
    due: datetime,
    recipient: Json,
    now: datetime,
    payload: Json = None,
    instance_id: str | None = None,
    workflow_id: str | None = None,
    root_instance_id: str | None = None,
    root_workflow_id: str | None = None,
    node_instance_id: str | None = None,
    repeat_interval_ms: int | None = None,
    repeat_limit: int = 0,
    priority: int = 0,
    correlation_id: str | None = None,
    schedule: Json = None,
    retry: Json = None,
    execution_timeout_ms: int | None = None,
) -> JobRow:
    """Schedule a job and return it; an existing id is replaced (counters start over)."""
    params: dict[str, Any] = {
        "id": job_id,
        "expiration_time": due,
        "recipient": Jsonb(recipient),
        "payload": Jsonb(payload),
        "instance_id": instance_id,
        "workflow_id": workflow_id,
        "root_instance_id": root_instance_id,
        "root_workflow_id": root_workflow_id,
        "node_instance_id": node_instance_id,
        "repeat_interval_ms": repeat_interval_ms,
        "repeat_limit": repeat_limit,
        "priority": priority,
        "correlation_id": correlation_id,
        "schedule": None if schedule is None else Jsonb(schedule),
        "retry": None if retry is None else Jsonb(retry),
        "execution_timeout_ms": execution_timeout_ms,
        "now": now,
    }
    with conn.cursor(row_factory=_JOB_ROWS) as cursor:
        row = cursor.execute(queries("jobs")["upsert_job"], params).fetchone()
    assert row is not None, "INSERT ... RETURNING returns the row"
    return row


def claim_due(conn: Connection, *, now: datetime, limit: int = 50) -> list[JobRow]:
    """Lock due jobs (and running jobs whose lease ran out) for this transaction."""
    with conn.cursor(row_factory=_JOB_ROWS) as cursor:
        return cursor.execute(
            queries("jobs")["claim_due_jobs"], {"now": now, "limit": limit}
        ).fetchall()


def overdue_backlog(conn: Connection, *, now: datetime) -> Backlog:
    """Return how many timers are past due and not fired, and the oldest due time."""
    with conn.cursor(row_factory=class_row(Backlog)) as cursor:
        found = cursor.execute(
            queries("jobs")["overdue_backlog"], {"now": now}
        ).fetchone()
    return found or Backlog(count=0, oldest_at=None)


def next_due(conn: Connection, *, instance_id: str | None = None) -> datetime | None:
    """Return when the next job fires (for one instance when given)."""
    q = queries("jobs")
    if instance_id is None:
        found = conn.execute(q["next_due"]).fetchone()
    else:
        found = conn.execute(
            q["next_due_for_instance"], {"instance_id": instance_id}
        ).fetchone()
    return None if found is None else found[0]  # type: ignore[return-value]


def set_status(
    conn: Connection,
    job: JobRow,
    *,
    status: JobStatus,
    now: datetime,
    expiration_time: datetime | None = None,
    retries: int | None = None,
    execution_counter: int | None = None,
    occurrence_at: datetime | None = None,
    last_error: str | None = None,
) -> JobRow:
    """Record a job's new status (and next expiration for retries and repeats); return it.

    `occurrence_at` is cleared unless given: it only means something while RUNNING or RETRY.
    """
    with conn.cursor(row_factory=_JOB_ROWS) as cursor:
        row = cursor.execute(
            queries("jobs")["set_job_status"],
            {
                "id": job.id,
                "status": status.value,
                "now": now,
                "expiration_time": expiration_time or job.expiration_time,
                "retries": job.retries if retries is None else retries,
                "execution_counter": job.execution_counter
                if execution_counter is None
                else execution_counter,
                "occurrence_at": occurrence_at,
                "last_error": None if last_error is None else last_error[:2000],
            },
        ).fetchone()
    assert row is not None, "the caller holds the job's row lock"
    return row


def get(conn: Connection, job_id: str) -> JobRow | None:
    """Return a job."""
    with conn.cursor(row_factory=_JOB_ROWS) as cursor:
        return cursor.execute(queries("jobs")["get_job"], {"id": job_id}).fetchone()


def page(conn: Connection, *, after: str, limit: int) -> list[JobRow]:
    """Return up to `limit` jobs whose id sorts after `after`, in id order."""
    with conn.cursor(row_factory=_JOB_ROWS) as cursor:
        return cursor.execute(
            queries("jobs")["page_jobs"], {"after": after, "limit": limit}
        ).fetchall()


def lock(conn: Connection, job_id: str) -> JobRow | None:
    """Return a job with its row locked until the transaction ends."""
    with conn.cursor(row_factory=_JOB_ROWS) as cursor:
        return cursor.execute(queries("jobs")["lock_job"], {"id": job_id}).fetchone()


def cancel(conn: Connection, job_id: str, *, now: datetime) -> JobRow | None:
    """Cancel a pending or running job; return it, or None when it was not pending."""
    with conn.cursor(row_factory=_JOB_ROWS) as cursor:
        return cursor.execute(
            queries("jobs")["cancel_job"], {"id": job_id, "now": now}
        ).fetchone()


def cancel_for_instance(
    conn: Connection, instance_id: str, *, now: datetime
) -> list[JobRow]:
    """Cancel every pending job of an instance (it ended); return the cancelled jobs."""
    with conn.cursor(row_factory=_JOB_ROWS) as cursor:
        return cursor.execute(
            queries("jobs")["cancel_instance_jobs"],
            {"instance_id": instance_id, "now": now},
        ).fetchall()


def work_in_flight(conn: Connection, *, stalled_before: datetime) -> InFlight:
    """Return the oldest running instance changed since `stalled_before`, the next unsent
    event and the next timer."""
    with conn.cursor(row_factory=class_row(InFlight)) as cursor:
        found = cursor.execute(
            queries("jobs")["work_in_flight"], {"stalled_before": stalled_before}
        ).fetchone()
    assert found is not None, "an aggregate returns one row"
    return found


def stalled_instances(
    conn: Connection,
    *,
    before: datetime,
    limit: int,
    after: tuple[datetime, str] = (EARLIEST, ""),
) -> list[StalledInstance]:
    """Return ACTIVE, not-waiting instances unchanged since `before`, oldest first.

    Pages with `after`: the (updated_at, id) of the last row of the previous page.
    """
    with conn.cursor(row_factory=class_row(StalledInstance)) as cursor:
        return cursor.execute(
            queries("jobs")["stalled_instances"],
            {
                "before": before,
                "limit": limit,
                "after_updated_at": after[0],
                "after_id": after[1],
            },
        ).fetchall()


def take_watch(
    conn: Connection, *, name: str, holder: str, held_until: datetime
) -> bool:
    """Become the watcher unless the current one holds the lease longer; return success."""
    found = conn.execute(
        queries("jobs")["take_watch"],
        {"name": name, "holder": holder, "held_until": held_until},
    ).fetchone()
    return found is not None


def holds_watch(conn: Connection, *, name: str, holder: str, now: datetime) -> bool:
    """Tell whether `holder` still holds the watch lease."""
    found = conn.execute(
        queries("jobs")["holds_watch"], {"name": name, "holder": holder, "now": now}
    ).fetchone()
    return found is not None


def release_watch(conn: Connection, *, name: str, holder: str, now: datetime) -> None:
    """Give the watch lease up (when `holder` still has it)."""
    conn.execute(
        queries("jobs")["release_watch"], {"name": name, "holder": holder, "now": now}
    )


def _job_from_columns(**columns: Any) -> JobRow:
    return JobRow(**{**columns, "status": JobStatus(columns["status"])})


_JOB_ROWS: Final[RowFactory[JobRow]] = kwargs_row(_job_from_columns)
