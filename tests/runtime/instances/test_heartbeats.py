"""A call in flight keeps its short claim by heartbeat, so no sweep takes it from a live executor."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from psycopg_pool import ConnectionPool

from knflow.runtime.instances import after_commit, recovery, transaction
from knflow.runtime.instances.creating import NewInstance, create_instance
from knflow.runtime.instances.work import CallPolicy
from knflow.runtime.services import Services, system_clock
from knflow.store import db, instances
from tests.peers import HttpPeer, Recorded, Reply
from tests.runtime.job_harness import GREET, register, services_for
from tests.waiting import eventually

LEASE = timedelta(milliseconds=600)


@pytest.fixture
def services(pool: ConnectionPool, http_peer: HttpPeer) -> Iterator[Services]:
    with services_for(
        pool,
        system_clock,
        claim_lease=LEASE,
        redrive_after=timedelta(0),
        function_urls={"greet": http_peer.url},
    ) as built:
        yield built


def _claimed_until(services: Services, instance_id: str) -> datetime:
    with db.transaction(services.pool) as conn:
        row = instances.get(conn, instance_id)
    assert row is not None
    wait = row.execution["threads"]["main"]["wait"]  # type: ignore[index, call-overload]
    return datetime.fromisoformat(wait["claimed_until"])


def test_a_call_longer_than_the_lease_keeps_its_claim_and_is_not_re_driven(
    services: Services, http_peer: HttpPeer
) -> None:
    release = threading.Event()

    def slow(request: Recorded) -> Reply:
        release.wait(30)
        return Reply(body={"greeting": "hi"})

    http_peer.route("POST", "/greet", slow)
    register(services, GREET)
    with transaction.unit_of_work(services, calls=CallPolicy.KEEP_FIRST) as work:
        row = create_instance(work, NewInstance(workflow_id="greet", data={}))
    [call] = work.after_commit.calls
    assert call.claimed_until is not None
    runner = threading.Thread(
        target=after_commit.carry_out, args=(services, work.after_commit)
    )
    runner.start()
    http_peer.wait_for(1, method="POST")
    eventually(
        lambda: _claimed_until(services, row.id),
        lambda until: until > call.claimed_until + 2 * LEASE,  # type: ignore[operator]
        timeout=10,
    )
    redriven = recovery.redrive_stalled(services)
    release.set()
    runner.join(30)
    assert redriven.queued == 0
    assert redriven.next_expiry is not None  # the sweep looks again when the claim ends
    assert redriven.next_expiry > call.claimed_until + 2 * LEASE
    assert len(http_peer.received("POST", "/greet")) == 1
