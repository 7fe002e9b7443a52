"""Flow control and Kafka starts through `knflow dev`, seen as the Orchestrator plugin sees them.

One stack serves the module with `gated` (at most two active instances), `paced` (calls a
service limited to five calls a second, made by start-workflow and step-executor alike) and
`orderstart` (started by an `order-placed` event). Starts go through start-workflow's REST API or, as the
plugin's event start does, through a Kafka topic the development broker stands in for; the
effects are read from the Data Index over GraphQL.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from knflow.events import codec
from knflow.events.codec import Event
from tests.conftest import TEST_DATA
from tests.pacing import assert_no_call_before_its_turn
from tests.peers import HttpPeer, Recorded, Reply, started_peer
from tests.stack import DevStack
from tests.waiting import eventually

FLOW = TEST_DATA / "workflows" / "flow"


@pytest.fixture(scope="module")
def stack_database(module_database_url: str) -> str:
    """The stack's database (the runtime rows behind what the Data Index shows)."""
    return module_database_url


@pytest.fixture(scope="module")
def service() -> Iterator[HttpPeer]:
    """The rate-limited service `paced` calls."""
    yield from started_peer()


@pytest.fixture(scope="module")
def arrivals(service: HttpPeer) -> list[float]:
    """When `service` received each call (wall-clock seconds)."""
    times: list[float] = []

    def answer(_request: Recorded) -> Reply:
        times.append(time.time())
        return Reply(body={"ok": True})

    service.route("POST", "/tick", answer)
    return times


@pytest.fixture(scope="module")
def stack(
    stack_database: str,
    service: HttpPeer,
    arrivals: list[float],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DevStack]:
    folder = tmp_path_factory.mktemp("workflows")
    for name in ("gated.sw.json", "paced.sw.json", "orderstart.sw.json"):
        shutil.copy(FLOW / name, folder / name)
    running = DevStack.start(
        workflows_dir=folder,
        database_url=stack_database,
        work_dir=tmp_path_factory.mktemp("stack"),
        env={"KNFLOW_FUNCTION_URL_tick": service.url},
    )
    try:
        yield running
    finally:
        running.stop()


def _start(stack: DevStack, workflow_id: str, data: dict[str, Any]) -> str:
    answer = httpx.post(
        f"{stack.url('start-workflow')}/{workflow_id}", json=data, timeout=30
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _instances(stack: DevStack, workflow_id: str) -> dict[str, dict[str, Any]]:
    query = (
        "query ($id: String) {ProcessInstances(where: {processId: {equal: $id}})"
        " {id state start variables}}"
    )
    answer = httpx.post(
        f"{stack.url('data-index-sink')}/graphql",
        json={"query": query, "variables": {"id": workflow_id}},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return {row["id"]: row for row in answer.json()["data"]["ProcessInstances"]}


def _states(stack: DevStack, ids: list[str]) -> list[str | None]:
    found = _instances(stack, "gated")
    return [found.get(instance_id, {}).get("state") for instance_id in ids]


def test_starts_beyond_the_limit_show_as_pending_and_start_when_a_slot_frees(
    stack: DevStack,
) -> None:
    ids = [_start(stack, "gated", {"n": n}) for n in range(3)]
    eventually(
        lambda: _states(stack, ids),
        lambda states: states == ["ACTIVE", "ACTIVE", "PENDING"],
    )
    release = Event(
        id=str(uuid.uuid4()),
        source="tests",
        type="org.example.release",
        data={},
        extensions={"kogitoprocrefid": ids[0]},
    )
    headers, body = codec.to_binary_http(release)
    httpx.post(stack.broker_url, headers=headers, content=body, timeout=10)

    eventually(
        lambda: _states(stack, ids),
        lambda states: states == ["COMPLETED", "ACTIVE", "ACTIVE"],
    )


def test_a_start_published_to_a_kafka_topic_as_the_plugin_does_starts_the_workflow(
    stack: DevStack, stack_database: str
) -> None:
    order = str(uuid.uuid4())
    # What the plugin's event start sends with kafkajs: the event name as topic and type,
    # the correlation attribute as an extension and in the data (Kafka binary mode).
    record = {
        "key": "",
        "value": json.dumps({"item": "pen", "orderid": order}),
        "headers": {
            "ce_id": str(uuid.uuid4()),
            "ce_type": "order-placed",
            "ce_source": "orchestrator",
            "ce_specversion": "1.0",
            "ce_orderid": order,
            "content-type": "application/json; charset=utf-8",
        },
    }
    broker = stack.broker_url.rsplit("/", 2)[0]
    before = set(_instances(stack, "orderstart"))

    answer = httpx.post(
        f"{broker}/kafka/order-placed", json={"messages": [record]}, timeout=10
    )

    assert answer.status_code == 200, answer.text
    assert f"{broker}/kafka/order-placed" in stack.log_text()  # listed at start
    [started] = eventually(
        lambda: [
            row
            for instance_id, row in _instances(stack, "orderstart").items()
            if instance_id not in before and row["state"] == "COMPLETED"
        ]
    )
    with psycopg.connect(stack_database) as conn:
        found = conn.execute(
            "SELECT data, correlation FROM instances WHERE id = %s", (started["id"],)
        ).fetchone()
    assert found is not None
    assert found[0] == {"item": "pen", "orderid": order, "accepted": True}
    assert found[1] == {"orderid": order}
    # The plugin finds the run it started by the correlation value in its workflowdata.
    assert started["variables"]["workflowdata"] == found[0]


def test_calls_made_by_several_functions_keep_to_the_declared_rate(
    stack: DevStack, arrivals: list[float]
) -> None:
    calls = 8
    started = time.time()
    with ThreadPoolExecutor(max_workers=calls) as pool:
        ids = list(pool.map(lambda n: _start(stack, "paced", {"n": n}), range(calls)))

    eventually(
        lambda: [row["state"] for row in _instances(stack, "paced").values()],
        lambda states: states == ["COMPLETED"] * calls,
    )
    assert len(arrivals) == calls == len(ids)
    assert_no_call_before_its_turn(arrivals, started, rate=5.0)
