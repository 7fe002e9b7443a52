"""Version pinning in process: revisions per content, instances stay on theirs, migration."""

from __future__ import annotations

import json
from typing import Any, Final

import pytest

from knflow.engine.outcome import InstanceStatus
from knflow.errors import NotFoundError
from knflow.runtime.data_index import rebuild
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import management, registration, revisions, starting
from knflow.store import db, index, instances
from knflow.store.instances import InstanceRow
from knflow.workflow import loading
from tests.runtime import runs

GO: Final = "pinned.go"


def waiter(mark: str, *, version: str = "1.0", wait_state: str = "Wait") -> Any:
    """A workflow that waits for `pinned.go`, then injects `{"mark": mark}`."""
    return {
        "id": "pinned",
        "version": version,
        "specVersion": "0.8",
        "name": "Pinned",
        "start": "Begin",
        "events": [{"name": "go", "type": GO, "source": "tests"}],
        "states": [
            {"name": "Begin", "type": "inject", "data": {}, "transition": wait_state},
            {
                "name": wait_state,
                "type": "event",
                "onEvents": [{"eventRefs": ["go"]}],
                "transition": "Mark",
            },
            {"name": "Mark", "type": "inject", "data": {"mark": mark}, "end": True},
        ],
    }


def sleeper(mark: str) -> Any:
    """A workflow that sleeps a second, then injects `{"mark": mark}`."""
    return {
        "id": "sleeper",
        "version": "1.0",
        "specVersion": "0.8",
        "name": "Sleeper",
        "start": "Nap",
        "states": [
            {"name": "Nap", "type": "sleep", "duration": "PT1S", "transition": "Mark"},
            {"name": "Mark", "type": "inject", "data": {"mark": mark}, "end": True},
        ],
    }


def checker(mark: str) -> Any:
    """A workflow that fails until its data says `ok`, then sets `mark`."""
    return {
        "id": "checker",
        "version": "1.0",
        "specVersion": "0.8",
        "name": "Checker",
        "start": "Check",
        "functions": [
            {
                "name": "check",
                "type": "expression",
                "operation": f'if .ok then "{mark}" else error("not ok") end',
            }
        ],
        "states": [
            {
                "name": "Check",
                "type": "operation",
                "actions": [
                    {
                        "functionRef": {"refName": "check"},
                        "actionDataFilter": {"toStateData": ".mark"},
                    }
                ],
                "end": True,
            }
        ],
    }


def holder(mark: str) -> Any:
    """A workflow that runs `pinned` as a subflow, then injects `{"parent": mark}`."""
    return {
        "id": "holder",
        "version": "1.0",
        "specVersion": "0.8",
        "name": "Holder",
        "start": "Call",
        "states": [
            {
                "name": "Call",
                "type": "operation",
                "actions": [
                    {
                        "subFlowRef": "pinned",
                        "actionDataFilter": {"toStateData": ".child"},
                    }
                ],
                "transition": "Mark",
            },
            {"name": "Mark", "type": "inject", "data": {"parent": mark}, "end": True},
        ],
    }


def register(services: Services, document: Any) -> bool:
    """Register one workflow document as a redeploy would."""
    source = loading.load_text(json.dumps(document), name="workflow.sw.json")
    with db.transaction(services.pool) as conn:
        return registration.register_source(
            conn, source, settings=services.settings, now=services.clock()
        )


def go(services: Services, *instance_ids: str) -> None:
    """Send each instance its `pinned.go` event (addressed by `kogitoprocrefid`)."""
    for instance_id in instance_ids:
        runs.send(services, GO, kogitoprocrefid=instance_id)


def children_of(services: Services, parent_id: str) -> list[str]:
    with services.pool.connection() as conn:
        rows = conn.execute(
            "SELECT id FROM instances WHERE parent_instance_id = %s", (parent_id,)
        ).fetchall()
    return [str(row[0]) for row in rows]


def row_of(services: Services, instance_id: str) -> InstanceRow:
    with services.pool.connection() as conn:
        row = instances.get(conn, instance_id)
    assert row is not None
    return row


def shown_version(services: Services, instance_id: str) -> str | None:
    """The version the Data Index shows for an instance (fed from the outbox)."""
    runs.index_outbox(services)
    with services.pool.connection() as conn:
        found = index.get_instance(conn, instance_id)
    assert found is not None
    return found.version


def test_a_waiting_instance_finishes_on_its_revision_and_a_new_start_runs_the_new_one(
    services: Services,
) -> None:
    register(services, waiter("one"))
    first = runs.start(services, "pinned", {})
    register(services, waiter("two"))
    second = runs.start(services, "pinned", {})

    go(services, first, second)

    assert runs.finish(services, first).data == {"mark": "one"}
    assert runs.finish(services, second).data == {"mark": "two"}


