"""`knflow dev` end to end: every function as a process, routed by the development broker."""

from __future__ import annotations

import http.client
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from knflow.events import codec
from knflow.events.codec import Event
from tests.stack import DevStack

StartStack = Callable[..., DevStack]

HELLO = {
    "id": "hello",
    "version": "1.0",
    "specVersion": "0.8",
    "start": "Greet",
    "functions": [
        {"name": "greet", "type": "expression", "operation": '"Hello, " + .name'}
    ],
    "states": [
        {
            "name": "Greet",
            "type": "operation",
            "end": True,
            "actions": [
                {
                    "functionRef": "greet",
                    "actionDataFilter": {"toStateData": ".message"},
                }
            ],
        }
    ],
}
# Started by an event: reachable only through a Trigger generated from its `events`.
ON_ORDER = {
    "id": "on-order",
    "version": "1.0",
    "specVersion": "0.8",
    "start": "Received",
    "events": [{"name": "order", "type": "org.test.order.placed", "source": "shop"}],
    "states": [
        {
            "name": "Received",
            "type": "event",
            "end": True,
            "onEvents": [{"eventRefs": ["order"]}],
        }
    ],
}


@pytest.fixture
def workflows(tmp_path: Path) -> Path:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "hello.sw.json").write_text(json.dumps(HELLO))
    (folder / "on-order.sw.json").write_text(json.dumps(ON_ORDER))
    return folder


def _request(
    method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    try:
        connection.request(method, parts.path, body=body, headers=headers or {})
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        connection.close()


def _instances(stack: DevStack, process_id: str) -> list[dict[str, Any]]:
    query = {
        "query": f'{{ ProcessInstances(where: {{processId: {{equal: "{process_id}"}}}})'
        " { id state variables } }"
    }
    status, body = _request(
        "POST",
        stack.url("data-index-sink") + "/graphql",
        json.dumps(query).encode(),
        {"content-type": "application/json"},
    )
    assert status == 200, body
    found: list[dict[str, Any]] = body["data"]["ProcessInstances"]
    return found


def _wait_for_instances(
    stack: DevStack, process_id: str, state: str
) -> list[dict[str, Any]]:
    """Poll the Data Index until some instance of `process_id` is in `state`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [i for i in _instances(stack, process_id) if i["state"] == state]
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(
        f"no {state} instance of {process_id}: {_instances(stack, process_id)}"
    )


def test_a_started_instance_reaches_the_data_index_through_the_broker(
    dev_stack_factory: StartStack, workflows: Path
) -> None:
    stack = dev_stack_factory(workflows)
    status, body = _request(
        "POST",
        stack.url("start-workflow") + "/hello",
        json.dumps({"name": "dev"}).encode(),
        {"content-type": "application/json"},
    )
    assert status == 201
    assert body["workflowdata"]["message"] == "Hello, dev"
    [indexed] = _wait_for_instances(stack, "hello", "COMPLETED")
    assert indexed["id"] == body["id"]


def test_an_event_consumed_by_a_workflow_is_routed_to_step_executor(
    dev_stack_factory: StartStack, workflows: Path
) -> None:
    stack = dev_stack_factory(workflows)
    event = Event(
        id=codec.new_id(),
        source="shop",
        type="org.test.order.placed",
        data={"order": {"sku": "a-1"}},
    )
    headers, body = codec.to_binary_http(event)
    status, _ = _request("POST", stack.broker_url, body, headers)
    assert status == 202
    completed = _wait_for_instances(stack, "on-order", "COMPLETED")
    assert len(completed) == 1


def test_a_killed_function_is_restarted_and_serves_again(
    dev_stack_factory: StartStack, workflows: Path
) -> None:
    stack = dev_stack_factory(workflows)
    old_pid = stack.kill("step-executor")
    new_pid = stack.wait_restarted("step-executor", old_pid=old_pid)
    status, _ = _request("GET", stack.url("step-executor") + "/health/readiness")
    assert new_pid != old_pid
    assert status == 200


def test_sigterm_stops_every_process_and_exits_cleanly(
    dev_stack_factory: StartStack, workflows: Path
) -> None:
    stack = dev_stack_factory(workflows)
    pids = [entry["pid"] for entry in stack.state()["functions"].values()]
    assert stack.stop() == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "functions stopped" in stack.log_text()
    assert "broker stopped" in stack.log_text()
