"""Version pinning in process: revisions per content, instances stay on theirs, migration."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from knflow.engine.outcome import InstanceStatus
from knflow.errors import NotFoundError
from knflow.runtime.data_index import rebuild
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import management, registration, revisions, starting
from knflow.store import index
from tests.runtime import runs
from tests.runtime.pinning import (
    checker,
    children_of,
    go,
    holder,
    register,
    row_of,
    shown_version,
    sleeper,
    waiter,
)


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


def test_concurrent_registrations_of_different_content_number_revisions_in_turn(
    services: Services,
) -> None:
    marks = [f"mark-{number}" for number in range(6)]
    with ThreadPoolExecutor(max_workers=len(marks)) as pool:
        list(pool.map(lambda mark: register(services, waiter(mark)), marks))

    listed = revisions.list_revisions(services, "pinned")

    assert [r.revision for r in listed] == [1, 2, 3, 4, 5, 6]
    assert len({r.checksum for r in listed}) == 6


def test_an_instance_a_release_before_revisions_started_runs_its_versions_content(
    services: Services,
) -> None:
    register(services, waiter("one"))
    instance_id = runs.start(services, "pinned", {})
    with services.pool.connection() as conn:  # what the previous release inserts
        conn.execute(
            "UPDATE instances SET definition_revision = NULL WHERE id = %s",
            (instance_id,),
        )
    register(services, waiter("two"))

    go(services, instance_id)

    assert runs.finish(services, instance_id).data == {"mark": "two"}


def test_a_start_made_on_this_process_copy_runs_the_content_registered_since(
    services: Services,
) -> None:
    register(services, checker("one"))
    first = runs.start(services, "checker", {"ok": True})  # this process keeps "one"
    register(services, checker("two"))

    second = runs.start(services, "checker", {"ok": True})

    assert runs.finish(services, first).data == {"ok": True, "mark": "one"}
    assert runs.finish(services, second).data == {"ok": True, "mark": "two"}
    assert row_of(services, second).definition_revision == 2


def test_a_start_of_a_workflow_withdrawn_since_this_process_served_it_is_refused(
    services: Services,
) -> None:
    register(services, checker("one"))
    runs.start(services, "checker", {"ok": True})
    registration.mark_unavailable(services, ["checker"])

    with pytest.raises(NotFoundError, match="'checker' is not registered"):
        runs.start(services, "checker", {"ok": True})
