"""The active-instance limit: starts beyond it queue as PENDING and start, in order, as slots free."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from knflow.config import FlowControl
from knflow.engine.outcome import InstanceStatus
from knflow.events import kogito
from knflow.runtime.catalog import DefinitionCache
from knflow.runtime.data_index import rebuild
from knflow.runtime.job_trigger import reconcile
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import management, registration
from knflow.store import db, index, instances
from tests.conftest import TEST_DATA
from tests.runtime import runs

FLOW = TEST_DATA / "workflows" / "flow"


@pytest.fixture
def gated(services: Services, tmp_path: Path) -> Services:
    """Services with `gated` (at most two active instances) registered."""
    (tmp_path / "gated.sw.json").write_text((FLOW / "gated.sw.json").read_text())
    registration.register_folder(services, tmp_path)
    return services


def statuses(services: Services, ids: list[str]) -> list[InstanceStatus]:
    with services.pool.connection() as conn:
        rows = [instances.get(conn, instance_id) for instance_id in ids]
    return [row.status for row in rows if row is not None]


def release(services: Services, instance_id: str) -> None:
    runs.send(services, "org.example.release", {}, kogitoprocrefid=instance_id)


def test_starts_beyond_the_limit_are_accepted_as_pending(gated: Services) -> None:
    ids = [runs.start(gated, "gated", {"n": n}) for n in range(4)]

    assert (
        statuses(gated, ids)
        == [InstanceStatus.ACTIVE] * 2 + [InstanceStatus.PENDING] * 2
    )


def test_an_ending_instance_starts_the_oldest_queued_one(gated: Services) -> None:
    ids = [runs.start(gated, "gated", {"n": n}) for n in range(4)]

    release(gated, ids[0])

    assert statuses(gated, ids) == [
        InstanceStatus.COMPLETED,
        InstanceStatus.ACTIVE,
        InstanceStatus.ACTIVE,
        InstanceStatus.PENDING,
    ]


def test_a_queued_instance_starts_with_the_input_it_was_accepted_with(
    gated: Services,
) -> None:
    ids = [runs.start(gated, "gated", {"n": n}) for n in range(3)]

    release(gated, ids[1])
    release(gated, ids[2])

    assert runs.finish(gated, ids[2]).data == {"n": 2}


def test_a_new_start_queues_behind_waiting_ones_even_when_a_slot_is_free(
    gated: Services,
) -> None:
    ids = [runs.start(gated, "gated", {"n": n}) for n in range(3)]
    lifted = dataclasses.replace(
        gated,
        settings=dataclasses.replace(
            gated.settings, flow_control=FlowControl(max_active={"gated": 3})
        ),
    )

    later = runs.start(lifted, "gated", {"n": 3})

    assert statuses(lifted, [*ids, later])[2:] == [InstanceStatus.PENDING] * 2


def test_the_reconcile_starts_what_a_raised_limit_frees(gated: Services) -> None:
    ids = [runs.start(gated, "gated", {"n": n}) for n in range(4)]
    lifted = dataclasses.replace(
        gated,
        settings=dataclasses.replace(
            gated.settings, flow_control=FlowControl(max_active={"gated": 3})
        ),
    )

    assert reconcile.start_queued(lifted) == 1
    assert statuses(lifted, ids) == [InstanceStatus.ACTIVE] * 3 + [
        InstanceStatus.PENDING
    ]


def test_aborting_a_queued_instance_takes_it_out_of_the_queue(gated: Services) -> None:
    ids = [runs.start(gated, "gated", {"n": n}) for n in range(4)]

    management.abort(gated, "gated", ids[2])
    release(gated, ids[0])

    assert statuses(gated, ids) == [
        InstanceStatus.COMPLETED,
        InstanceStatus.ACTIVE,
        InstanceStatus.ABORTED,
        InstanceStatus.ACTIVE,
    ]


def test_the_data_index_shows_a_queued_instance_as_pending_then_active(
    gated: Services,
) -> None:
    ids = [runs.start(gated, "gated", {"n": n}) for n in range(3)]
    runs.index_outbox(gated)
    with db.transaction(gated.pool) as conn:
        [queued] = index.instances_by_ids(conn, [ids[2]])
    assert queued.state == kogito.INSTANCE_STATES.index("PENDING")
    assert queued.start is not None

    release(gated, ids[0])
    runs.index_outbox(gated)

    with db.transaction(gated.pool) as conn:
        [started] = index.instances_by_ids(conn, [ids[2]])
    assert started.state == kogito.INSTANCE_STATES.index("ACTIVE")
    assert started.start == queued.start


def test_an_index_rebuild_keeps_a_queued_instance_pending(gated: Services) -> None:
    ids = [runs.start(gated, "gated", {"n": n}) for n in range(3)]

    rebuild.rebuild(gated)

    with db.transaction(gated.pool) as conn:
        rows = {row.id: row.state for row in index.instances_by_ids(conn, ids)}
    assert [rows[i] for i in ids] == [
        kogito.INSTANCE_STATES.index("ACTIVE"),
        kogito.INSTANCE_STATES.index("ACTIVE"),
        kogito.INSTANCE_STATES.index("PENDING"),
    ]


def _tickets(services: Services) -> list[tuple[str, InstanceStatus, object]]:
    with services.pool.connection() as conn:
        rows = conn.execute(
            "SELECT id, status, data FROM instances WHERE workflow_id = 'tickets'"
            " ORDER BY started_at, id"
        ).fetchall()
    return [(str(i), InstanceStatus(s), d) for i, s, d in rows]


def test_an_event_started_instance_queues_with_its_event_and_gets_it_when_it_starts(
    services: Services, tmp_path: Path
) -> None:
    (tmp_path / "tickets.sw.json").write_text((FLOW / "tickets.sw.json").read_text())
    registration.register_folder(services, tmp_path)
    runs.send(services, "ticket-opened", {"n": 1})
    runs.send(services, "ticket-opened", {"n": 2})
    [(first, _, _), (second, queued, _)] = _tickets(services)
    assert queued is InstanceStatus.PENDING

    runs.send(services, "ticket-closed", {}, kogitoprocrefid=first)

    assert _tickets(services) == [
        (first, InstanceStatus.COMPLETED, {"n": 1, "closed": {}}),
        (second, InstanceStatus.ACTIVE, {"n": 2}),
    ]


def test_a_queued_instance_keeps_its_revision_while_newer_ones_replace_it(
    gated: Services, tmp_path: Path
) -> None:
    one = dataclasses.replace(
        gated,
        settings=dataclasses.replace(
            gated.settings, flow_control=FlowControl(max_active={"gated": 1})
        ),
    )
    first = runs.start(one, "gated", {"n": 0})
    _reregister(one, tmp_path, "v2")
    queued = runs.start(one, "gated", {"n": 1})  # on v2, which only it runs
    _reregister(one, tmp_path, "v3")
    _reregister(one, tmp_path, "v4")  # a revision nothing runs is dropped by now
    # Another process (no parsed definitions yet) frees the slot.
    release(dataclasses.replace(one, definitions=DefinitionCache()), first)

    with one.pool.connection() as conn:
        row = instances.get(conn, queued)
    assert row is not None
    assert row.status is InstanceStatus.ACTIVE
    assert row.data == {"n": 1}


def _reregister(services: Services, folder: Path, label: str) -> None:
    text = (FLOW / "gated.sw.json").read_text().replace("Two at a time", label)
    (folder / "gated.sw.json").write_text(text)
    registration.register_folder(services, folder)
