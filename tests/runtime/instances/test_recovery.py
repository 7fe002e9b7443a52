"""The sweep: re-drives stalled instances and lost timer wake-ups, and says when to look again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from psycopg_pool import ConnectionPool

from knflow.events import types
from knflow.runtime.instances import recovery
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import starting
from tests.peers import HttpPeer, Reply
from tests.runtime.job_harness import (
    NAPPER,
    Clock,
    register,
    services_for,
)

LONG_NAP = {
    **NAPPER,
    "id": "longnap",
    "states": [{**NAPPER["states"][0], "duration": "PT1H"}, NAPPER["states"][1]],  # type: ignore[index]
}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(
    pool: ConnectionPool, clock: Clock, http_peer: HttpPeer
) -> Iterator[Services]:
    """Services whose broker accepts every event (so nothing stays unsent)."""
    http_peer.route("POST", "/broker", Reply(202))
    with services_for(pool, clock, k_sink=f"{http_peer.url}/broker") as built:
        yield built


def _start(services: Services, workflow_id: str) -> None:
    starting.start_instance(
        services, starting.StartRequest(workflow_id=workflow_id, data={})
    )


def test_a_cluster_with_nothing_in_flight_needs_no_further_sweep(
    services: Services,
) -> None:
    assert recovery.sweep(services) is None


def test_a_timer_due_soon_is_looked_at_just_after_its_time(
    services: Services,
) -> None:
    register(services, NAPPER)
    _start(services, "napper")  # sleeps 2 s
    assert recovery.sweep(services) == timedelta(seconds=2) + recovery.TIMER_GRACE


def test_an_instance_asleep_for_an_hour_keeps_nobody_sweeping(
    services: Services,
) -> None:
    register(services, LONG_NAP)
    _start(services, "longnap")
    assert recovery.sweep(services) is None


def test_a_timer_past_its_time_wakes_job_trigger_again(
    services: Services, clock: Clock, http_peer: HttpPeer
) -> None:
    register(services, NAPPER)
    _start(services, "napper")
    clock.advance(seconds=3)
    on_time = recovery.wake_for_lost_timers(services)
    clock.advance(seconds=2)
    late = recovery.wake_for_lost_timers(services)
    again = recovery.wake_for_lost_timers(services)
    assert (on_time, late, again) == (0, 1, 0)  # one wake-up per re-drive period
    assert len(_sent(http_peer, types.JOB_SCHEDULED)) == 1  # the timer's own wake-up
    recovery.sweep(services)  # publishes the queued one
    assert len(_sent(http_peer, types.JOB_SCHEDULED)) == 2


def _sent(broker: HttpPeer, event_type: str) -> list[str]:
    return [
        r.headers["ce-id"]
        for r in broker.received("POST", "/broker")
        if r.headers.get("ce-type") == event_type
    ]
