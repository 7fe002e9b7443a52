"""Firing jobs: on every wake fire what is due, then stay to fire the next jobs on time.

Jobs whose firing is a database change (instance timers, scheduled starts, CloudEvents queued
in the outbox) are claimed and fired in one transaction, so each fires once even with several
replicas or a crash mid-way. Jobs that call out (http recipients, a sink other than `K_SINK`)
are claimed with a lease (RUNNING), called outside any transaction, and their outcome recorded
afterwards; a firer that dies mid-call lets the lease run out and the job fires again (at least
once, as with the Kogito Job Service). Failed calls are retried with a doubling delay (RETRY),
then given up (ERROR). Every status change queues a JobEvent.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Final

from knflow import logs
from knflow.engine.outcome import InstanceStatus
from knflow.errors import (
    ActionError,
    InputError,
    KnflowError,
    NotFoundError,
    UnavailableError,
)
from knflow.events import codec, types
from knflow.events import jobs as job_events
from knflow.events.codec import Event
from knflow.outbound import function_http, sink
from knflow.runtime.handoff import Handoff
from knflow.runtime.instances import (
    after_commit,
    deferral,
    publishing,
    schedules,
    timers,
    transaction,
)
from knflow.runtime.instances.advancing import advance_locked
from knflow.runtime.instances.creating import NewInstance, create_instance
from knflow.runtime.instances.deferral import Outgoing
from knflow.runtime.instances.timers import INSTANCE_RECIPIENT
from knflow.runtime.instances.work import AfterCommit, CallPolicy, UnitOfWork
from knflow.runtime.job_trigger import jobs_api, reconcile
from knflow.runtime.services import Services
from knflow.store import db, instances, jobs
from knflow.store.jobs import PENDING_STATUSES, JobRow, JobStatus
from knflow.tracing import TRACE_HEADERS

logger = logging.getLogger(__name__)

WATCH_NAME: Final = "job-trigger"
RECHECK: Final = timedelta(milliseconds=100)
"""Longest nap of a watcher: jobs written by others are seen within this."""
BUSY_NAP: Final = timedelta(milliseconds=20)
"""Nap when a due job is being fired by someone else."""
LEASE_CHECK: Final = timedelta(seconds=1)
"""How often a watcher checks that no newer invocation took over."""
LEASE_MARGIN: Final = timedelta(seconds=30)
"""Added to a call's timeout: how long a RUNNING job stays claimed by its firer."""
RESPONSE_CHARS: Final = 200
FIRERS: Final = 4
"""Threads firing a burst of due jobs; each holds one pooled connection (serving opens 8)."""
BATCH: Final = 16
"""Due jobs one firing transaction claims."""

CarryOut = Callable[[Services, AfterCommit], None]
"""What a firer does after its commit: publish the events, follow the calls kept."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimedCall:
    """A job claimed (RUNNING) for a call made outside any transaction."""

    job: JobRow
    """The job as claimed; `expiration_time` is the lease end, which identifies the claim."""
    occurrence: datetime
    """Due time of the occurrence being fired."""


class Trigger:
    """job-trigger's event handler, with the thread that publishes what its firings committed.

    One per function process. A firing's Data Index events are handed to that thread, as an
    HTTP request's are after its answer: a firer claims the next due jobs at once instead of
    waiting for the broker to take each event (two per fired timer), and a watcher keeping up
    with timers due one by one is not held back by their publishing. Step events and events a
    workflow produces are still sent before the next claim. Unsent events stay in the outbox
    for the reconcile, as after any commit.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._publisher: Handoff[Outgoing] | None = None

    def handle_event(self, services: Services, event: Event) -> None:
        """Handle a tick, a `job.create`/`job.delete`, or a new timer's wake-up, then stay.

        Raises:
            InputError: an event of another type, or a job event with invalid data.
        """
        if event.type == types.PING:
            fire_due(services, carry_out=self.carry_out)
            reconcile.run(services)
        elif event.type in (types.JOB_CREATE, types.JOB_DELETE):
            jobs_api.handle_job_event(services, event)
        elif event.type != types.JOB_SCHEDULED:
            raise InputError(
                f"job-trigger does not handle events of type '{event.type}'"
            )
        # A new timer's wake-up hint only watches.
        watch(services, window=services.settings.job_window, carry_out=self.carry_out)

    def carry_out(self, services: Services, after: AfterCommit) -> None:
        """Carry out a firing's commit, its Data Index events handed to the publisher."""
        with deferral.deferring() as deferred:
            after_commit.carry_out(services, after)
        if deferred.outgoing:
            self._publisher_for(services).submit(deferred.outgoing)

    def _publisher_for(self, services: Services) -> Handoff[Outgoing]:
        with self._lock:
            if self._publisher is None:
                self._publisher = Handoff(
                    partial(_publish_behind, services), name="knflow-job-publisher"
                )
            return self._publisher


