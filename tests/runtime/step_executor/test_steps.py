"""step-executor's use case: stale and duplicate step events change nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from knflow.engine.execution import Execution
from knflow.events import types
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import starting
from knflow.runtime.step_executor import steps
from knflow.store import instances, outbox
from tests.conftest import TEST_DATA
from tests.peers import HttpPeer, Reply


def _revision_and_outbox(services: Services, instance_id: str) -> tuple[int, int]:
    with services.pool.connection() as conn:
        row = instances.get(conn, instance_id)
        rows = conn.execute(
            "SELECT count(*) FROM outbox WHERE instance_id = %s", (instance_id,)
        ).fetchone()
    assert row is not None
    assert rows is not None
    return row.revision, int(rows[0])


def test_the_same_step_event_delivered_twice_runs_once(
    services: Services,
    register: Callable[[Path], list[str]],
    http_peer: HttpPeer,
    tmp_path: Path,
) -> None:
    http_peer.route("POST", "/slow/*", Reply(body={"ok": True}))
    services.settings.function_urls["slow"] = http_peer.url  # type: ignore[index]
    (tmp_path / "fanout.sw.json").write_text(
        (TEST_DATA / "workflows" / "fanout.sw.json").read_text()
    )
    register(tmp_path)
    broker_mode = dataclasses.replace(
        services,
        settings=dataclasses.replace(
            services.settings, k_sink="http://127.0.0.1:9/unreachable"
        ),
    )
    row = starting.start_instance(
        broker_mode,
        starting.StartRequest(workflow_id="fanout", data={}, variables={}, headers={}),
    )
    with services.pool.connection() as conn:
        step_rows = outbox.claim_unsent_of_type(conn, types.STEP_READY)
    assert (
        len(step_rows) == 1
    )  # one branch ran here, the other was handed to step-executor
    event = step_rows[0].event
    step = steps.parse_step(event["data"])
    steps.take_step(broker_mode, step)
    first = _revision_and_outbox(services, row.id)
    duplicate = steps.take_step(broker_mode, step)
    assert duplicate.calls == []
    assert _revision_and_outbox(services, row.id) == first


def test_a_step_event_for_an_older_sequence_is_ignored(
    services: Services, register: Callable[[Path], list[str]], tmp_path: Path
) -> None:
    (tmp_path / "waiter.sw.json").write_text(
        (TEST_DATA / "workflows" / "waiter.sw.json").read_text()
    )
    register(tmp_path)
    row = starting.start_instance(
        services,
        starting.StartRequest(workflow_id="waiter", data={}, variables={}, headers={}),
    )
    with services.pool.connection() as conn:
        current = instances.get(conn, row.id)
    assert current is not None
    main = Execution.from_json(current.execution).main
    before = _revision_and_outbox(services, row.id)
    stale = steps.StepRequest(instance_id=row.id, thread_id="main", seq=main.seq - 1)
    after = steps.take_step(services, stale)
    assert after.calls == []
    assert _revision_and_outbox(services, row.id) == before
