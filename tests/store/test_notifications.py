"""The notification delivery log against a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from knflow.store import db, notifications
from knflow.store.notifications import Channel, DeliveryStatus, SendOutcome
from tests.runtime.notify.ended_runs import store_run

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=40)
BODY = {"recipients": {"type": "broadcast"}, "payload": {"title": "hello"}}


@pytest.fixture
def conn(pool: db.Pool):
    with db.transaction(pool) as connection:
        yield connection


def _insert(
    conn,
    event_id: str = "ev-1",
    channel: Channel = Channel.BACKSTAGE,
    body=BODY,
    now: datetime = NOW,
):
    notifications.insert_delivery(
        conn,
        event_id=event_id,
        channel=channel,
        event_type="knflow.notification.requested",
        instance_id="inst-1",
        workflow_id="greet",
        body=body,
        now=now,
        retry_at=now + LEASE,
    )


def _claim(conn, now: datetime = NOW, event_id: str = "ev-1"):
    return notifications.start_attempt(
        conn, event_id, Channel.BACKSTAGE, now=now, lease_until=now + LEASE
    )


def _fail(conn, *, retry_at: datetime | None, event_id: str = "ev-1", attempt=1):
    notifications.finish_attempt(
        conn,
        event_id,
        Channel.BACKSTAGE,
        attempt=attempt,
        status=DeliveryStatus.FAILED,
        outcome=SendOutcome.UNAVAILABLE,
        last_error="503",
        now=NOW,
        retry_at=retry_at,
    )


def test_inserted_delivery_is_pending_with_its_body(conn) -> None:
    _insert(conn)

    found = notifications.get_delivery(conn, "ev-1", Channel.BACKSTAGE)

    assert found is not None
    assert (found.status, found.attempts, found.body) == (
        DeliveryStatus.PENDING,
        0,
        BODY,
    )
    assert (found.instance_id, found.workflow_id) == ("inst-1", "greet")
    assert found.created_at == NOW


def test_inserting_a_delivery_twice_keeps_the_first_row(conn) -> None:
    _insert(conn)
    _insert(conn, body={"other": True})

    found = notifications.get_delivery(conn, "ev-1", Channel.BACKSTAGE)

    assert found is not None
    assert found.body == BODY


def test_start_attempt_claims_the_row_and_counts_the_attempt(conn) -> None:
    _insert(conn)

    claimed = _claim(conn)

    assert claimed is not None
    assert (claimed.status, claimed.attempts) == (DeliveryStatus.SENDING, 1)
    assert claimed.lease_until == NOW + LEASE


def test_start_attempt_refuses_a_row_whose_claim_is_live(conn) -> None:
    _insert(conn)
    _claim(conn)

    assert _claim(conn, NOW + LEASE - timedelta(seconds=1)) is None


def test_start_attempt_takes_over_a_claim_whose_lease_ran_out(conn) -> None:
    _insert(conn)
    _claim(conn)

    claimed = _claim(conn, NOW + LEASE)

    assert claimed is not None
    assert claimed.attempts == 2


def test_start_attempt_claims_a_failed_row_once_its_back_off_passed(conn) -> None:
    _insert(conn)
    _claim(conn)
    _fail(conn, retry_at=NOW + timedelta(seconds=4))

    claimed = _claim(conn, NOW + timedelta(seconds=4))

    assert claimed is not None
    assert (claimed.attempts, claimed.last_error, claimed.retry_at) == (2, "503", None)


def test_start_attempt_leaves_a_failed_row_inside_its_back_off_uncounted(conn) -> None:
    _insert(conn)
    _claim(conn)
    _fail(conn, retry_at=NOW + timedelta(seconds=4))

    claimed = _claim(conn, NOW + timedelta(seconds=3))

    found = notifications.get_delivery(conn, "ev-1", Channel.BACKSTAGE)
    assert claimed is None
    assert found is not None
    assert (found.status, found.attempts) == (DeliveryStatus.FAILED, 1)


def test_start_attempt_treats_a_failed_row_without_retry_time_as_due(conn) -> None:
    _insert(conn)
    _claim(conn)
    _fail(conn, retry_at=None)

    assert _claim(conn) is not None


def test_finish_attempt_marks_sent_and_a_sent_row_is_never_claimed(conn) -> None:
    _insert(conn)
    _claim(conn)

    finished = notifications.finish_attempt(
        conn,
        "ev-1",
        Channel.BACKSTAGE,
        attempt=1,
        status=DeliveryStatus.SENT,
        outcome=SendOutcome.NO_RECIPIENTS,
        last_error=None,
        now=NOW + timedelta(seconds=1),
        recipient_count=0,
    )

    found = notifications.get_delivery(conn, "ev-1", Channel.BACKSTAGE)
    assert finished is True
    assert found is not None
    assert (found.status, found.sent_at, found.lease_until) == (
        DeliveryStatus.SENT,
        NOW + timedelta(seconds=1),
        None,
    )
    assert (found.outcome, found.recipient_count) == (SendOutcome.NO_RECIPIENTS, 0)
    assert _claim(conn, NOW + timedelta(hours=1)) is None


def test_finish_attempt_of_an_attempt_that_lost_its_claim_changes_nothing(conn) -> None:
    _insert(conn)
    _claim(conn)
    _claim(conn, NOW + LEASE)

    finished = notifications.finish_attempt(
        conn,
        "ev-1",
        Channel.BACKSTAGE,
        attempt=1,
        status=DeliveryStatus.FAILED,
        outcome=SendOutcome.UNAVAILABLE,
        last_error="late",
        now=NOW + LEASE,
    )

    found = notifications.get_delivery(conn, "ev-1", Channel.BACKSTAGE)
    assert finished is False
    assert found is not None
    assert (found.status, found.attempts) == (DeliveryStatus.SENDING, 2)


def test_record_refusal_logs_the_event_once_on_the_intake_channel(conn) -> None:
    for reason in ("notification has no recipients", "second"):
        notifications.record_refusal(
            conn,
            event_id="ev-bad",
            event_type="knflow.notification.requested",
            instance_id=None,
            workflow_id=None,
            data={"payload": {}},
            reason=reason,
            now=NOW,
        )

    found = notifications.get_delivery(conn, "ev-bad", Channel.INTAKE)

    assert found is not None
    assert (found.status, found.last_error, found.body) == (
        DeliveryStatus.REFUSED,
        "notification has no recipients",
        {"payload": {}},
    )


def test_record_refusal_keeps_event_data_that_is_json_null(conn) -> None:
    notifications.record_refusal(
        conn,
        event_id="ev-null",
        event_type="knflow.notification.requested",
        instance_id=None,
        workflow_id=None,
        data=None,
        reason="no data",
        now=NOW,
    )

    found = notifications.get_delivery(conn, "ev-null", Channel.INTAKE)

    assert found is not None
    assert found.body is None


def test_list_deliveries_returns_every_channel_of_one_event(conn) -> None:
    _insert(conn, channel=Channel.WEBHOOK)
    _insert(conn, channel=Channel.BACKSTAGE)
    _insert(conn, event_id="ev-2")

    found = notifications.list_deliveries(conn, "ev-1")

    assert [delivery.channel for delivery in found] == [
        Channel.BACKSTAGE,
        Channel.WEBHOOK,
    ]


def test_get_delivery_of_an_unknown_event_is_none(conn) -> None:
    assert notifications.get_delivery(conn, "nope", Channel.BACKSTAGE) is None


def test_find_ended_instance_reads_initiator_error_and_definition_settings(
    conn,
) -> None:
    store_run(
        conn,
        variables={"initiatorEntity": "user:default/ana"},
        status="ERROR",
        error_message="boom",
        metadata={"k": "v"},
        annotations=["a"],
    )

    found = notifications.find_ended_instance(conn, "inst-1")

    assert found == notifications.EndedInstance(
        instance_id="inst-1",
        workflow_id="greet",
        workflow_name="Greeting",
        initiator="user:default/ana",
        error_message="boom",
        metadata={"k": "v"},
        annotations=["a"],
    )


def test_find_ended_instance_of_an_unknown_instance_is_none(conn) -> None:
    assert notifications.find_ended_instance(conn, "nope") is None


def test_list_stalled_returns_due_rows_and_dead_claims_longest_waiting_first(
    conn,
) -> None:
    for event_id in ("ev-due", "ev-later", "ev-claimed"):
        _insert(conn, event_id=event_id)
        _claim(conn, event_id=event_id)
    _fail(conn, event_id="ev-due", retry_at=NOW + timedelta(seconds=5))
    _fail(conn, event_id="ev-later", retry_at=NOW + LEASE + timedelta(seconds=1))
    _insert(conn, event_id="ev-unclaimed", now=NOW - timedelta(seconds=1))

    stalled = notifications.list_stalled(conn, now=NOW + LEASE, limit=10)

    assert [delivery.event_id for delivery in stalled] == [
        "ev-due",
        "ev-unclaimed",
        "ev-claimed",
    ]


def test_list_stalled_ignores_finished_and_live_rows(conn) -> None:
    _insert(conn)
    _claim(conn)

    assert notifications.list_stalled(conn, now=NOW, limit=10) == []


def test_list_stalled_leaves_a_fresh_unclaimed_row_to_its_own_delivery(conn) -> None:
    _insert(conn)

    assert notifications.list_stalled(conn, now=NOW + LEASE / 2, limit=10) == []


def test_expire_deliveries_kills_old_unsent_rows_and_spares_the_rest(conn) -> None:
    cutoff = NOW - timedelta(hours=1)
    _insert(conn, event_id="ev-old-failed", now=cutoff)
    _claim(conn, event_id="ev-old-failed")
    _fail(conn, event_id="ev-old-failed", retry_at=NOW + timedelta(minutes=5))
    _insert(conn, event_id="ev-old-pending", now=cutoff)
    _insert(conn, event_id="ev-old-claimed", now=cutoff)
    _claim(conn, event_id="ev-old-claimed")
    _insert(conn, event_id="ev-young", now=cutoff + timedelta(seconds=1))

    expired = notifications.expire_deliveries(conn, created_before=cutoff, now=NOW)

    assert sorted(d.event_id for d in expired) == ["ev-old-failed", "ev-old-pending"]
    assert {d.status for d in expired} == {DeliveryStatus.DEAD}
    assert expired[0].retry_at is None
