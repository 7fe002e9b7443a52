"""The retention policy: each kind of finished record goes after its period, nothing else does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from knflow.config import Retention, Settings
from knflow.errors import InputError
from knflow.runtime.job_trigger import reconcile, retention
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import starting
from tests.runtime.job_harness import T0, Clock, register, services_for

PURE = {
    "id": "pure",
    "version": "1.0",
    "specVersion": "0.8",
    "start": "A",
    "states": [{"name": "A", "type": "inject", "data": {}, "end": True}],
}
DAY = timedelta(days=1)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(pool: ConnectionPool, clock: Clock) -> Iterator[Services]:
    with services_for(pool, clock) as built:
        register(built, PURE)
        yield built


def _instance(
    database_url: str,
    status: str,
    *,
    at: datetime,
    parent: str | None = None,
    root: str | None = None,
) -> str:
    """Write an instance row of `status` last changed `at`, with its Data Index records."""
    instance_id = str(uuid.uuid4())
    ended = at if status in ("COMPLETED", "ABORTED") else None
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO instances (id, workflow_id, workflow_version, status,"
            " parent_instance_id, root_instance_id, parent_key, started_at, updated_at,"
            " ended_at) VALUES (%s, 'pure', '1.0', %s, %s, %s, %s, %s, %s, %s)",
            (instance_id, status, parent, root, parent and instance_id, at, at, ended),
        )
        conn.execute(
            "INSERT INTO index_process_instances (id, process_id, state, start,"
            " last_update) VALUES (%s, 'pure', 2, %s, %s)",
            (instance_id, at, at),
        )
        conn.execute(
            "INSERT INTO index_node_instances (process_instance_id, id) VALUES (%s, 'n1')",
            (instance_id,),
        )
        conn.execute(
            "INSERT INTO jobs (id, status, expiration_time, recipient, instance_id,"
            " created_at, updated_at) VALUES (%s, 'EXECUTED', %s, '{}', %s, %s, %s)",
            (f"job-{instance_id}", at, instance_id, at, at),
        )
    return instance_id


def _ids(database_url: str, table: str, column: str = "id") -> set[Any]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(f"SELECT {column} FROM {table}").fetchall()
    return {row[0] for row in rows}


def test_ended_instances_go_after_their_period_with_their_records(
    services: Services, clock: Clock, database_url: str
) -> None:
    old = _instance(database_url, "COMPLETED", at=T0 - 8 * DAY)
    aborted = _instance(database_url, "ABORTED", at=T0 - 8 * DAY)
    recent = _instance(database_url, "COMPLETED", at=T0 - 6 * DAY)

    purged = retention.purge(services)

    assert purged.instances == 2
    assert _ids(database_url, "instances") == {recent}
    assert _ids(database_url, "index_process_instances") == {recent}
    assert _ids(database_url, "index_node_instances", "process_instance_id") == {recent}
    assert f"job-{old}" not in _ids(database_url, "jobs")
    assert f"job-{aborted}" not in _ids(database_url, "jobs")


def test_failed_instances_stay_longer_and_running_ones_stay(
    services: Services, database_url: str
) -> None:
    failed_recently = _instance(database_url, "ERROR", at=T0 - 20 * DAY)
    failed_long_ago = _instance(database_url, "ERROR", at=T0 - 31 * DAY)
    running = _instance(database_url, "ACTIVE", at=T0 - 365 * DAY)
    suspended = _instance(database_url, "SUSPENDED", at=T0 - 365 * DAY)

    retention.purge(services)

    remaining = _ids(database_url, "instances")
    assert failed_long_ago not in remaining
    assert {failed_recently, running, suspended} <= remaining


def test_a_tree_goes_whole_and_only_once_no_subflow_runs(
    services: Services, database_url: str
) -> None:
    ended_root = _instance(database_url, "COMPLETED", at=T0 - 9 * DAY)
    ended_child = _instance(
        database_url, "COMPLETED", at=T0 - 9 * DAY, parent=ended_root, root=ended_root
    )
    failed_root = _instance(database_url, "ERROR", at=T0 - 40 * DAY)
    running_child = _instance(
        database_url, "ACTIVE", at=T0 - 40 * DAY, parent=failed_root, root=failed_root
    )
    old_child_of_running = _instance(database_url, "ACTIVE", at=T0 - 40 * DAY)
    finished_grandchild = _instance(
        database_url,
        "COMPLETED",
        at=T0 - 40 * DAY,
        parent=old_child_of_running,
        root=old_child_of_running,
    )

    purged = retention.purge(services)

    remaining = _ids(database_url, "instances")
    assert purged.instances == 2
    assert ended_root not in remaining
    assert ended_child not in remaining
    assert {failed_root, running_child, old_child_of_running, finished_grandchild} <= (
        remaining
    )


def test_only_sent_events_go_from_the_outbox(
    services: Services, database_url: str
) -> None:
    with psycopg.connect(database_url) as conn:
        for event_id, sent_at in (
            ("sent-old", T0 - 2 * DAY),
            ("sent-recent", T0 - timedelta(hours=1)),
            ("unsent-old", None),
        ):
            conn.execute(
                "INSERT INTO outbox (event_id, event_type, event, created_at, sent_at)"
                " VALUES (%s, 't', '{}', %s, %s)",
                (event_id, T0 - 30 * DAY, sent_at),
            )

    assert retention.purge(services).sent_events == 1
    kept = _ids(database_url, "outbox", "event_id")
    assert {"sent-recent", "unsent-old"} <= kept
    assert "sent-old" not in kept


def test_received_events_go_after_their_period(
    services: Services, database_url: str
) -> None:
    with psycopg.connect(database_url) as conn:
        for event_id, received_at in (("old", T0 - 2 * DAY), ("new", T0 - DAY / 2)):
            conn.execute(
                "INSERT INTO received_events (event_id, event_source, event_type, event,"
                " received_at) VALUES (%s, 's', 't', '{}', %s)",
                (event_id, received_at),
            )

    assert retention.purge(services).received_events == 1
    assert _ids(database_url, "received_events", "event_id") == {"new"}


def test_finished_jobs_and_final_notifications_go_pending_ones_stay(
    services: Services, database_url: str
) -> None:
    long_ago = T0 - 8 * DAY
    with psycopg.connect(database_url) as conn:
        for job_id, status in (
            ("done", "EXECUTED"),
            ("canceled", "CANCELED"),
            ("due", "SCHEDULED"),
        ):
            conn.execute(
                "INSERT INTO jobs (id, status, expiration_time, recipient, created_at,"
                " updated_at) VALUES (%s, %s, %s, '{}', %s, %s)",
                (job_id, status, long_ago, long_ago, long_ago),
            )
        conn.execute("INSERT INTO index_jobs (id, status) VALUES ('done', 'EXECUTED')")
        for event_id, status in (
            ("sent", "SENT"),
            ("dead", "DEAD"),
            ("failing", "FAILED"),
        ):
            conn.execute(
                "INSERT INTO notification_deliveries (event_id, channel, event_type, body,"
                " status, created_at, updated_at) VALUES (%s, 'backstage', 't', %s, %s, %s, %s)",
                (event_id, Jsonb({}), status, long_ago, long_ago),
            )

    purged = retention.purge(services)

    assert (purged.finished_jobs, purged.notifications) == (2, 2)
    assert _ids(database_url, "jobs") == {"due"}
    assert _ids(database_url, "index_jobs") == set()
    assert _ids(database_url, "notification_deliveries", "event_id") == {"failing"}


def test_start_keys_past_their_window_are_forgotten(
    services: Services, clock: Clock
) -> None:
    request = starting.StartRequest(workflow_id="pure", data={}, idempotency_key="k")
    starting.start(services, request)
    clock.advance(hours=23)
    within = retention.purge(services).start_keys
    clock.advance(hours=2)
    past = retention.purge(services).start_keys
    assert (within, past) == (0, 1)


def test_forever_keeps_everything(
    services: Services, pool: ConnectionPool, clock: Clock, database_url: str
) -> None:
    keep_all = Retention(
        sent_events=None,
        received_events=None,
        ended_instances=None,
        failed_instances=None,
        finished_jobs=None,
        notifications=None,
        failed_tokens=None,
    )
    ended = _instance(database_url, "COMPLETED", at=T0 - 999 * DAY)
    with services_for(pool, clock, retention=keep_all) as keeping:
        assert retention.purge(keeping).total == 0
    assert ended in _ids(database_url, "instances")


def _sealed(database_url: str, instance_id: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO instance_tokens (instance_id, key_id, nonce, ciphertext,"
            " updated_at) VALUES (%s, 'k', 'n', 'c', %s)",
            (instance_id, T0),
        )


def test_a_failed_instance_loses_its_tokens_after_their_period_and_stays(
    services: Services, database_url: str
) -> None:
    old, recent, running = (
        _instance(database_url, "ERROR", at=T0 - 2 * DAY),
        _instance(database_url, "ERROR", at=T0 - DAY / 2),
        _instance(database_url, "ACTIVE", at=T0 - 9 * DAY),
    )
    for instance_id in (old, recent, running):
        _sealed(database_url, instance_id)

    assert retention.purge(services).failed_tokens == 1

    assert _ids(database_url, "instance_tokens", "instance_id") == {recent, running}
    assert old in _ids(database_url, "instances")


def test_a_tick_deletes_a_bounded_amount_and_the_next_ticks_drain_the_rest(
    services: Services, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)
    monkeypatch.setattr(retention, "MOST_PER_TICK", 3)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO received_events (event_id, event_source, event_type, event,"
            " received_at) SELECT n::text, 's', 't', '{}', %s FROM generate_series(1, 7) n",
            (T0 - 2 * DAY,),
        )

    counts = [retention.purge(services).received_events for _ in range(4)]

    assert counts == [4, 3, 0, 0]


def test_the_reconcile_tick_applies_the_policy(
    services: Services, database_url: str
) -> None:
    _instance(database_url, "COMPLETED", at=T0 - 8 * DAY)

    assert reconcile.run(services).purged == 1
    assert _ids(database_url, "instances") == set()
    assert _ids(database_url, "jobs") == set()


def test_periods_are_read_from_iso_durations_or_forever() -> None:
    settings = Settings.from_environment(
        {"KNFLOW_RETAIN_ENDED_INSTANCES": "P3D", "KNFLOW_RETAIN_SENT_EVENTS": "forever"}
    )

    assert settings.retention.ended_instances == timedelta(days=3)
    assert settings.retention.sent_events is None
    assert settings.retention.failed_instances == timedelta(days=30)


def test_failed_tokens_may_be_kept_for_no_time_at_all() -> None:
    settings = Settings.from_environment({"KNFLOW_RETAIN_FAILED_TOKENS": "PT0S"})

    assert settings.retention.failed_tokens == timedelta(0)


@pytest.mark.parametrize("value", ["7", "P1M", "PT0S", "soon"])
def test_a_bad_period_is_refused_naming_the_setting(value: str) -> None:
    with pytest.raises(InputError, match="KNFLOW_RETAIN_NOTIFICATIONS"):
        Settings.from_environment({"KNFLOW_RETAIN_NOTIFICATIONS": value})