def carry_out_inline(services: Services, after: AfterCommit) -> None:
    """Carry out a firing's commit on the firer's thread (every event sent before it goes on)."""
    after_commit.carry_out(services, after)


def watch(
    services: Services, *, window: timedelta, carry_out: CarryOut = carry_out_inline
) -> int:
    """Fire what is due, then fire each job at its time until `window` ends; return the count.

    Only one invocation watches at a time: the one whose window ends last. The others fire
    what is due and return at once.
    """
    fired = fire_due_concurrently(services, carry_out=carry_out)
    holder = str(uuid.uuid4())
    deadline = time.monotonic() + window.total_seconds()
    if not _anything_due_within(services, window):
        return fired  # scale to zero: a timer scheduled later sends its own wake-up
    if not _take_watch(services, holder, window):
        return fired
    try:
        fired += _watch_until(services, holder, deadline, carry_out)
    finally:
        with db.transaction(services.pool) as conn:
            jobs.release_watch(
                conn, name=WATCH_NAME, holder=holder, now=services.clock()
            )
    return fired


def fire_due(
    services: Services, *, limit: int = 50, carry_out: CarryOut = carry_out_inline
) -> int:
    """Fire every due job, at most `limit`; return how many fired."""
    fired = 0
    while fired < limit:
        count = fire_batch(
            services, limit=min(BATCH, limit - fired), carry_out=carry_out
        )
        if not count:
            break
        fired += count
    return fired


def fire_due_concurrently(
    services: Services,
    *,
    firers: int = FIRERS,
    carry_out: CarryOut = carry_out_inline,
) -> int:
    """Fire every due job with `firers` threads; return how many fired.

    A firing spends most of its time waiting for PostgreSQL, so a burst of due timers is
    fired several batches at a time; SKIP LOCKED keeps each job to one firer. A first batch
    that was not full took every due job no one else holds: no firer is started to find none
    (a watcher keeping up fires each timer as it comes due with one claim, not five).
    """
    first = fire_batch(services, carry_out=carry_out)
    if first < BATCH:
        return first
    with ThreadPoolExecutor(max_workers=firers) as pool:
        counts = list(
            pool.map(lambda _: fire_due(services, carry_out=carry_out), range(firers))
        )
    return first + sum(counts)


def fire_batch(
    services: Services, *, limit: int = BATCH, carry_out: CarryOut = carry_out_inline
) -> int:
    """Claim up to `limit` due jobs and fire them in one unit of work; return how many fired.

    A burst of due timers then costs one commit and one publishing round per batch, not per
    job. When one of them fails for good (its workflow is gone, say), the batch is undone
    and its jobs are fired one at a time, so that the failure is recorded for that job
    alone and the others go on.
    """
    try:
        with _unit_of_work(services) as work:
            due = jobs.claim_due(work.conn, now=work.now, limit=limit)
            calls = [
                call for job in due if (call := _fire_traced(work, job)) is not None
            ]
    except KnflowError as error:
        if error.retryable:
            raise
        return _fire_singly(services, limit, carry_out)
    carry_out(services, work.after_commit)
    for call in calls:
        _complete_call(services, call)
    return len(due)


