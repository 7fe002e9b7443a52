"""Attempts of a retriggered instance, reruns of an ended one and bulk retriggers, in process."""

from __future__ import annotations

import dataclasses
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from knflow.errors import ConflictError, InputError
from knflow.runtime.job_trigger import reconcile
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import management, registration, reruns, starting
from knflow.runtime.start_workflow.reruns import RetriggerOutcome
from knflow.store import db, index, instances
from knflow.store.instances import InstanceRow
from tests.conftest import TEST_DATA
from tests.issuer import TEST_TOKEN_KEY
from tests.peers import HttpPeer, Reply
from tests.runtime import runs

GITHUB = {"x-authorization-github": "ghp_first"}
STATE_NODE = "CompositeContextNode"


@pytest.fixture
def managed(services: Services, http_peer: HttpPeer, tmp_path: Path) -> Services:
    """Services that seal tokens, whose `greet` function is the peer, greetrest registered."""
    settings = dataclasses.replace(
        services.settings,
        function_urls={"greet": http_peer.url},
        token_keys=(TEST_TOKEN_KEY,),
        bulk_retrigger_rate=1000.0,
    )
    shutil.copy(TEST_DATA / "workflows" / "greet-rest.sw.json", tmp_path)
    with_peer = dataclasses.replace(services, settings=settings)
    registration.register_folder(with_peer, tmp_path)
    return with_peer


def _failing(http_peer: HttpPeer, times: int = 1) -> None:
    """The greet service fails `times` times, then answers."""
    for _ in range(times):
        http_peer.queue("POST", "/greet/en", Reply(status=500, body={}))
    http_peer.route("POST", "/greet/en", Reply(body={"greeting": "Hi"}))


def _start(services: Services, **variables: str) -> str:
    request = starting.StartRequest(
        workflow_id="greetrest",
        data={"language": "en"},
        variables=variables,
        tokens=GITHUB,
    )
    return starting.start_instance(services, request).id


def _row(services: Services, instance_id: str) -> InstanceRow:
    with services.pool.connection() as conn:
        row = instances.get(conn, instance_id)
    assert row is not None
    return row


def test_each_retrigger_numbers_a_new_attempt_in_the_data_index(
    managed: Services, http_peer: HttpPeer
) -> None:
    _failing(http_peer, times=2)
    instance_id = _start(managed)

    management.retrigger(managed, "greetrest", instance_id)
    management.retrigger(managed, "greetrest", instance_id)
    runs.finish(managed, instance_id)

    assert _row(managed, instance_id).variables["attempt"] == 3
    runs.index_outbox(managed)
    with db.transaction(managed.pool) as conn:
        indexed = index.get_instance(conn, instance_id)
        nodes = index.nodes_of(conn, [instance_id])
    assert indexed is not None
    assert indexed.variables["attempt"] == 3
    states = sorted((n for n in nodes if n.type == STATE_NODE), key=lambda n: n.enter)
    assert [(bool(n.retrigger), n.cancel_type) for n in states] == [
        (False, "ERROR"),
        (True, "ERROR"),
        (True, None),
    ]
    assert all(n.exit is not None for n in states)


def test_a_skip_resolves_the_error_without_a_new_attempt(
    managed: Services, http_peer: HttpPeer
) -> None:
    _failing(http_peer)
    instance_id = _start(managed)

    management.skip(managed, "greetrest", instance_id)

    assert "attempt" not in _row(managed, instance_id).variables


def test_a_failed_instance_keeps_its_tokens_for_its_retrigger(
    managed: Services, http_peer: HttpPeer
) -> None:
    _failing(http_peer)
    instance_id = _start(managed)

    management.retrigger(managed, "greetrest", instance_id)
    runs.finish(managed, instance_id)

    calls = http_peer.received("POST", "/greet/en")
    assert [c.headers.get("x-authorization-github") for c in calls] == [
        "ghp_first",
        "ghp_first",
    ]


