"""Job rows, the stalled-instance sweep and the watch lease, against a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from psycopg_pool import ConnectionPool

from knflow.engine.outcome import InstanceStatus
from knflow.store import db, instances, jobs
from knflow.store.jobs import JobStatus
from tests.store.rows import instance_row, register_workflow

T0 = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
HTTP = {"type": "http", "url": "http://peer/hook"}


def _schedule(
    pool: ConnectionPool, job_id: str, due: datetime, **fields
) -> jobs.JobRow:
    with db.transaction(pool) as conn:
        return jobs.upsert(
            conn, job_id=job_id, due=due, recipient=HTTP, now=T0, **fields
        )


def test_upsert_schedules_a_job_and_returns_it(pool: ConnectionPool) -> None:
    row = _schedule(pool, "j1", T0 + timedelta(seconds=5), correlation_id="c1")
    assert (row.id, row.status, row.expiration_time) == (
        "j1",
        "SCHEDULED",
        T0 + timedelta(seconds=5),
    )
    assert row.correlation_id == "c1"
    assert row.recipient == HTTP


def test_upserting_an_existing_id_replaces_it_with_fresh_counters(
    pool: ConnectionPool,
) -> None:
    first = _schedule(pool, "j1", T0)
    with db.transaction(pool) as conn:
        jobs.set_status(
            conn, first, status=JobStatus.RETRY, now=T0, retries=2, last_error="boom"
        )
    again = _schedule(pool, "j1", T0 + timedelta(minutes=1), repeat_limit=3)
    assert (again.status, again.retries, again.last_error) == ("SCHEDULED", 0, None)
    assert again.expiration_time == T0 + timedelta(minutes=1)
    assert again.repeat_limit == 3


def test_claim_due_returns_only_due_pending_jobs(pool: ConnectionPool) -> None:
    _schedule(pool, "due", T0)
    _schedule(pool, "later", T0 + timedelta(seconds=1))
    cancelled = _schedule(pool, "cancelled", T0)
    with db.transaction(pool) as conn:
        jobs.cancel(conn, cancelled.id, now=T0)
        claimed = jobs.claim_due(conn, now=T0)
    assert [job.id for job in claimed] == ["due"]


def test_a_job_claimed_by_one_transaction_is_skipped_by_another(
    pool: ConnectionPool,
) -> None:
    _schedule(pool, "j1", T0)
    with db.transaction(pool) as first:
        held = jobs.claim_due(first, now=T0)
        with db.transaction(pool) as second:
            skipped = jobs.claim_due(second, now=T0)
    assert [job.id for job in held] == ["j1"]
    assert skipped == []


def test_a_running_job_is_due_again_only_when_its_lease_ran_out(
    pool: ConnectionPool,
) -> None:
    job = _schedule(pool, "j1", T0)
    lease_end = T0 + timedelta(seconds=30)
    with db.transaction(pool) as conn:
        jobs.set_status(
            conn,
            job,
            status=JobStatus.RUNNING,
            now=T0,
            expiration_time=lease_end,
            occurrence_at=T0,
        )
        during = jobs.claim_due(conn, now=lease_end - timedelta(seconds=1))
        after = jobs.claim_due(conn, now=lease_end)
    assert during == []
    assert [(j.id, j.occurrence_at) for j in after] == [("j1", T0)]


def test_next_due_is_the_earliest_pending_expiration(pool: ConnectionPool) -> None:
    _schedule(pool, "a", T0 + timedelta(seconds=9), instance_id="i1")
    _schedule(pool, "b", T0 + timedelta(seconds=3), instance_id="i2")
    with db.transaction(pool) as conn:
        overall = jobs.next_due(conn)
        for_i1 = jobs.next_due(conn, instance_id="i1")
        for_none = jobs.next_due(conn, instance_id="nobody")
    assert overall == T0 + timedelta(seconds=3)
    assert for_i1 == T0 + timedelta(seconds=9)
    assert for_none is None


def test_set_status_records_counters_and_clears_the_occurrence(
    pool: ConnectionPool,
) -> None:
    job = _schedule(pool, "j1", T0)
    with db.transaction(pool) as conn:
        retrying = jobs.set_status(
            conn,
            job,
            status=JobStatus.RETRY,
            now=T0,
            expiration_time=T0 + timedelta(seconds=1),
            retries=1,
            occurrence_at=T0,
            last_error="answered 500",
        )
        done = jobs.set_status(
            conn, retrying, status=JobStatus.EXECUTED, now=T0, execution_counter=1
        )
    assert (retrying.retries, retrying.occurrence_at) == (1, T0)
    assert retrying.last_error == "answered 500"
    assert (done.status, done.execution_counter, done.occurrence_at) == (
        "EXECUTED",
        1,
        None,
    )


def test_get_and_lock_read_a_job_and_none_for_an_unknown_id(
    pool: ConnectionPool,
) -> None:
    _schedule(pool, "j1", T0)
    with db.transaction(pool) as conn:
        read = jobs.get(conn, "j1")
        locked = jobs.lock(conn, "j1")
        missing = jobs.get(conn, "nope")
    assert read == locked
    assert read is not None
    assert missing is None


def test_cancel_returns_the_job_once_and_none_when_not_pending(
    pool: ConnectionPool,
) -> None:
    _schedule(pool, "j1", T0)
    with db.transaction(pool) as conn:
        first = jobs.cancel(conn, "j1", now=T0)
        second = jobs.cancel(conn, "j1", now=T0)
    assert first is not None
    assert first.status == "CANCELED"
    assert second is None


def test_cancel_for_instance_cancels_only_that_instances_pending_jobs(
    pool: ConnectionPool,
) -> None:
    _schedule(pool, "a", T0, instance_id="i1")
    _schedule(pool, "b", T0, instance_id="i1")
    _schedule(pool, "c", T0, instance_id="i2")
    with db.transaction(pool) as conn:
        cancelled = jobs.cancel_for_instance(conn, "i1", now=T0)
        other = jobs.get(conn, "c")
    assert sorted(job.id for job in cancelled) == ["a", "b"]
    assert other is not None
    assert other.status == "SCHEDULED"


def test_stalled_instances_lists_old_runnable_active_instances_page_by_page(
    pool: ConnectionPool,
) -> None:
    _instance(pool, "old-1", updated=T0 - timedelta(minutes=5))
    _instance(pool, "old-2", updated=T0 - timedelta(minutes=4))
    _instance(pool, "fresh", updated=T0)
    _instance(pool, "waiting", updated=T0 - timedelta(minutes=5), waiting=True)
    _instance(
        pool, "done", updated=T0 - timedelta(minutes=5), status=InstanceStatus.COMPLETED
    )
    before = T0 - timedelta(minutes=1)
    with db.transaction(pool) as conn:
        first = jobs.stalled_instances(conn, before=before, limit=1)
        last = first[-1]
        rest = jobs.stalled_instances(
            conn, before=before, limit=10, after=(last.updated_at, last.id)
        )
    assert [s.id for s in first] == ["old-1"]
    assert [s.id for s in rest] == ["old-2"]
    assert rest[0].execution == {"threads": {}}


def test_the_watch_goes_to_the_invocation_whose_window_ends_last(
    pool: ConnectionPool,
) -> None:
    with db.transaction(pool) as conn:
        first = jobs.take_watch(
            conn, name="w", holder="a", held_until=T0 + timedelta(seconds=45)
        )
        shorter = jobs.take_watch(
            conn, name="w", holder="b", held_until=T0 + timedelta(seconds=30)
        )
        longer = jobs.take_watch(
            conn, name="w", holder="c", held_until=T0 + timedelta(seconds=60)
        )
        a_holds = jobs.holds_watch(conn, name="w", holder="a", now=T0)
        c_holds = jobs.holds_watch(conn, name="w", holder="c", now=T0)
    assert (first, shorter, longer) == (True, False, True)
    assert (a_holds, c_holds) == (False, True)


def test_a_released_watch_is_free_for_the_next_invocation(
    pool: ConnectionPool,
) -> None:
    with db.transaction(pool) as conn:
        jobs.take_watch(conn, name="w", holder="a", held_until=T0 + timedelta(hours=1))
        jobs.release_watch(conn, name="w", holder="a", now=T0)
        still = jobs.holds_watch(conn, name="w", holder="a", now=T0)
        taken = jobs.take_watch(
            conn, name="w", holder="b", held_until=T0 + timedelta(seconds=1)
        )
    assert still is False
    assert taken is True


def _instance(
    pool: ConnectionPool,
    instance_id: str,
    *,
    updated: datetime,
    waiting: bool = False,
    status: InstanceStatus = InstanceStatus.ACTIVE,
) -> None:
    with db.transaction(pool) as conn:
        register_workflow(conn)
        instances.insert(
            conn, instance_row(instance_id, status=status, waiting=waiting, at=updated)
        )


def test_overdue_backlog_counts_pending_jobs_past_due_and_the_oldest(
    pool: ConnectionPool,
) -> None:
    _schedule(pool, "late", T0 - timedelta(seconds=30))
    _schedule(pool, "later", T0 - timedelta(seconds=5))
    _schedule(pool, "future", T0 + timedelta(seconds=5))
    with db.transaction(pool) as conn:
        backlog = jobs.overdue_backlog(conn, now=T0)
        nothing = jobs.overdue_backlog(conn, now=T0 - timedelta(minutes=1))
    assert (backlog.count, backlog.oldest_at) == (2, T0 - timedelta(seconds=30))
    assert (nothing.count, nothing.oldest_at) == (0, None)