def fire_next(services: Services, *, carry_out: CarryOut = carry_out_inline) -> bool:
    """Claim and fire the most overdue job; return False when none is due.

    A job whose firing fails permanently (its workflow is gone, say) is recorded as failed
    instead of blocking the ones behind it.
    """
    claimed: JobRow | None = None
    try:
        with _unit_of_work(services) as work:
            due = jobs.claim_due(work.conn, now=work.now, limit=1)
            if not due:
                return False
            claimed = due[0]
            call = _fire_traced(work, claimed)
    except KnflowError as error:
        if error.retryable or claimed is None:
            raise
        _record_failure(services, claimed.id, error)
        return True
    carry_out(services, work.after_commit)
    if call is not None:
        _complete_call(services, call)
    return True


def _fire_singly(services: Services, limit: int, carry_out: CarryOut) -> int:
    fired = 0
    while fired < limit and fire_next(services, carry_out=carry_out):
        fired += 1
    return fired


def _fire_traced(work: UnitOfWork, job: JobRow) -> ClaimedCall | None:
    with logs.context(job_id=job.id), _firing_span(work.services, job):
        return _fire_claimed(work, job)


def _watch_until(
    services: Services, holder: str, deadline: float, carry_out: CarryOut
) -> int:
    fired = 0
    next_lease_check = time.monotonic() + LEASE_CHECK.total_seconds()
    while (left := deadline - time.monotonic()) > 0:
        if time.monotonic() >= next_lease_check:
            if not _holds_watch(services, holder):
                logger.debug("watch taken over")
                return fired
            next_lease_check = time.monotonic() + LEASE_CHECK.total_seconds()
        with db.transaction(services.pool) as conn:
            due = jobs.next_due(conn)
        wait = RECHECK.total_seconds()
        if due is not None:
            wait = min(wait, (due - services.clock()).total_seconds())
        if wait <= 0:
            count = fire_due_concurrently(services, carry_out=carry_out)
            fired += count
            if count:
                continue
            # Due but held by another firer (SKIP LOCKED): give it a moment.
            wait = BUSY_NAP.total_seconds()
        time.sleep(min(wait, left))
    return fired


def _publish_behind(services: Services, outgoing: list[Outgoing]) -> None:
    """Publish on the publisher's thread; a failure leaves the rows to the reconcile."""
    try:
        publishing.send(services, outgoing)
    except KnflowError as error:
        logger.warning(
            "publishing fired jobs' events failed", extra={"reason": str(error)}
        )


def _anything_due_within(services: Services, window: timedelta) -> bool:
    if window <= timedelta(0):
        return False
    with db.transaction(services.pool) as conn:
        due = jobs.next_due(conn)
    return due is not None and due <= services.clock() + window


def _take_watch(services: Services, holder: str, window: timedelta) -> bool:
    with db.transaction(services.pool) as conn:
        return jobs.take_watch(
            conn,
            name=WATCH_NAME,
            holder=holder,
            held_until=services.clock() + window,
        )


def _holds_watch(services: Services, holder: str) -> bool:
    with db.transaction(services.pool) as conn:
        return jobs.holds_watch(
            conn, name=WATCH_NAME, holder=holder, now=services.clock()
        )


def _unit_of_work(services: Services) -> AbstractContextManager[UnitOfWork]:
    """A unit of work that hands service calls to step-executor.

    A timer firing must not wait for a workflow's service call: other timers are due.
    """
    return transaction.unit_of_work(services, calls=CallPolicy.HAND_OVER)


@contextmanager
def _firing_span(services: Services, job: JobRow) -> Iterator[None]:
    """Trace a firing as part of the trace that scheduled the timer (its recipient keeps it)."""
    recipient = job.recipient if isinstance(job.recipient, dict) else {}
    kind = str(recipient.get("type"))
    with services.tracer.span(
        f"timer {kind}",
        parent={key: str(recipient[key]) for key in TRACE_HEADERS if key in recipient},
        attributes={
            "knflow.job_id": job.id,
            "knflow.instance_id": job.instance_id or "",
        },
    ):
        yield
    services.metrics.job_firings.labels(kind).inc()


