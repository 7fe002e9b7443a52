"""The whole system as `knflow dev` runs it: REST, broker, step-executor, events, robustness."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

from knflow.events.codec import Event
from tests.backstage import TOKEN, BackstageStandIn
from tests.conftest import TEST_DATA
from tests.e2e.stacks import instance_status, post_event, workflows_folder
from tests.peers import HttpPeer, Recorded, Reply
from tests.stack import DevStack
from tests.waiting import eventually

WORKFLOWS = TEST_DATA / "workflows"
StackFactory = Callable[..., DevStack]


def test_parallel_branches_are_executed_by_step_executor_and_answer_with_the_output(
    dev_stack_factory: StackFactory, tmp_path: Path, http_peer: HttpPeer
) -> None:
    def both_at_once(request: Recorded) -> Reply:
        http_peer.wait_for(2, method="POST")  # answers only once both branches called
        return Reply(body={"branch": request.path.rsplit("/", 1)[-1]})

    http_peer.route("POST", "/slow/*", both_at_once)
    stack = dev_stack_factory(
        workflows_folder(tmp_path, "fanout.sw.json"),
        env={"KNFLOW_FUNCTION_URL_slow": http_peer.url},
    )
    answer = httpx.post(f"{stack.url('start-workflow')}/fanout", json={}, timeout=60)
    assert answer.status_code == 201
    assert answer.json()["workflowdata"] == {"a": {"branch": "a"}, "b": {"branch": "b"}}
    assert "step.ready" in stack.log_text()  # one branch travelled through the broker


def test_an_event_through_the_broker_resumes_a_waiting_instance(
    dev_stack_factory: StackFactory, tmp_path: Path, database_url: str
) -> None:
    stack = dev_stack_factory(workflows_folder(tmp_path, "waiter.sw.json"))
    started = httpx.post(
        f"{stack.url('start-workflow')}/waiter", json={}, timeout=30
    ).json()
    assert (
        httpx.get(f"{stack.url('start-workflow')}/waiter/{started['id']}").status_code
        == 200
    )
    event = Event(
        id="approval-1",
        source="tests",
        type="org.example.approval",
        data={"ok": True},
        extensions={"kogitoprocrefid": started["id"]},
    )
    assert post_event(stack, event).status_code == 202
    eventually(lambda: instance_status(database_url, started["id"]) == "COMPLETED")
    assert (
        httpx.get(f"{stack.url('start-workflow')}/waiter/{started['id']}").status_code
        == 404
    )


def test_a_malformed_event_is_refused_by_the_broker(
    dev_stack_factory: StackFactory, tmp_path: Path
) -> None:
    stack = dev_stack_factory(workflows_folder(tmp_path, "waiter.sw.json"))
    answer = httpx.post(
        stack.broker_url, content=b"{}", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400


def test_killed_step_executor_is_restarted_and_every_instance_completes_once(
    dev_stack_factory: StackFactory,
    tmp_path: Path,
    http_peer: HttpPeer,
    database_url: str,
) -> None:
    def slowly(request: Recorded) -> Reply:
        time.sleep(0.5)  # the stand-in service's own latency, so calls are in flight
        return Reply(body={"branch": request.path.rsplit("/", 1)[-1]})

    http_peer.route("POST", "/slow/*", slowly)
    env = {
        "KNFLOW_FUNCTION_URL_slow": http_peer.url,
        "KNFLOW_SYNC_BUDGET_SECONDS": "0.1",
        "KNFLOW_ACTION_TIMEOUT_SECONDS": "2",
        "KNFLOW_REDRIVE_AFTER_SECONDS": "1",
    }
    stack = dev_stack_factory(workflows_folder(tmp_path, "fanout.sw.json"), env=env)
    ids = [
        httpx.post(f"{stack.url('start-workflow')}/fanout", json={}, timeout=30).json()[
            "id"
        ]
        for _ in range(6)
    ]
    http_peer.wait_for(3, method="POST")
    killed = stack.kill("step-executor")
    stack.wait_restarted("step-executor", old_pid=killed)

    def all_completed() -> bool:
        ping = Event(
            id=f"ping-{time.monotonic()}",
            source="tests",
            type="dev.knative.sources.ping",
            data={},
        )
        post_event(
            stack, ping
        )  # a reconcile tick, as the PingSource sends every minute
        return all(instance_status(database_url, i) == "COMPLETED" for i in ids)

    eventually(all_completed, timeout=90)
    with psycopg.connect(database_url) as conn:
        ended = conn.execute(
            "SELECT instance_id, count(*)"
            "  FROM outbox, jsonb_array_elements(event->'data') AS inner_event"
            " WHERE event_type = 'MultipleProcessInstanceDataEvent'"
            "   AND inner_event->>'type' = 'ProcessInstanceStateDataEvent'"
            "   AND inner_event->'data'->>'eventType' = '2'"
            " GROUP BY instance_id"
        ).fetchall()
    assert sorted(ended) == sorted((i, 1) for i in ids)


def test_a_started_instance_is_in_the_data_index_within_a_second(
    dev_stack_factory: StackFactory, tmp_path: Path
) -> None:
    stack = dev_stack_factory(workflows_folder(tmp_path, "child.sw.json"))
    started = httpx.post(
        f"{stack.url('start-workflow')}/child", json={"n": 1}, timeout=30
    )
    instance_id = started.json()["id"]
    query = {
        "query": "query ($id: String) { ProcessInstances(where: {id: {equal: $id}}) { id processId state"
        " serviceUrl variables } }",
        "variables": {"id": instance_id},
    }

    def listed() -> list[dict[str, Any]]:
        answer = httpx.post(
            f"{stack.url('data-index-sink')}/graphql", json=query, timeout=5
        )
        return list(answer.json()["data"]["ProcessInstances"])

    found = eventually(listed, timeout=1.0)
    assert found
    assert found[0]["processId"] == "child"
    assert found[0]["state"] in ("ACTIVE", "COMPLETED")
    assert found[0]["serviceUrl"] == stack.url("start-workflow")
    eventually(lambda: listed()[0]["state"] == "COMPLETED", timeout=10)


def test_an_ended_run_notifies_its_initiator_in_backstage(
    dev_stack_factory: StackFactory, tmp_path: Path, backstage_api: BackstageStandIn
) -> None:
    env = {
        "BACKSTAGE_URL": backstage_api.url,
        "BACKSTAGE_NOTIFICATIONS_TOKEN": TOKEN,
    }
    stack = dev_stack_factory(workflows_folder(tmp_path, "child.sw.json"), env=env)
    body = {"workflowdata": {"n": 1}, "initiatorEntity": "user:default/ann"}
    instance_id = httpx.post(
        f"{stack.url('start-workflow')}/child", json=body, timeout=30
    ).json()["id"]
    [stored] = eventually(backstage_api.notifications, timeout=30)
    assert stored["user"] == "user:default/ann"
    assert stored["payload"]["link"] == f"/orchestrator/instances/{instance_id}"


def test_a_sleep_is_woken_by_job_trigger_on_time_not_at_the_next_tick(
    dev_stack_factory: StackFactory, tmp_path: Path, database_url: str
) -> None:
    stack = dev_stack_factory(workflows_folder(tmp_path, "napper.sw.json"))
    started = httpx.post(f"{stack.url('start-workflow')}/napper", json={}, timeout=30)
    assert started.status_code == 201
    instance_id = started.json()["id"]
    # Answered at the wait, with the data before the sleep (reading the status afterwards
    # would race with the 0.2 s timer on a loaded machine).
    assert "rested" not in started.json()["workflowdata"]
    # The minute tick is far: only the runtime's wake-up hint can fire the timer this soon.
    eventually(
        lambda: instance_status(database_url, instance_id) == "COMPLETED", timeout=15
    )


def test_a_retry_backs_off_through_job_trigger_then_succeeds(
    dev_stack_factory: StackFactory,
    tmp_path: Path,
    http_peer: HttpPeer,
    database_url: str,
) -> None:
    http_peer.queue("POST", "/flaky", Reply(status=503), Reply(status=503))
    http_peer.route("POST", "/flaky", Reply(body={"ok": True}))
    stack = dev_stack_factory(
        workflows_folder(tmp_path, "retrier.sw.json"),
        env={"KNFLOW_FUNCTION_URL_flaky": http_peer.url},
    )
    instance_id = httpx.post(
        f"{stack.url('start-workflow')}/retrier", json={}, timeout=30
    ).json()["id"]
    eventually(
        lambda: instance_status(database_url, instance_id) == "COMPLETED", timeout=20
    )
    calls = http_peer.received("POST", "/flaky")
    assert len(calls) == 3


def test_a_cron_schedule_starts_instances(
    dev_stack_factory: StackFactory, tmp_path: Path, database_url: str
) -> None:
    stack = dev_stack_factory(workflows_folder(tmp_path, "ticker.sw.json"))

    def started() -> int:
        post_event(
            stack,
            Event(
                id=f"tick-{time.monotonic()}",
                source="tests",
                type="dev.knative.sources.ping",
                data={},
            ),
        )
        with psycopg.connect(database_url) as conn:
            found = conn.execute(
                "SELECT count(*) FROM instances WHERE workflow_id = 'ticker'"
            ).fetchone()
        return int(found[0]) if found else 0

    eventually(lambda: started() >= 2, timeout=30)


def test_the_job_service_api_fires_an_http_job(
    dev_stack_factory: StackFactory, tmp_path: Path, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/hook", Reply(status=200))
    stack = dev_stack_factory(workflows_folder(tmp_path, "child.sw.json"))
    due = time.time() + 5  # far enough that the job is still pending when read back
    job = {
        "id": "e2e-job",
        "correlationId": "c",
        "recipient": {"type": "http", "url": f"{http_peer.url}/hook"},
        "schedule": {
            "type": "timer",
            "startTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(due)) + "Z",
        },
    }
    created = httpx.post(f"{stack.url('job-trigger')}/v2/jobs", json=job, timeout=30)
    assert created.status_code == 200  # the Job Service answers the job, as created
    assert httpx.get(f"{stack.url('job-trigger')}/v2/jobs/e2e-job").status_code == 200
    http_peer.wait_for(1, method="POST", path="/hook", timeout=30)
