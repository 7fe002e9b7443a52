"""The Kogito Job Service v2 contract in the runtime: create, get, cancel, reschedule, events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from knflow.config import Settings
from knflow.errors import InputError, NotFoundError
from knflow.events import codec, kogito_ingest, types
from knflow.events.codec import Event
from knflow.events.kogito_ingest import JobChange
from knflow.runtime.job_trigger import job_json, jobs_api
from knflow.runtime.services import Services
from tests.runtime.job_harness import (
    T0,
    Clock,
    job_statuses,
    services_for,
    unsent_events,
)

DUE = T0 + timedelta(minutes=5)


@pytest.fixture
def services(pool: ConnectionPool) -> Iterator[Services]:
    with services_for(pool, Clock()) as built:
        yield built


def _job(job_id: str = "j1", **extra: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "correlationId": "c1",
        "schedule": {"type": "timer", "startTime": DUE.isoformat()},
        "retry": {"maxRetries": 5, "delay": 2, "delayUnit": "SECONDS"},
        "recipient": {"type": "http", "url": "http://svc/hook", "method": "POST"},
        "executionTimeout": 3,
        "executionTimeoutUnit": "SECONDS",
        **extra,
    }


def test_a_created_job_renders_as_v2_job_json(services: Services) -> None:
    row = jobs_api.create_job(services, _job())
    rendered = jobs_api.render_job(jobs_api.get_job(services, "j1"))
    assert row.expiration_time == DUE
    assert rendered == {
        "id": "j1",
        "correlationId": "c1",
        "state": "SCHEDULED",
        "schedule": {"type": "timer", "startTime": DUE.isoformat()},
        "retry": {"maxRetries": 5, "delay": 2, "delayUnit": "SECONDS"},
        "recipient": {"type": "http", "url": "http://svc/hook", "method": "POST"},
        "executionTimeout": 3000,
        "executionTimeoutUnit": "MILLIS",
    }


def test_a_created_job_is_announced_to_the_data_index(
    services: Services, pool: ConnectionPool
) -> None:
    jobs_api.create_job(
        services, _job(processInstanceId="i-1", processId="greet", nodeInstanceId="n-1")
    )
    [event] = unsent_events(pool, types.JOB_EVENT)
    data = event["data"]
    assert (data["id"], data["status"], data["expirationTime"]) == (
        "j1",
        "SCHEDULED",
        "2030-01-01T10:05:00Z",
    )
    assert (data["processInstanceId"], data["processId"], data["nodeInstanceId"]) == (
        "i-1",
        "greet",
        "n-1",
    )
    assert data["callbackEndpoint"] == "http://svc/hook"
    assert (event["kogitoprocinstanceid"], event["kogitoprocid"]) == ("i-1", "greet")


def test_the_job_event_is_read_by_the_data_index_ingest(
    services: Services, pool: ConnectionPool
) -> None:
    jobs_api.create_job(services, _job(processInstanceId="i-1", processId="greet"))
    [queued] = unsent_events(pool, types.JOB_EVENT)
    [change] = kogito_ingest.parse_event(codec.from_dict(queued), received_at=T0)
    assert isinstance(change, JobChange)
    assert (change.id, change.status, change.last_update) == ("j1", "SCHEDULED", T0)
    assert change.fields["expirationTime"] == DUE
    assert change.fields["processInstanceId"] == "i-1"


def test_reposting_an_id_reschedules_the_job(services: Services) -> None:
    jobs_api.create_job(services, _job())
    later = DUE + timedelta(hours=1)
    jobs_api.create_job(
        services, _job(schedule={"type": "timer", "startTime": later.isoformat()})
    )
    assert jobs_api.get_job(services, "j1").expiration_time == later


def test_a_cancelled_job_is_announced_and_gone(
    services: Services, pool: ConnectionPool
) -> None:
    jobs_api.create_job(services, _job())
    cancelled = jobs_api.cancel_job(services, "j1")
    assert cancelled.status == "CANCELED"
    assert job_statuses(pool, "j1") == ["SCHEDULED", "CANCELED"]
    with pytest.raises(NotFoundError, match="job 'j1' does not exist"):
        jobs_api.get_job(services, "j1")


def test_cancelling_an_unknown_job_is_not_found(services: Services) -> None:
    with pytest.raises(NotFoundError):
        jobs_api.cancel_job(services, "nope")


def test_reschedule_moves_a_pending_job_to_its_new_expiration(
    services: Services,
) -> None:
    jobs_api.create_job(services, _job())
    later = "2030-01-02T00:00:00Z"
    moved = jobs_api.reschedule_job(services, "j1", {"expirationTime": later})
    assert moved.expiration_time.isoformat() == "2030-01-02T00:00:00+00:00"


def test_a_job_create_event_schedules_and_a_job_delete_event_cancels(
    services: Services,
) -> None:
    jobs_api.handle_job_event(services, _event(types.JOB_CREATE, _job()))
    created = jobs_api.get_job(services, "j1")
    jobs_api.handle_job_event(services, _event(types.JOB_DELETE, {"id": "j1"}))
    assert created.id == "j1"
    with pytest.raises(NotFoundError):
        jobs_api.get_job(services, "j1")


def test_a_job_delete_event_for_an_unknown_job_is_acknowledged(
    services: Services,
) -> None:
    jobs_api.handle_job_event(services, _event(types.JOB_DELETE, {"id": "ghost"}))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], "must be a JSON object"),
        ({"schedule": {}}, "needs a non-empty 'id'"),
        (_job(schedule={"type": "cron", "expression": "* * * * *"}), "only timer"),
        (_job(schedule={"type": "timer", "startTime": "tomorrow"}), "date-time"),
        (_job(recipient={"type": "kafka"}), "not supported"),
        (_job(recipient={"type": "http"}), "'recipient.url' must be a non-empty URL"),
        (_job(recipient={"type": "sink", "sinkUrl": "http://x"}), "ce-type"),
        (
            _job(executionTimeout=1, executionTimeoutUnit="WEEKS"),
            "executionTimeoutUnit",
        ),
        (_job(retry={"maxRetries": "many"}), "must be a whole number"),
    ],
    ids=[
        "not-object",
        "no-id",
        "cron",
        "bad-start",
        "kafka",
        "http-no-url",
        "sink-no-type",
        "bad-unit",
        "bad-retry",
    ],
)
def test_an_invalid_job_is_refused_with_the_reason(body: Any, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        job_json.parse_job(body, Settings())


def test_the_retry_policy_defaults_to_the_job_service_one_second_back_off(
    services: Services,
) -> None:
    row = jobs_api.create_job(services, _job(retry=None))
    policy = jobs_api.retry_policy(row)
    assert (policy.max_retries, policy.delay, policy.max_duration) == (
        3,
        timedelta(seconds=1),
        timedelta(seconds=60),
    )


def _event(event_type: str, data: Any) -> Event:
    return Event(id="e1", source="/test", type=event_type, data=data)