def test_an_instance_sleeping_through_a_redeploy_wakes_on_its_revision(
    services: Services,
) -> None:
    register(services, sleeper("one"))
    instance_id = runs.start(services, "sleeper", {})
    register(services, sleeper("two"))

    view = runs.finish(services, instance_id)

    assert (view.status, view.data) == (InstanceStatus.COMPLETED, {"mark": "one"})


def test_a_retrigger_after_a_redeploy_runs_the_revision_the_instance_started_on(
    services: Services,
) -> None:
    register(services, checker("one"))
    instance_id = runs.start(services, "checker", {"ok": False})
    register(services, checker("two"))
    management.update_data(
        services, "checker", instance_id, data={"ok": True}, variables={}
    )

    management.retrigger(services, "checker", instance_id)

    view = runs.finish(services, instance_id)
    assert (view.status, view.data) == (
        InstanceStatus.COMPLETED,
        {"ok": True, "mark": "one"},
    )


def test_a_parent_and_its_subflow_finish_on_the_revisions_they_started_on(
    services: Services,
) -> None:
    register(services, waiter("one"))
    register(services, holder("one"))
    parent = runs.start(services, "holder", {})
    [child] = children_of(services, parent)
    register(services, waiter("two"))
    register(services, holder("two"))

    go(services, child)

    assert runs.finish(services, child).data == {"mark": "one"}
    assert runs.finish(services, parent).data == {
        "child": {"mark": "one"},
        "parent": "one",
    }


def test_each_new_content_is_a_revision_and_the_same_content_the_same_revision(
    services: Services,
) -> None:
    register(services, waiter("one"))
    register(services, waiter("two"))
    assert register(services, waiter("one"))  # served again: announced again

    listed = revisions.list_revisions(services, "pinned")

    assert [(r.revision, r.label, r.latest) for r in listed] == [
        (1, "1.0", True),
        (2, "1.0+r2", False),
    ]
    instance_id = runs.start(services, "pinned", {})
    assert row_of(services, instance_id).definition_revision == 1


def test_the_data_index_shows_the_version_of_each_instances_revision(
    services: Services,
) -> None:
    register(services, waiter("one"))
    first = runs.start(services, "pinned", {})
    register(services, waiter("two"))
    second = runs.start(services, "pinned", {})

    assert shown_version(services, first) == "1.0"
    assert shown_version(services, second) == "1.0+r2"


def test_a_rebuilt_data_index_shows_the_version_of_each_instances_revision(
    services: Services,
) -> None:
    register(services, waiter("one"))
    first = runs.start(services, "pinned", {})
    register(services, waiter("two"))
    second = runs.start(services, "pinned", {})

    rebuild.rebuild(services)

    with services.pool.connection() as conn:
        shown = [index.get_instance(conn, i) for i in (first, second)]
    assert [row.version if row else None for row in shown] == ["1.0", "1.0+r2"]


def test_the_revisions_listing_counts_the_unfinished_instances_of_each(
    services: Services,
) -> None:
    register(services, waiter("one"))
    runs.start(services, "pinned", {})
    runs.start(services, "pinned", {})
    register(services, waiter("two", version="2.0"))

    listed = revisions.list_revisions(services, "pinned")

    assert [(r.label, r.status, r.unfinished) for r in listed] == [
        ("1.0", "AVAILABLE", 2),
        ("2.0", "AVAILABLE", 0),
    ]


def test_a_start_may_name_the_version_it_runs(services: Services) -> None:
    register(services, waiter("one"))
    register(services, waiter("two", version="2.0"))

    instance_id = starting.start_instance(
        services, starting.StartRequest(workflow_id="pinned", data={}, version="1.0")
    ).id
    go(services, instance_id)

    assert runs.finish(services, instance_id).data == {"mark": "one"}


def test_revisions_nothing_needs_lose_their_source_and_the_rest_are_kept(
    services: Services,
) -> None:
    register(services, waiter("one"))
    kept = runs.start(services, "pinned", {})
    register(services, waiter("two"))
    register(services, waiter("three"))
    register(services, waiter("four"))

    listed = revisions.list_revisions(services, "pinned")

    assert [(r.revision, r.dropped_at is not None) for r in listed] == [
        (1, False),  # its instance waits
        (2, True),  # nothing needs it
        (3, False),  # served until the last registration
        (4, False),  # served
    ]
    go(services, kept)
    assert runs.finish(services, kept).data == {"mark": "one"}


def test_content_whose_revision_was_dropped_comes_back_as_that_revision(
    services: Services,
) -> None:
    for mark in ("one", "two", "three", "one"):
        register(services, waiter(mark))

    listed = revisions.list_revisions(services, "pinned")

    assert [(r.revision, r.latest, r.dropped_at is None) for r in listed] == [
        (1, True, True),
        (2, False, False),
        (3, False, True),
    ]


def test_an_unknown_workflow_has_no_revisions(services: Services) -> None:
    with pytest.raises(NotFoundError, match="'nowhere' is not registered"):
        revisions.list_revisions(services, "nowhere")