def test_a_dropped_retention_forgets_a_failed_instances_tokens(
    managed: Services, http_peer: HttpPeer
) -> None:
    _failing(http_peer)
    instance_id = _start(managed)
    later = dataclasses.replace(
        managed, clock=lambda: datetime.now(UTC) + timedelta(days=2)
    )

    reconcile.run(later)

    management.retrigger(managed, "greetrest", instance_id)
    runs.finish(managed, instance_id)
    last = http_peer.received("POST", "/greet/en")[-1]
    assert "x-authorization-github" not in last.headers


def test_without_retention_a_failed_instance_drops_its_tokens_at_once(
    managed: Services, http_peer: HttpPeer
) -> None:
    _failing(http_peer)
    unkept = dataclasses.replace(
        managed,
        settings=dataclasses.replace(
            managed.settings,
            retention=dataclasses.replace(
                managed.settings.retention, failed_tokens=timedelta(0)
            ),
        ),
    )
    instance_id = _start(unkept)

    management.retrigger(unkept, "greetrest", instance_id)
    runs.finish(unkept, instance_id)

    last = http_peer.received("POST", "/greet/en")[-1]
    assert "x-authorization-github" not in last.headers


def test_a_rerun_starts_anew_from_the_original_input_and_tokens(
    managed: Services, http_peer: HttpPeer
) -> None:
    _failing(http_peer)
    failed_id = _start(managed, initiatorEntity="user:default/ann")

    row = reruns.rerun(managed, "greetrest", failed_id)
    runs.finish(managed, row.id)

    rerun = _row(managed, row.id)
    assert (rerun.status, rerun.input) == ("COMPLETED", {"language": "en"})
    assert rerun.variables == {
        "initiatorEntity": "user:default/ann",
        "rerunOf": failed_id,
    }
    assert _row(managed, failed_id).status == "ERROR"
    last = http_peer.received("POST", "/greet/en")[-1]
    assert last.headers["x-authorization-github"] == "ghp_first"


