"""The reconcile: lost step events and expired call claims are re-driven, stuck events re-sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from knflow.events import codec, types
from knflow.events.codec import Event
from knflow.runtime.instances import publishing, transaction
from knflow.runtime.instances.creating import NewInstance, create_instance
from knflow.runtime.instances.work import CallPolicy
from knflow.runtime.job_trigger import reconcile
from knflow.runtime.services import Services
from knflow.runtime.step_executor import steps
from knflow.store import db, instances, outbox
from tests.peers import HttpPeer, Reply
from tests.runtime.job_harness import (
    GREET,
    NAPPER,
    Clock,
    register,
    services_for,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def broker(http_peer: HttpPeer) -> HttpPeer:
    """A broker that accepts every event and delivers none (the events are lost)."""
    http_peer.route("POST", "/broker", Reply(202))
    http_peer.route("POST", "/greet", Reply(200, {"greeting": "hi"}))
    return http_peer


@pytest.fixture
def services(
    pool: ConnectionPool, clock: Clock, broker: HttpPeer
) -> Iterator[Services]:
    with services_for(
        pool, clock, k_sink=f"{broker.url}/broker", function_urls={"greet": broker.url}
    ) as built:
        yield built


def _crash_after_commit(
    services: Services, document: dict[str, Any], *, calls: CallPolicy
) -> str:
    """Start an instance and stop right after its commit, as if the process died."""
    register(services, document)
    with transaction.unit_of_work(services, calls=calls) as work:
        row = create_instance(work, NewInstance(workflow_id=document["id"], data={}))
    publishing.publish(services, work.after_commit.outgoing)
    return row.id


def _step_events(broker: HttpPeer) -> list[Event]:
    events = [
        codec.from_http(r.headers, r.body) for r in broker.received("POST", "/broker")
    ]
    return [e for e in events if e.type == types.STEP_READY]


def _status(services: Services, instance_id: str) -> str:
    with db.transaction(services.pool) as conn:
        view = instances.status_of(conn, instance_id)
    assert view is not None
    return view.status


def test_a_lost_step_event_is_sent_again_with_a_new_id_and_completes_the_instance(
    services: Services, clock: Clock, broker: HttpPeer
) -> None:
    instance_id = _crash_after_commit(services, GREET, calls=CallPolicy.HAND_OVER)
    [lost] = _step_events(broker)
    clock.advance(seconds=31)
    done = reconcile.run(services)
    [_, resent] = _step_events(broker)
    steps.run_step(services, resent)
    assert done.redriven == 1
    assert resent.id != lost.id
    assert resent.data == lost.data
    assert _status(services, instance_id) == "COMPLETED"


def test_a_call_whose_claim_expired_is_re_driven(
    services: Services, clock: Clock, broker: HttpPeer
) -> None:
    instance_id = _crash_after_commit(services, GREET, calls=CallPolicy.KEEP_FIRST)
    clock.advance(seconds=5)  # the claim lease is 6 s
    while_claimed = reconcile.run(services)
    clock.advance(seconds=2)
    expired = reconcile.run(services)
    [resent] = _step_events(broker)
    steps.run_step(services, resent)
    assert (while_claimed.redriven, expired.redriven) == (0, 1)
    assert _status(services, instance_id) == "COMPLETED"


def test_a_recent_or_waiting_instance_is_not_re_driven(
    services: Services, clock: Clock
) -> None:
    _crash_after_commit(services, GREET, calls=CallPolicy.HAND_OVER)
    _crash_after_commit(services, NAPPER, calls=CallPolicy.HAND_OVER)
    clock.advance(seconds=4)  # re-driven after 5 s without progress
    recent = reconcile.redrive_stalled(services)
    clock.advance(minutes=10)
    later = reconcile.redrive_stalled(services)
    assert (recent, later) == (0, 1)


def test_reconciling_twice_in_one_period_queues_one_event(
    services: Services, clock: Clock
) -> None:
    _crash_after_commit(services, GREET, calls=CallPolicy.HAND_OVER)
    clock.advance(minutes=1)
    first = reconcile.redrive_stalled(services)
    second = reconcile.redrive_stalled(services)
    assert (first, second) == (1, 0)


def test_events_the_broker_refused_are_published_by_the_next_reconcile(
    services: Services, clock: Clock, broker: HttpPeer
) -> None:
    broker.queue("POST", "/broker", Reply(503))
    _crash_after_commit(services, GREET, calls=CallPolicy.HAND_OVER)
    before = _unsent(services)
    clock.advance(seconds=2)
    done = reconcile.run(services)
    assert before >= 1
    assert done.published == before
    assert _unsent(services) == 0


def _unsent(services: Services) -> int:
    with db.transaction(services.pool) as conn:
        return outbox.unsent_count(conn)
