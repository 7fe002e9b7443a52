"""What the Data Index learns of a job: the `JobEvent` of each status change, from its row.

Instance timers, scheduled starts and Job Service jobs all announce their changes this way,
whichever function changed them.
"""

from __future__ import annotations

from datetime import datetime

from knflow.events import jobs as job_events
from knflow.events.codec import Event
from knflow.events.jobs import JobFacts
from knflow.store.jobs import FAILING_STATUSES, JobRow, JobStatus


def job_event(
    job: JobRow, *, now: datetime, response: tuple[str, str] | None = None
) -> Event:
    """Build the JobEvent for `job`'s current status.

    `response` is the recipient's answer as (code, message) after a firing.
    """
    return job_events.job_event(job_facts(job, now=now, response=response))


def job_facts(
    job: JobRow, *, now: datetime, response: tuple[str, str] | None = None
) -> JobFacts:
    """Return what a JobEvent says about `job`; a firing in progress still reads SCHEDULED."""
    status = JobStatus.SCHEDULED if job.status is JobStatus.RUNNING else job.status
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
        error=job.last_error if job.status in FAILING_STATUSES else None,
    )


def callback_endpoint(job: JobRow) -> str | None:
    """Return the URL an http or sink recipient is called at."""
    recipient = job.recipient if isinstance(job.recipient, dict) else {}
    url = recipient.get("url") or recipient.get("sinkUrl")
    return str(url) if url else None