def _fire_claimed(work: UnitOfWork, job: JobRow) -> ClaimedCall | None:
    recipient = job.recipient if isinstance(job.recipient, dict) else {}
    kind = recipient.get("type")
    occurrence = _occurrence(job)
    work.services.metrics.timer_lateness.observe(
        max((work.now - occurrence).total_seconds(), 0.0)
    )
    if kind == INSTANCE_RECIPIENT:
        # Executed before the instance moves on: ending it cancels its *pending* timers.
        _record_success(work, job, occurrence, response=None)
        _wake_instance(work, recipient)
        return None
    if kind == timers.STEP_RECIPIENT:
        event = timers.step_event_for(recipient, now=work.now)
        work.queue_event(event, instance_id=job.instance_id)
    elif kind == schedules.START_RECIPIENT:
        _start_instance(work, job, str(recipient.get("workflowId")))
    elif kind == jobs_api.SINK_RECIPIENT and _is_broker(work.services, recipient):
        work.queue_event(_sink_event(job, now=work.now), instance_id=job.instance_id)
    elif kind in (jobs_api.HTTP_RECIPIENT, jobs_api.SINK_RECIPIENT):
        return _claim_call(work, job, occurrence)
    else:
        logger.warning("job with an unknown recipient dropped", extra={"kind": kind})
    _record_success(work, job, occurrence, response=None)
    return None


def _occurrence(job: JobRow) -> datetime:
    """The due time being fired: a retry or a lapsed lease keeps its occurrence's time."""
    if (
        job.status in (JobStatus.RETRY, JobStatus.RUNNING)
        and job.occurrence_at is not None
    ):
        return job.occurrence_at
    return job.expiration_time


def _wake_instance(work: UnitOfWork, recipient: dict[str, object]) -> None:
    row = instances.lock(work.conn, str(recipient["instanceId"]))
    if row is None or row.status is not InstanceStatus.ACTIVE:
        return
    advance_locked(work, row, timers.activation_for(recipient))


def _start_instance(work: UnitOfWork, job: JobRow, workflow_id: str) -> None:
    """Start a scheduled instance; a refused start is logged, and the schedule goes on."""
    try:
        row = create_instance(work, NewInstance(workflow_id=workflow_id, data={}))
    except (InputError, NotFoundError) as error:
        # Both are raised before anything is written, so the transaction stays usable.
        logger.warning(
            "scheduled start refused",
            extra={"workflow_id": workflow_id, "reason": str(error)},
        )
        return
    logger.info(
        "scheduled instance started",
        extra={"workflow_id": workflow_id, "instance_id": row.id, "job_id": job.id},
    )


def _is_broker(services: Services, recipient: dict[str, object]) -> bool:
    url = recipient.get("sinkUrl")
    return not url or url == services.settings.k_sink


def _claim_call(work: UnitOfWork, job: JobRow, occurrence: datetime) -> ClaimedCall:
    timeout = jobs_api.attempt_timeout(job, work.services.settings.action_timeout)
    claimed = jobs.set_status(
        work.conn,
        job,
        status=JobStatus.RUNNING,
        now=work.now,
        expiration_time=work.now + timeout + LEASE_MARGIN,
        occurrence_at=occurrence,
    )
    return ClaimedCall(job=claimed, occurrence=occurrence)


def _complete_call(services: Services, call: ClaimedCall) -> None:
    """Call the recipient, then record the outcome unless the claim was lost meanwhile."""
    response: tuple[str, str] | None = None
    failure: str | None = None
    try:
        response = _call_recipient(services, call.job)
    except (ActionError, UnavailableError) as error:
        failure = str(error)
    with _unit_of_work(services) as work:
        row = jobs.lock(work.conn, call.job.id)
        if (
            row is None
            or row.status is not JobStatus.RUNNING
            or row.expiration_time != call.job.expiration_time
        ):
            logger.info(
                "job outcome dropped: claim lost", extra={"job_id": call.job.id}
            )
            return
        if failure is None:
            _record_success(work, row, call.occurrence, response=response)
        else:
            _record_retry(work, row, call.occurrence, failure)
    publishing.publish(services, work.after_commit.outgoing)


