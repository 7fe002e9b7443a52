"""Call-rate limits: calls of a rate-limited function take turns from one bucket in PostgreSQL,
whichever instance or process makes them; calls past their turn wait as jobs, not threads."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from knflow.config import FlowControl
from knflow.engine.execution import Execution
from knflow.engine.thread_waits import CallWait
from knflow.runtime import local_run
from knflow.runtime.catalog import DefinitionCache
from knflow.runtime.instances.timers import STEP_RECIPIENT
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import registration
from knflow.store import db, instances, jobs
from tests.conftest import TEST_DATA
from tests.pacing import assert_no_call_before_its_turn
from tests.peers import HttpPeer, Recorded, Reply
from tests.runtime import runs

RATE = 5.0
PROCESSES = 3
CALLS = 12


class Arrivals:
    """When the rate-limited service received each call (wall-clock seconds)."""

    def __init__(self, peer: HttpPeer) -> None:
        self.times: list[float] = []
        self.lock = threading.Lock()
        peer.route("POST", "/tick", self.answer)

    def answer(self, _request: Recorded) -> Reply:
        with self.lock:
            self.times.append(time.time())
        return Reply(body={"ok": True})


@pytest.fixture
def paced(services: Services, http_peer: HttpPeer, tmp_path: Path) -> Services:
    """Services whose `tick` function is the peer, with `paced` registered."""
    (tmp_path / "paced.sw.json").write_text(
        (TEST_DATA / "workflows" / "flow" / "paced.sw.json").read_text()
    )
    settings = dataclasses.replace(
        services.settings, function_urls={"tick": http_peer.url}
    )
    with_peer = dataclasses.replace(services, settings=settings)
    registration.register_folder(with_peer, tmp_path)
    return with_peer


@pytest.fixture
def replicas(paced: Services, database_url: str) -> Iterator[list[Services]]:
    """Process-like Services on one database: own pools and definition caches."""
    pools = [db.open_pool(database_url, max_size=4) for _ in range(PROCESSES)]
    yield [
        dataclasses.replace(paced, pool=pool, definitions=DefinitionCache())
        for pool in pools
    ]
    for pool in pools:
        pool.close()


def _run(services: Services, n: int) -> str:
    instance_id = runs.start(services, "paced", {"n": n})
    local_run.run_to_end(services, instance_id, timeout=timedelta(seconds=30))
    return instance_id


def test_a_call_past_its_turn_is_parked_as_a_job_not_performed(
    paced: Services, http_peer: HttpPeer
) -> None:
    # One call a minute: the second start comes before its turn however slow the machine.
    settings = dataclasses.replace(
        paced.settings,
        flow_control=FlowControl(calls_per_second={"tick-service": 1 / 60}),
    )
    slow = dataclasses.replace(paced, settings=settings)
    Arrivals(http_peer)
    runs.start(slow, "paced", {"n": 0})

    second = runs.start(slow, "paced", {"n": 1})

    with slow.pool.connection() as conn:
        row = instances.get(conn, second)
        due = jobs.next_due(conn)
    assert row is not None
    wait = Execution.from_json(row.execution).main.wait
    assert isinstance(wait, CallWait)
    assert wait.paced_until is not None
    assert wait.claimed_until == wait.paced_until
    assert due == wait.paced_until
    assert [job.instance_id for job in _parked_steps(slow)] == [second]
    assert len(http_peer.received("POST", "/tick")) == 1


def test_calls_from_several_processes_keep_to_the_rate(
    paced: Services, replicas: list[Services], http_peer: HttpPeer
) -> None:
    arrivals = Arrivals(http_peer)
    started = time.time()

    with ThreadPoolExecutor(max_workers=PROCESSES * 2) as pool:
        ids = list(pool.map(lambda n: _run(replicas[n % PROCESSES], n), range(CALLS)))

    assert [runs.finish(paced, i).status.value for i in ids] == ["COMPLETED"] * CALLS
    assert len(arrivals.times) == CALLS
    assert_no_call_before_its_turn(arrivals.times, started, RATE)


def test_a_deployment_setting_overrides_the_declared_rate(
    paced: Services, http_peer: HttpPeer
) -> None:
    # Asserted by what was parked, not by how fast the calls came: back-to-back runs come
    # faster than the declared five a second on an idle machine, but not on a loaded one.
    arrivals = Arrivals(http_peer)
    lifted = dataclasses.replace(
        paced,
        settings=dataclasses.replace(
            paced.settings,
            flow_control=FlowControl(calls_per_second={"tick-service": 1000.0}),
        ),
    )

    for n in range(5):
        _run(lifted, n)

    assert len(arrivals.times) == 5
    assert _parked_steps(lifted) == []


def _parked_steps(services: Services) -> list[jobs.JobRow]:
    """The jobs that hold a call past its turn (kept after they fired)."""
    with services.pool.connection() as conn:
        every_job = jobs.page(conn, after="", limit=1000)
    return [job for job in every_job if job.recipient.get("type") == STEP_RECIPIENT]
