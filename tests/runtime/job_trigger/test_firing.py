"""Firing jobs: instance timers, http and sink recipients, retries, repeats, concurrent firers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from knflow.events import codec
from knflow.runtime.job_trigger import firing, jobs_api
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import management, starting
from knflow.store import db, instances, jobs
from knflow.store.jobs import JobStatus
from tests.peers import HttpPeer, Recorded, Reply
from tests.runtime.job_harness import (
    NAPPER,
    T0,
    Clock,
    job_statuses,
    register,
    services_for,
    unsent_events,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(pool: ConnectionPool, clock: Clock) -> Iterator[Services]:
    with services_for(pool, clock) as built:
        yield built


def _http_job(peer: HttpPeer, job_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "correlationId": f"corr-{job_id}",
        "schedule": {"type": "timer", "startTime": T0.isoformat()},
        "recipient": {
            "type": "http",
            "url": f"{peer.url}/hook/{job_id}",
            "method": "PUT",
            "headers": {"x-token": "t1"},
            "queryParams": {"q": "1"},
            "payload": {"type": "json", "data": {"job": job_id}},
        },
        **extra,
    }


def _job(services: Services, job_id: str) -> jobs.JobRow:
    with db.transaction(services.pool) as conn:
        row = jobs.get(conn, job_id)
    assert row is not None
    return row


def test_a_sleep_timer_resumes_its_instance_when_due_and_not_before(
    services: Services, clock: Clock
) -> None:
    register(services, NAPPER)
    row = starting.start_instance(
        services,
        starting.StartRequest(workflow_id="napper", data={}, variables={}, headers={}),
    )
    early = firing.fire_due(services)
    clock.advance(seconds=2)
    on_time = firing.fire_due(services)
    with db.transaction(services.pool) as conn:
        view = instances.status_of(conn, row.id)
    assert (early, on_time) == (0, 1)
    assert view is not None
    assert (view.status, view.data) == ("COMPLETED", {"rested": True})


def test_an_instance_timer_is_announced_scheduled_then_executed(
    services: Services, clock: Clock, pool: ConnectionPool
) -> None:
    register(services, NAPPER)
    row = starting.start_instance(
        services,
        starting.StartRequest(workflow_id="napper", data={}, variables={}, headers={}),
    )
    clock.advance(seconds=2)
    firing.fire_due(services)
    announced = [
        (e["data"]["status"], e["data"]["executionCounter"], e["kogitoprocinstanceid"])
        for e in unsent_events(pool, "JobEvent")
    ]
    assert announced == [("SCHEDULED", 0, row.id), ("EXECUTED", 1, row.id)]


def test_aborting_an_instance_cancels_and_announces_its_timer(
    services: Services, clock: Clock, pool: ConnectionPool
) -> None:
    register(services, NAPPER)
    row = starting.start_instance(
        services,
        starting.StartRequest(workflow_id="napper", data={}, variables={}, headers={}),
    )
    management.abort(services, "napper", row.id)
    clock.advance(seconds=2)
    fired = firing.fire_due(services)
    statuses = [e["data"]["status"] for e in unsent_events(pool, "JobEvent")]
    assert fired == 0
    assert statuses == ["SCHEDULED", "CANCELED"]


def test_an_http_recipient_is_called_with_its_method_headers_query_and_payload(
    services: Services, http_peer: HttpPeer, pool: ConnectionPool
) -> None:
    http_peer.route("PUT", "/hook/j1", Reply(200, {"ok": True}))
    jobs_api.create_job(services, _http_job(http_peer, "j1"))
    fired = firing.fire_due(services)
    [call] = http_peer.received("PUT")
    assert fired == 1
    assert call.path == "/hook/j1?q=1"
    assert call.headers["x-token"] == "t1"
    assert call.json() == {"job": "j1"}
    assert job_statuses(pool, "j1") == ["SCHEDULED", "EXECUTED"]
    assert _job(services, "j1").status == "EXECUTED"


def test_a_failing_http_recipient_is_retried_with_back_off_then_errors(
    services: Services, clock: Clock, http_peer: HttpPeer, pool: ConnectionPool
) -> None:
    http_peer.route("PUT", "/hook/j1", Reply(500, {"error": "down"}))
    jobs_api.create_job(services, _http_job(http_peer, "j1", retry={"maxRetries": 2}))
    firing.fire_due(services)
    first_retry = _job(services, "j1").expiration_time
    clock.now = first_retry
    firing.fire_due(services)
    second_retry = _job(services, "j1").expiration_time
    clock.now = second_retry
    firing.fire_due(services)
    assert (first_retry - T0, second_retry - first_retry) == (
        timedelta(seconds=1),
        timedelta(seconds=2),
    )
    assert len(http_peer.received("PUT")) == 3
    assert job_statuses(pool, "j1") == ["SCHEDULED", "RETRY", "RETRY", "ERROR"]
    assert "answered 500" in (_job(services, "j1").last_error or "")


def test_a_repeating_timer_fires_one_plus_repeat_count_times(
    services: Services, clock: Clock, http_peer: HttpPeer
) -> None:
    http_peer.route("PUT", "/hook/j1", Reply(200))
    body = _http_job(http_peer, "j1")
    body["schedule"].update(repeatCount=2, delay=1, delayUnit="SECONDS")
    jobs_api.create_job(services, body)
    for _ in range(4):
        firing.fire_due(services)
        clock.advance(seconds=1)
    job = _job(services, "j1")
    assert len(http_peer.received("PUT")) == 3
    assert (job.status, job.execution_counter) == ("EXECUTED", 3)


def test_a_sink_recipient_without_url_queues_its_cloudevent_in_the_outbox(
    services: Services, pool: ConnectionPool
) -> None:
    jobs_api.create_job(
        services,
        {
            "id": "s1",
            "correlationId": "c",
            "schedule": {"type": "timer", "startTime": T0.isoformat()},
            "recipient": {
                "type": "sink",
                "ce-type": "reminder.due",
                "ce-source": "/reminders",
                "payload": {"type": "json", "data": {"n": 1}},
            },
        },
    )
    firing.fire_due(services)
    [event] = unsent_events(pool, "reminder.due")
    assert (event["source"], event["data"], event["limit"]) == (
        "/reminders",
        {"n": 1},
        "0",
    )
    assert job_statuses(pool, "s1") == ["SCHEDULED", "EXECUTED"]


def test_a_sink_recipient_with_its_own_url_receives_a_binary_cloudevent(
    services: Services, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/sink", Reply(202))
    jobs_api.create_job(
        services,
        {
            "id": "s1",
            "correlationId": "c",
            "schedule": {"type": "timer", "startTime": T0.isoformat()},
            "recipient": {
                "type": "sink",
                "sinkUrl": f"{http_peer.url}/sink",
                "ce-type": "reminder.due",
                "payload": {"type": "json", "data": {"n": 1}},
            },
        },
    )
    firing.fire_due(services)
    [request] = http_peer.received("POST", "/sink")
    event = codec.from_http(request.headers, request.body)
    assert (event.type, event.data) == ("reminder.due", {"n": 1})
    assert _job(services, "s1").status == "EXECUTED"


def test_a_job_left_running_by_a_dead_firer_fires_again_after_its_lease(
    services: Services, clock: Clock, http_peer: HttpPeer
) -> None:
    http_peer.route("PUT", "/hook/j1", Reply(200))
    jobs_api.create_job(services, _http_job(http_peer, "j1"))
    with db.transaction(services.pool) as conn:
        claimed = jobs.claim_due(conn, now=T0)[0]
        jobs.set_status(
            conn,
            claimed,
            status=JobStatus.RUNNING,
            now=T0,
            expiration_time=T0 + timedelta(seconds=60),
            occurrence_at=T0,
        )
    during = firing.fire_due(services)
    clock.advance(seconds=60)
    after = firing.fire_due(services)
    assert (during, after) == (0, 1)
    assert len(http_peer.received("PUT")) == 1


def test_two_concurrent_firers_never_fire_a_job_twice(
    services: Services, http_peer: HttpPeer
) -> None:
    http_peer.route("PUT", "/hook/*", Reply(200))
    for n in range(20):
        jobs_api.create_job(services, _http_job(http_peer, f"j{n}"))
    counts: list[int] = []
    firers = [
        threading.Thread(target=lambda fire=fire: counts.append(fire(services)))
        for fire in (firing.fire_due, firing.fire_due_concurrently)
    ]
    for firer in firers:
        firer.start()
    for firer in firers:
        firer.join(timeout=30)
    paths = sorted(r.path.split("?")[0] for r in http_peer.received("PUT"))
    assert sum(counts) == 20
    assert paths == sorted(f"/hook/j{n}" for n in range(20))


def test_a_start_of_an_unregistered_workflow_is_skipped_without_blocking_others(
    services: Services, clock: Clock, pool: ConnectionPool
) -> None:
    with db.transaction(pool) as conn:
        jobs.upsert(
            conn,
            job_id="orphan",
            due=T0,
            now=T0,
            recipient={"type": "start", "workflowId": "ghost"},
        )
    register(services, NAPPER)
    starting.start_instance(
        services,
        starting.StartRequest(workflow_id="napper", data={}, variables={}, headers={}),
    )
    clock.advance(seconds=2)
    fired = firing.fire_due(services)
    assert fired == 2
    assert _job(services, "orphan").status == "EXECUTED"


def test_a_burst_of_due_timers_is_fired_a_batch_per_transaction(
    services: Services, clock: Clock
) -> None:
    register(services, NAPPER)
    started = [
        starting.start_instance(
            services,
            starting.StartRequest(
                workflow_id="napper", data={}, variables={}, headers={}
            ),
        ).id
        for _ in range(20)
    ]
    clock.advance(seconds=2)

    assert firing.fire_batch(services, limit=16) == 16
    assert firing.fire_batch(services, limit=16) == 4
    assert firing.fire_batch(services, limit=16) == 0
    with db.transaction(services.pool) as conn:
        statuses = {instances.get(conn, i).status for i in started}  # type: ignore[union-attr]
    assert statuses == {"COMPLETED"}


def _start_nappers(services: Services, count: int) -> list[str]:
    register(services, NAPPER)
    request = starting.StartRequest(
        workflow_id="napper", data={}, variables={}, headers={}
    )
    return [starting.start_instance(services, request).id for _ in range(count)]


def test_a_first_batch_that_is_not_full_starts_no_firer(
    services: Services, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _start_nappers(services, 3)
    clock.advance(seconds=2)
    started_firers: list[int] = []
    monkeypatch.setattr(
        firing, "fire_due", lambda *_, **__: started_firers.append(1) or 0
    )

    assert firing.fire_due_concurrently(services) == 3
    assert started_firers == []


def test_a_full_first_batch_has_firers_fire_the_rest_of_the_burst(
    services: Services, clock: Clock
) -> None:
    started = _start_nappers(services, firing.BATCH + 5)
    clock.advance(seconds=2)

    assert firing.fire_due_concurrently(services) == len(started)
    with db.transaction(services.pool) as conn:
        statuses = {instances.get(conn, i).status for i in started}  # type: ignore[union-attr]
    assert statuses == {"COMPLETED"}


def test_a_trigger_claims_on_while_the_broker_takes_the_data_index_events(
    pool: ConnectionPool, clock: Clock, http_peer: HttpPeer
) -> None:
    broker_free = threading.Event()
    broker_free.set()

    def broker(_request: Recorded) -> Reply:
        broker_free.wait(timeout=10)
        return Reply(202)

    http_peer.route("POST", "/broker", broker)
    with services_for(pool, clock, k_sink=f"{http_peer.url}/broker") as services:
        _start_nappers(services, 3)
        clock.advance(seconds=2)
        broker_free.clear()
        started = time.monotonic()

        assert firing.fire_batch(services, carry_out=firing.Trigger().carry_out) == 3
        assert time.monotonic() - started < 5  # did not wait for the broker
        broker_free.set()
        _wait_for(lambda: len(_job_events_received(http_peer)) == 6)


def _job_events_received(peer: HttpPeer) -> list[Recorded]:
    """JobEvents posted to the broker: SCHEDULED at each start, EXECUTED at each firing."""
    return [
        r
        for r in peer.received("POST", "/broker")
        if r.headers.get("ce-type", r.headers.get("Ce-Type")) == "JobEvent"
    ]


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition not met within 10 s"
        time.sleep(0.05)
