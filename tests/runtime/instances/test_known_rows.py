"""A call's result applied to the row as this process committed it, or as stored when it changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from psycopg_pool import ConnectionPool

from knflow.engine.outcome import InstanceStatus
from knflow.runtime.instances import after_commit, transaction
from knflow.runtime.instances.creating import NewInstance, create_instance
from knflow.runtime.instances.work import CallPolicy, PendingCall
from knflow.runtime.services import Services, system_clock
from knflow.store import db, instances
from knflow.store.instances import InstanceRow
from tests.peers import HttpPeer, Reply
from tests.runtime.job_harness import GREET, register, services_for


@pytest.fixture
def services(pool: ConnectionPool, http_peer: HttpPeer) -> Iterator[Services]:
    http_peer.route("POST", "/greet", Reply(body={"greeting": "hi"}))
    with services_for(
        pool, system_clock, function_urls={"greet": http_peer.url}
    ) as built:
        register(built, GREET)
        yield built


def _claimed(services: Services) -> tuple[PendingCall, InstanceRow]:
    """Start a greet instance; return its claimed call and its row as committed."""
    with transaction.unit_of_work(services, calls=CallPolicy.KEEP_FIRST) as work:
        row = create_instance(work, NewInstance(workflow_id="greet", data={}))
    [call] = work.after_commit.calls
    return call, work.after_commit.committed[row.id]


def _stored(services: Services, instance_id: str) -> InstanceRow:
    with db.transaction(services.pool) as conn:
        row = instances.get(conn, instance_id)
    assert row is not None
    return row


def _renew(services: Services, call: PendingCall) -> None:
    """Move the call's claim forward, as a heartbeat (of any process) does."""
    assert call.claimed_until is not None
    with db.transaction(services.pool) as conn:
        assert instances.renew_call_claim(
            conn,
            call.instance_id,
            thread_id=call.thread_id,
            key=call.key,
            held_until=call.claimed_until,
            claimed_until=call.claimed_until + timedelta(minutes=1),
        )


def test_a_result_applies_to_the_committed_row_when_nothing_changed_it(
    services: Services,
) -> None:
    call, committed = _claimed(services)

    after_commit.complete_call(services, call, known=committed)

    stored = _stored(services, call.instance_id)
    assert (stored.status, stored.revision) == (
        InstanceStatus.COMPLETED,
        committed.revision + 1,
    )
    assert stored.data == {"greeting": "hi"}


def test_a_result_applies_to_the_stored_row_when_a_renewal_changed_it(
    services: Services,
) -> None:
    call, committed = _claimed(services)
    _renew(services, call)

    after_commit.complete_call(services, call, known=committed)

    stored = _stored(services, call.instance_id)
    assert (stored.status, stored.revision) == (
        InstanceStatus.COMPLETED,
        committed.revision + 2,
    )
    assert stored.data == {"greeting": "hi"}


def test_a_result_for_a_row_that_moved_on_is_applied_once(
    services: Services, http_peer: HttpPeer
) -> None:
    call, committed = _claimed(services)
    after_commit.complete_call(services, call, known=committed)

    after_commit.complete_call(services, call, known=committed)

    stored = _stored(services, call.instance_id)
    assert (stored.status, stored.revision) == (
        InstanceStatus.COMPLETED,
        committed.revision + 1,
    )
    assert len(http_peer.received("POST", "/greet")) == 2