def test_a_rerun_is_started_by_its_caller_with_the_tokens_it_sends(
    managed: Services, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/greet/en", Reply(body={"greeting": "Hi"}))
    done_id = _start(managed, initiatorEntity="user:default/ann")

    row = reruns.rerun(
        managed,
        "greetrest",
        done_id,
        tokens={"x-authorization-github": "ghp_second"},
        initiator="user:default/bob",
    )

    assert row.variables["initiatorEntity"] == "user:default/bob"
    last = http_peer.received("POST", "/greet/en")[-1]
    assert last.headers["x-authorization-github"] == "ghp_second"


def test_a_running_instance_is_not_rerun(
    managed: Services, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/greet/en", Reply(body={"greeting": "Hi"}))
    instance_id = _start(managed)
    with managed.pool.connection() as conn:
        conn.execute(
            "UPDATE instances SET status = 'ACTIVE' WHERE id = %s", (instance_id,)
        )

    with pytest.raises(ConflictError, match="is ACTIVE; only an instance that ended"):
        reruns.rerun(managed, "greetrest", instance_id)


def _failed_at(services: Services, instance_id: str, moment: datetime) -> None:
    with services.pool.connection() as conn:
        conn.execute(
            "UPDATE instances SET updated_at = %s WHERE id = %s", (moment, instance_id)
        )


def test_a_bulk_retrigger_takes_the_failures_of_the_range_and_reports_each(
    managed: Services, http_peer: HttpPeer
) -> None:
    _failing(http_peer, times=3)
    early, inside, again = (_start(managed) for _ in range(3))
    http_peer.queue("POST", "/greet/en", Reply(status=500, body={}))
    base = datetime(2026, 12, 1, tzinfo=UTC)
    for offset, instance_id in enumerate((early, inside, again)):
        _failed_at(managed, instance_id, base + timedelta(hours=offset))

    report = reruns.retrigger_failed(
        managed,
        "greetrest",
        failed_after=base + timedelta(minutes=30),
        failed_before=base + timedelta(hours=3),
        limit=10,
    )

    assert [(r.instance_id, r.outcome, r.attempt) for r in report.instances] == [
        (inside, RetriggerOutcome.FAILED_AGAIN, 2),
        (again, RetriggerOutcome.RETRIGGERED, 2),
    ]
    assert report.instances[0].message
    assert report.remaining == 0
    assert _row(managed, early).status == "ERROR"


def test_a_bulk_retrigger_stops_at_its_limit_and_counts_the_rest(
    managed: Services, http_peer: HttpPeer
) -> None:
    _failing(http_peer, times=3)
    ids = [_start(managed) for _ in range(3)]

    report = reruns.retrigger_failed(
        managed,
        "greetrest",
        failed_after=reruns.EARLIEST,
        failed_before=datetime.now(UTC) + timedelta(seconds=1),
        limit=2,
    )

    assert [r.instance_id for r in report.instances] == [
        i for i in sorted(ids, key=lambda i: _row(managed, i).started_at)
    ][:2]
    assert report.remaining == 1


def test_a_bulk_retrigger_keeps_to_its_rate(
    managed: Services, http_peer: HttpPeer
) -> None:
    _failing(http_peer, times=3)
    for _ in range(3):
        _start(managed)
    slow = dataclasses.replace(
        managed,
        settings=dataclasses.replace(managed.settings, bulk_retrigger_rate=5.0),
    )

    started = time.monotonic()
    report = reruns.retrigger_failed(
        slow,
        "greetrest",
        failed_after=reruns.EARLIEST,
        failed_before=datetime.now(UTC) + timedelta(seconds=1),
        limit=10,
    )

    assert len(report.instances) == 3
    assert time.monotonic() - started >= 0.4  # three at 5/s: two intervals of 0.2 s


def test_a_second_bulk_retrigger_of_a_workflow_waits_for_the_first(
    managed: Services, http_peer: HttpPeer
) -> None:
    _failing(http_peer)
    instance_id = _start(managed)

    with instances.bulk_retrigger_turn(managed.pool, "greetrest") as free:
        assert free
        with pytest.raises(
            ConflictError, match="bulk retrigger of workflow 'greetrest'"
        ):
            reruns.retrigger_failed(
                managed,
                "greetrest",
                failed_after=reruns.EARLIEST,
                failed_before=datetime.now(UTC) + timedelta(seconds=1),
                limit=10,
            )

    assert _row(managed, instance_id).status == "ERROR"
    with instances.bulk_retrigger_turn(managed.pool, "greetrest") as free_again:
        assert free_again


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ({"since": "x"}, "unknown key 'since'"),
        ({"failedAfter": "yesterday"}, "'failedAfter' must be an ISO 8601 date"),
        ({"failedBefore": "2026-12-01T00:00:00"}, "'failedBefore' must be an ISO"),
        ({"failedAfter": "2026-12-04T00:00:00Z"}, "must be before 'failedBefore'"),
        ({"limit": 0}, "'limit' must be a positive whole number"),
        ({"limit": "5"}, "'limit' must be a positive whole number"),
    ],
    ids=["list", "unknown-key", "bad-date", "no-zone", "empty-range", "zero", "text"],
)
def test_a_bad_bulk_request_is_refused_naming_the_problem(
    body: object, message: str
) -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    with pytest.raises(InputError, match=message):
        reruns.parse_bulk_request(body, now=now, most=100)  # type: ignore[arg-type]


def test_a_bulk_request_defaults_to_every_failure_so_far_up_to_the_maximum() -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)

    asked = reruns.parse_bulk_request({"limit": 500}, now=now, most=100)

    assert (asked.failed_after, asked.failed_before, asked.limit) == (
        reruns.EARLIEST,
        now,
        100,
    )