def _call_recipient(services: Services, job: JobRow) -> tuple[str, str] | None:
    recipient = job.recipient if isinstance(job.recipient, dict) else {}
    timeout = jobs_api.attempt_timeout(job, services.settings.action_timeout)
    if recipient.get("type") == jobs_api.SINK_RECIPIENT:
        event = _sink_event(job, now=services.clock())
        structured = recipient.get("contentMode") == "structured"
        encode = codec.to_structured_http if structured else codec.to_binary_http
        headers, encoded = encode(event)
        sink.post(services.http, str(recipient["sinkUrl"]), headers, encoded)
        return None
    body, content_type = jobs_api.payload_body(recipient)
    query = recipient.get("queryParams") or {}
    answer = function_http.send(
        services.http,
        function_http.FunctionRequest(
            method=str(recipient.get("method") or "POST").upper(),
            url=str(recipient["url"]),
            query=tuple((str(k), str(v)) for k, v in query.items()),
            headers={
                str(k): str(v) for k, v in (recipient.get("headers") or {}).items()
            },
            body=body,
            content_type=content_type,
        ),
        function_name=f"job {job.id}",
        timeout=timeout,
        forward_headers={},
    )
    text = answer.content[:RESPONSE_CHARS].decode("utf-8", errors="replace")
    return str(answer.status), text


def _sink_event(job: JobRow, *, now: datetime) -> Event:
    """The CloudEvent a sink recipient receives at this firing of `job`."""
    recipient = job.recipient if isinstance(job.recipient, dict) else {}
    return job_events.sink_event(
        job_id=job.id,
        recipient=recipient,
        firing=job.execution_counter,
        remaining=job.repeat_limit - job.execution_counter
        if job.repeat_limit >= 0
        else None,
        now=now,
    )


def _record_success(
    work: UnitOfWork,
    job: JobRow,
    occurrence: datetime,
    *,
    response: tuple[str, str] | None,
) -> None:
    """Count the firing; a repeating job moves to its next occurrence, others are EXECUTED."""
    counter = job.execution_counter + 1
    following = _following(job, occurrence, counter, work.now)
    row = jobs.set_status(
        work.conn,
        job,
        status=JobStatus.EXECUTED if following is None else JobStatus.SCHEDULED,
        now=work.now,
        expiration_time=following,
        retries=0,
        execution_counter=counter,
    )
    work.announce_job(row, response=response)


def _following(
    job: JobRow, occurrence: datetime, fired: int, now: datetime
) -> datetime | None:
    """The next occurrence after a firing; occurrences missed while nothing ran are skipped."""
    if (
        isinstance(job.schedule, dict)
        and job.schedule.get("type") == schedules.SCHEDULE_TYPE
    ):
        return schedules.next_start(job, max(occurrence, now))
    if not job.repeat_interval_ms or 0 <= job.repeat_limit < fired:
        return None
    period = timedelta(milliseconds=job.repeat_interval_ms)
    skipped = max(0, (now - occurrence) // period)
    return occurrence + period * (skipped + 1)


def _record_retry(
    work: UnitOfWork, job: JobRow, occurrence: datetime, failure: str
) -> None:
    policy = jobs_api.retry_policy(job)
    retries = job.retries + 1
    next_attempt = work.now + policy.delay * (2 ** (retries - 1))
    give_up = (
        retries > policy.max_retries or next_attempt > occurrence + policy.max_duration
    )
    row = jobs.set_status(
        work.conn,
        job,
        status=JobStatus.ERROR if give_up else JobStatus.RETRY,
        now=work.now,
        expiration_time=None if give_up else next_attempt,
        retries=retries,
        occurrence_at=None if give_up else occurrence,
        last_error=failure,
    )
    logger.warning(
        "job firing failed",
        extra={"job_id": job.id, "retries": retries, "status": row.status},
    )
    work.announce_job(row)


def _record_failure(services: Services, job_id: str, error: KnflowError) -> None:
    """Record a firing that failed permanently; a repeating job goes on with its next occurrence."""
    logger.warning("job firing refused", extra={"job_id": job_id, "reason": str(error)})
    with _unit_of_work(services) as work:
        job = jobs.lock(work.conn, job_id)
        if job is None or job.status not in PENDING_STATUSES:
            return
        occurrence = _occurrence(job)
        following = _following(job, occurrence, job.execution_counter + 1, work.now)
        row = jobs.set_status(
            work.conn,
            job,
            status=JobStatus.ERROR if following is None else JobStatus.SCHEDULED,
            now=work.now,
            expiration_time=following,
            last_error=str(error),
        )
        work.announce_job(row)
    publishing.publish(services, work.after_commit.outgoing)
