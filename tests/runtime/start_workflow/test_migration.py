"""Moving an instance to another revision (Kogito's "migrate process instance"), in process."""

from __future__ import annotations

import pytest

from knflow.errors import ConflictError, NotFoundError
from knflow.runtime.data_index import rebuild
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import management, revisions
from knflow.runtime.start_workflow.revisions import MigrationTarget
from knflow.store import index
from tests.runtime import runs
from tests.runtime.pinning import (
    checker,
    go,
    register,
    row_of,
    shown_version,
    waiter,
)


def test_a_migrated_instance_runs_on_from_its_wait_on_the_target_revision(
    services: Services,
) -> None:
    register(services, waiter("one"))
    instance_id = runs.start(services, "pinned", {})
    register(services, waiter("two"))

    done = revisions.migrate(services, "pinned", instance_id, MigrationTarget())
    go(services, instance_id)

    assert (done.from_revision, done.revision, done.version) == (1, 2, "1.0+r2")
    assert runs.finish(services, instance_id).data == {"mark": "two"}


def test_the_data_index_shows_the_version_an_instance_was_migrated_to(
    services: Services,
) -> None:
    register(services, waiter("one"))
    instance_id = runs.start(services, "pinned", {})
    register(services, waiter("two", version="2.0"))

    revisions.migrate(services, "pinned", instance_id, MigrationTarget(version="2.0"))

    assert shown_version(services, instance_id) == "2.0"
    assert row_of(services, instance_id).workflow_version == "2.0"


def test_an_instance_may_move_back_to_an_earlier_revision_by_number(
    services: Services,
) -> None:
    register(services, waiter("one"))
    register(services, waiter("two"))
    instance_id = runs.start(services, "pinned", {})

    revisions.migrate(services, "pinned", instance_id, MigrationTarget(revision=1))
    go(services, instance_id)

    assert runs.finish(services, instance_id).data == {"mark": "one"}


def test_moving_an_instance_to_the_revision_it_runs_changes_nothing(
    services: Services,
) -> None:
    register(services, waiter("one"))
    instance_id = runs.start(services, "pinned", {})
    before = row_of(services, instance_id)

    done = revisions.migrate(services, "pinned", instance_id, MigrationTarget())

    assert (done.from_revision, done.revision) == (1, 1)
    assert row_of(services, instance_id).revision == before.revision


def test_a_migration_is_refused_when_the_waiting_state_is_missing_in_the_target(
    services: Services,
) -> None:
    register(services, waiter("one"))
    instance_id = runs.start(services, "pinned", {})
    register(services, waiter("two", wait_state="Await"))

    with pytest.raises(
        ConflictError, match="state 'Wait' does not exist in the target"
    ):
        revisions.migrate(services, "pinned", instance_id, MigrationTarget())

    assert row_of(services, instance_id).definition_revision == 1
    go(services, instance_id)
    assert runs.finish(services, instance_id).data == {"mark": "one"}


def test_a_migration_is_refused_for_an_ended_instance(services: Services) -> None:
    register(services, waiter("one"))
    instance_id = runs.start(services, "pinned", {})
    management.abort(services, "pinned", instance_id)
    register(services, waiter("two"))

    with pytest.raises(ConflictError, match="is ABORTED and cannot move"):
        revisions.migrate(services, "pinned", instance_id, MigrationTarget())


def test_a_migration_to_an_unknown_revision_is_not_found(services: Services) -> None:
    register(services, waiter("one"))
    instance_id = runs.start(services, "pinned", {})

    with pytest.raises(NotFoundError, match="revision 7 of workflow 'pinned'"):
        revisions.migrate(services, "pinned", instance_id, MigrationTarget(revision=7))


def test_a_rebuilt_data_index_shows_the_version_an_instance_was_migrated_to(
    services: Services,
) -> None:
    register(services, waiter("one"))
    instance_id = runs.start(services, "pinned", {})
    register(services, waiter("two"))
    revisions.migrate(services, "pinned", instance_id, MigrationTarget())

    rebuild.rebuild(services)

    with services.pool.connection() as conn:
        found = index.get_instance(conn, instance_id)
    assert found is not None
    assert found.version == "1.0+r2"


def test_a_failed_instance_moved_to_a_fixed_revision_runs_it_when_retriggered(
    services: Services,
) -> None:
    register(services, checker("one"))
    instance_id = runs.start(services, "checker", {"ok": False})
    register(services, checker("two"))
    management.update_data(
        services, "checker", instance_id, data={"ok": True}, variables={}
    )

    revisions.migrate(services, "checker", instance_id, MigrationTarget())
    management.retrigger(services, "checker", instance_id)

    assert runs.finish(services, instance_id).data == {"ok": True, "mark": "two"}


def test_a_migration_is_refused_while_the_instance_runs_a_step(
    services: Services,
) -> None:
    register(services, waiter("one"))
    instance_id = runs.start(services, "pinned", {})
    register(services, waiter("two"))
    with services.pool.connection() as conn:  # as while its event is being applied
        conn.execute(
            "UPDATE instances SET waiting = false WHERE id = %s", (instance_id,)
        )

    with pytest.raises(ConflictError, match="is running a step; migrate it while"):
        revisions.migrate(services, "pinned", instance_id, MigrationTarget())
