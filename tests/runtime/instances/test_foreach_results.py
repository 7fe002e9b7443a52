"""A foreach's iteration results are kept apart from the execution and collected in item order.

Each step of a sequential foreach writes what that step produced, not the results gathered
so far; a crash between iterations resumes from what was committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from knflow.runtime import local_run
from knflow.runtime.instances import after_commit, calls, recovery, transaction
from knflow.runtime.instances.creating import NewInstance, create_instance
from knflow.runtime.instances.work import PendingCall
from knflow.runtime.services import Services
from knflow.store import db, instances
from tests.peers import HttpPeer, Recorded, Reply
from tests.runtime.job_harness import Clock, register, services_for

LONG_ENOUGH = timedelta(seconds=120)


def _foreach(function: dict[str, Any], argument: str) -> dict[str, Any]:
    return {
        "id": "each",
        "version": "1.0",
        "specVersion": "0.8",
        "start": "each",
        "functions": [{"name": "work", **function}],
        "states": [
            {
                "name": "each",
                "type": "foreach",
                "inputCollection": ".items",
                "iterationParam": "item",
                "outputCollection": ".results",
                "mode": "sequential",
                "actions": [
                    {
                        "functionRef": {
                            "refName": "work",
                            "arguments": {"n": argument},
                        },
                        "actionDataFilter": {"results": ".n", "toStateData": ".n"},
                    }
                ],
                "end": True,
            }
        ],
    }


def _echo(recorded: Recorded) -> Reply:
    return Reply(200, {"n": recorded.json()["n"] + 1})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(pool: ConnectionPool, clock: Clock) -> Iterator[Services]:
    with services_for(pool, clock) as built:
        yield built


@pytest.fixture
def echo(services: Services, http_peer: HttpPeer) -> HttpPeer:
    """The `each` workflow calling a peer that answers `n + 1` for each item `n`."""
    http_peer.route("POST", "/echo", _echo)
    operation = f"rest:post:{http_peer.url}/echo"
    register(services, _foreach({"type": "custom", "operation": operation}, "$item"))
    return http_peer


def _start(services: Services, items: list[int]) -> tuple[str, PendingCall]:
    """Start `each` over `items`; return it with the first call, claimed and not yet made."""
    with transaction.unit_of_work(services) as work:
        row = create_instance(
            work, NewInstance(workflow_id="each", data={"items": items})
        )
    [call] = work.after_commit.calls
    return row.id, call


def _iterate(services: Services, call: PendingCall) -> PendingCall | None:
    """Make one call and commit its iteration; return the next call claimed, if any."""
    after = after_commit.complete_call(services, call)
    return after.calls[0] if after.calls else None


def _finish(services: Services, instance_id: str) -> Any:
    view = local_run.run_to_end(services, instance_id, timeout=LONG_ENOUGH)
    assert view.status == "COMPLETED", view.error_message
    return view.data


def _stored(services: Services, instance_id: str) -> tuple[int, int]:
    """The stored execution's size in characters, and the kept results' rows."""
    with db.transaction(services.pool) as conn:
        row = instances.get(conn, instance_id)
        found = conn.execute(
            "SELECT count(*) FROM child_results WHERE instance_id = %s", (instance_id,)
        ).fetchone()
    assert row is not None
    assert found is not None
    return len(str(row.execution)), int(found[0])


def test_a_foreach_over_2000_items_collects_every_result_in_item_order(
    services: Services,
) -> None:
    expression = {"type": "expression", "operation": "{n: (.item * 2)}"}
    register(services, _foreach(expression, "$item"))
    items = list(range(2000))
    with transaction.unit_of_work(services) as work:
        row = create_instance(
            work, NewInstance(workflow_id="each", data={"items": items})
        )

    data = _finish(services, row.id)

    assert data["results"] == [2 * item for item in items]
    assert _stored(services, row.id)[1] == 0


def test_each_iteration_stores_a_result_row_while_the_execution_keeps_its_size(
    services: Services, echo: HttpPeer
) -> None:
    instance_id, call = _start(services, list(range(30)))
    sizes, kept = [], []
    for _ in range(20):
        next_call = _iterate(services, call)
        assert next_call is not None
        call = next_call
        size, rows = _stored(services, instance_id)
        sizes.append(size)
        kept.append(rows)
    rest: PendingCall | None = call
    while rest is not None:
        rest = _iterate(services, rest)

    assert kept == list(range(1, 21))
    # From the tenth iteration on, every number in it has two digits: nothing grows.
    assert len(set(sizes[9:])) == 1
    assert _finish(services, instance_id)["results"] == list(range(1, 31))


def test_a_crash_between_iterations_resumes_from_the_committed_results(
    services: Services, echo: HttpPeer, clock: Clock
) -> None:
    instance_id, call = _start(services, list(range(10)))
    for _ in range(4):
        next_call = _iterate(services, call)
        assert next_call is not None
        call = next_call
    # The process dies here: the fifth call is claimed, never made.
    clock.advance(seconds=services.settings.claim_lease.total_seconds() + 1)
    recovery.redrive_stalled(services)

    data = _finish(services, instance_id)

    assert data["results"] == list(range(1, 11))
    assert [r.json()["n"] for r in echo.received("POST", "/echo")] == list(range(10))
    assert _stored(services, instance_id)[1] == 0


def test_a_step_that_dies_before_its_commit_repeats_only_its_own_call(
    services: Services, echo: HttpPeer, clock: Clock
) -> None:
    instance_id, call = _start(services, list(range(6)))
    for _ in range(3):
        next_call = _iterate(services, call)
        assert next_call is not None
        call = next_call
    calls.perform(services, call)  # made, but the step applying it never commits
    clock.advance(seconds=services.settings.claim_lease.total_seconds() + 1)
    recovery.redrive_stalled(services)

    data = _finish(services, instance_id)

    made = [r.json()["n"] for r in echo.received("POST", "/echo")]
    assert data["results"] == list(range(1, 7))
    assert made == [0, 1, 2, 3, 3, 4, 5]
