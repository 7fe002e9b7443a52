"""The supervisor: port plan, function environment, routing, and real function processes."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from knflow.devstack import supervisor
from knflow.devstack.supervisor import Supervisor
from tests.stack import free_port_base

# A real function through knflow's own serving glue: health endpoints and one route.
PING_FUNCTION = """
from knflow import serving
from knflow.runtime.web import Response, Route

handle = serving.http_function([Route("GET", "/ping", lambda services, request: Response(body="pong"))])
"""


def _functions(tmp_path: Path, *names: str, without_main: tuple[str, ...] = ()) -> Path:
    folder = tmp_path / "functions"
    for name in names:
        (folder / name).mkdir(parents=True)
        (folder / name / "main.py").write_text(PING_FUNCTION)
    for name in without_main:
        (folder / name).mkdir(parents=True)
    return folder


def test_known_functions_get_their_fixed_ports_and_folders_without_main_are_skipped(
    tmp_path: Path,
) -> None:
    folder = _functions(
        tmp_path, "step-executor", "start-workflow", "extra", without_main=("notify",)
    )
    plan = supervisor.plan_functions(folder, 9000)
    ports = {spec.name: spec.port for spec in plan.functions}
    assert ports == {"start-workflow": 9001, "step-executor": 9002, "extra": 9006}
    assert plan.skipped == ("notify",)
    assert plan.broker_ingress == "http://127.0.0.1:9000/default/default"
    assert plan.subscribers()["step-executor"] == "http://127.0.0.1:9002"


def test_each_function_gets_the_environment_knative_would_give_it(
    tmp_path: Path,
) -> None:
    plan = supervisor.plan_functions(_functions(tmp_path, "job-trigger"), 9000)
    [spec] = plan.functions
    env = supervisor.function_environment(
        plan, spec, base={"HOME": "/h", "K_SINK": "old"}, database_url="postgresql://db"
    )
    assert env["HOME"] == "/h"
    assert env["DATABASE_URL"] == "postgresql://db"
    assert env["K_SINK"] == "http://127.0.0.1:9000/default/default"
    assert env["K_SERVICE"] == "job-trigger"
    assert (
        env["KNFLOW_SERVICE_URL"]
        == env["KNFLOW_RUNTIME_URL"]
        == "http://127.0.0.1:9001"
    )
    assert env["KNFLOW_JOBS_URL"] == "http://127.0.0.1:9004"


def test_routing_adds_a_trigger_per_event_type_the_workflows_consume(
    tmp_path: Path,
) -> None:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "wait.sw.json").write_text(
        json.dumps(
            {
                "id": "wait",
                "version": "1.0",
                "specVersion": "0.8",
                "start": "Wait",
                "events": [{"name": "go", "type": "org.test.go", "source": "test"}],
                "states": [
                    {
                        "name": "Wait",
                        "type": "event",
                        "end": True,
                        "onEvents": [{"eventRefs": ["go"]}],
                    }
                ],
            }
        )
    )
    routing = supervisor.build_routing(
        Path(__file__).resolve().parents[2] / "eventing", workflows, namespace="default"
    )
    generated = [
        t for t in routing.triggers if t.name.startswith("step-executor-consumed-")
    ]
    assert [t.subscriber.name for t in generated] == ["step-executor"]
    assert generated[0].filter.attributes == {"type": "org.test.go"}  # type: ignore[union-attr]


@pytest.fixture
def running(tmp_path: Path, database_url: str) -> Iterator[Supervisor]:
    plan = supervisor.plan_functions(
        _functions(tmp_path, "step-executor"), free_port_base()
    )
    environments = {
        spec.name: supervisor.function_environment(
            plan, spec, base=dict(os.environ), database_url=database_url
        )
        for spec in plan.functions
    }
    functions = Supervisor(
        plan,
        environments=environments,
        bin_dir=Path(sys.executable).parent,
        state_file=tmp_path / "state.json",
    )
    functions.start()
    yield functions
    functions.stop()


def test_started_functions_answer_their_readiness_probe(
    running: Supervisor, tmp_path: Path
) -> None:
    running.mark_ready(broker="b")
    state = json.loads((tmp_path / "state.json").read_text())
    entry = state["functions"]["step-executor"]
    assert state["ready"] is True
    assert entry["ready"] is True
    assert supervisor.is_ready(entry["url"])


def test_a_killed_function_is_restarted(running: Supervisor, tmp_path: Path) -> None:
    running.mark_ready()
    old_pid = running.pid("step-executor")
    supervisor.kill_tree(old_pid)
    state = _wait_for_state(
        tmp_path / "state.json",
        lambda s: (
            s["functions"]["step-executor"]["restarts"] == 1
            and s["functions"]["step-executor"]["ready"]
        ),
    )
    assert state["functions"]["step-executor"]["pid"] != old_pid
    assert supervisor.is_ready(state["functions"]["step-executor"]["url"])


def test_stop_ends_every_function_process(tmp_path: Path, database_url: str) -> None:
    plan = supervisor.plan_functions(_functions(tmp_path, "notify"), free_port_base())
    environments = {
        "notify": supervisor.function_environment(
            plan, plan.functions[0], base=dict(os.environ), database_url=database_url
        )
    }
    functions = Supervisor(
        plan, environments=environments, bin_dir=Path(sys.executable).parent
    )
    functions.start()
    pid = functions.pid("notify")
    functions.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not supervisor.is_ready(plan.functions[0].url)


def _wait_for_state(
    path: Path, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state: dict[str, Any] = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            state = {}
        if state and predicate(state):
            return state
        time.sleep(0.1)
    raise AssertionError(f"state never matched: {path.read_text()}")
