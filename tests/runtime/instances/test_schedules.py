"""Scheduled starts: cron and interval occurrences, and the start job that fires them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from knflow.errors import DefinitionError
from knflow.runtime.instances import schedules
from knflow.runtime.job_trigger import firing
from knflow.runtime.services import Services
from knflow.store import db, jobs
from tests.runtime.job_harness import T0, Clock, register, services_for

MONDAY = datetime(2030, 1, 7, 10, 0, tzinfo=UTC)


def _next(raw: Any, after: datetime, registered: datetime = MONDAY) -> datetime | None:
    return schedules.next_occurrence(schedules.parse_schedule(raw, registered), after)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"cron": "*/15 * * * *"}, datetime(2030, 1, 7, 10, 15, tzinfo=UTC)),
        ({"cron": "0 0/15 * * * ?"}, datetime(2030, 1, 7, 10, 15, tzinfo=UTC)),
        ({"cron": "30 15,30,45 * ? * *"}, datetime(2030, 1, 7, 10, 15, 30, tzinfo=UTC)),
        ({"cron": "0 0 12 ? * 1"}, datetime(2030, 1, 13, 12, 0, tzinfo=UTC)),
        ({"cron": "0 0 12 ? * MON-FRI"}, datetime(2030, 1, 7, 12, 0, tzinfo=UTC)),
        ({"cron": "0 0 12 ? * 6L"}, datetime(2030, 1, 25, 12, 0, tzinfo=UTC)),
        ({"cron": "0 0 0 1 1 ? 2032"}, datetime(2032, 1, 1, 0, 0, tzinfo=UTC)),
        (
            {"cron": "0 9 * * *", "timezone": "Europe/Paris"},
            datetime(2030, 1, 8, 8, 0, tzinfo=UTC),
        ),
        (
            {"cron": {"expression": "0 * * * *", "validUntil": "2030-01-07T10:30:00Z"}},
            None,
        ),
    ],
    ids=[
        "unix-5-field",
        "quartz-question-mark",
        "quartz-seconds",
        "quartz-1-is-sunday",
        "quartz-day-names",
        "quartz-last-friday",
        "quartz-year",
        "timezone",
        "valid-until",
    ],
)
def test_cron_schedules_give_the_next_occurrence(
    raw: Any, expected: datetime | None
) -> None:
    assert _next(raw, MONDAY) == expected


@pytest.mark.parametrize(
    ("raw", "after", "expected"),
    [
        ("R/PT2H", MONDAY, MONDAY + timedelta(hours=2)),
        ("R/PT2H", MONDAY + timedelta(hours=3), MONDAY + timedelta(hours=4)),
        ({"interval": "R/PT30M"}, MONDAY, MONDAY + timedelta(minutes=30)),
        ("R/2030-01-07T13:00:00Z/PT2H", MONDAY, datetime(2030, 1, 7, 13, tzinfo=UTC)),
        (
            "R/2030-01-07T13:00:00Z/PT2H",
            datetime(2030, 1, 7, 13, tzinfo=UTC),
            datetime(2030, 1, 7, 15, tzinfo=UTC),
        ),
        ("R/PT2H/2030-01-07T13:00:00Z", MONDAY, MONDAY + timedelta(hours=2)),
        ("R/PT2H/2030-01-07T13:00:00Z", MONDAY + timedelta(hours=2), None),
        ("R2/2030-01-07T13:00:00Z/PT1H", datetime(2030, 1, 7, 14, tzinfo=UTC), None),
    ],
    ids=[
        "duration-from-registration",
        "duration-skips-to-next",
        "object-form",
        "start-and-duration",
        "start-and-duration-next",
        "duration-and-end",
        "duration-and-end-over",
        "bounded-repeats",
    ],
)
def test_intervals_give_the_next_occurrence(
    raw: Any, after: datetime, expected: datetime | None
) -> None:
    assert _next(raw, after) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "PT2H",
        "R/soon",
        "R/PT0S",
        {"cron": "* * *"},
        {"cron": "0 61 * * *"},
        {"cron": "* * * * *", "timezone": "Mars/Olympus"},
        {"timezone": "UTC"},
        42,
    ],
    ids=[
        "not-repeating",
        "bad-duration",
        "empty-duration",
        "too-few-fields",
        "bad-minute",
        "bad-zone",
        "nothing",
        "number",
    ],
)
def test_invalid_schedules_are_definition_errors(raw: Any) -> None:
    with pytest.raises(DefinitionError, match="/start/schedule"):
        schedules.parse_schedule(raw, MONDAY)


def _ticker(schedule: Any) -> dict[str, Any]:
    return {
        "id": "ticker",
        "version": "1.0",
        "specVersion": "0.8",
        "start": {"stateName": "tick", "schedule": schedule},
        "states": [{"name": "tick", "type": "inject", "data": {"t": 1}, "end": True}],
    }


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(pool: ConnectionPool, clock: Clock) -> Iterator[Services]:
    with services_for(pool, clock) as built:
        yield built


def _start_job(services: Services) -> jobs.JobRow | None:
    with db.transaction(services.pool) as conn:
        return jobs.get(conn, schedules.start_job_id("ticker"))


def _instances(services: Services) -> list[tuple[Any, ...]]:
    with db.transaction(services.pool) as conn:
        return conn.execute(
            "SELECT status, started_at FROM instances WHERE workflow_id = 'ticker'"
        ).fetchall()


def test_registering_a_scheduled_definition_creates_its_start_job(
    services: Services,
) -> None:
    register(services, _ticker({"cron": "0 */5 * * * ?"}))
    job = _start_job(services)
    assert job is not None
    assert job.recipient == {"type": "start", "workflowId": "ticker"}
    assert job.expiration_time == T0 + timedelta(minutes=5)


def test_a_cron_schedule_starts_instances_at_its_times(
    services: Services, clock: Clock
) -> None:
    register(services, _ticker({"cron": "0 */5 * * * ?"}))
    clock.advance(minutes=4, seconds=59)
    early = firing.fire_due(services)
    clock.advance(seconds=1)
    on_time = firing.fire_due(services)
    job = _start_job(services)
    assert (early, on_time) == (0, 1)
    assert _instances(services) == [("COMPLETED", T0 + timedelta(minutes=5))]
    assert job is not None
    assert (job.status, job.expiration_time) == (
        "SCHEDULED",
        T0 + timedelta(minutes=10),
    )


def test_an_interval_schedule_repeats_from_registration_time(
    services: Services, clock: Clock
) -> None:
    register(services, _ticker("R/PT2H"))
    clock.advance(hours=2)
    firing.fire_due(services)
    clock.advance(hours=2)
    firing.fire_due(services)
    job = _start_job(services)
    assert [started for _, started in _instances(services)] == [
        T0 + timedelta(hours=2),
        T0 + timedelta(hours=4),
    ]
    assert job is not None
    assert job.expiration_time == T0 + timedelta(hours=6)


def test_occurrences_missed_while_nothing_ran_start_one_instance(
    services: Services, clock: Clock
) -> None:
    register(services, _ticker("R/PT1H"))
    clock.advance(hours=5, minutes=30)
    firing.fire_due(services)
    job = _start_job(services)
    assert len(_instances(services)) == 1
    assert job is not None
    assert job.expiration_time == T0 + timedelta(hours=6)


def test_registering_the_definition_without_a_schedule_cancels_its_start_job(
    services: Services,
) -> None:
    register(services, _ticker("R/PT1H"))
    unscheduled = _ticker(None)
    unscheduled["start"] = "tick"
    unscheduled["version"] = "2.0"
    register(services, unscheduled)
    job = _start_job(services)
    assert job is not None
    assert job.status == "CANCELED"
