"""Metrics, traces and logs of the running system, read as an operator would (issue 14).

The stack is `knflow dev`; the workflows' service and the OTLP collector are `http_peer`
routes: the collector stand-in accepts OTLP/HTTP protobuf and the test decodes what it got.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.stacks import instance_status, workflows_folder
from tests.peers import HttpPeer, Reply, started_peer
from tests.stack import DevStack
from tests.waiting import eventually

Samples = dict[tuple[str, frozenset[Any]], float]
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_TRACEPARENT = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"
FUNCTIONS = (
    "start-workflow",
    "step-executor",
    "data-index-sink",
    "job-trigger",
    "notify",
)


def _start(
    stack: DevStack,
    workflow_id: str,
    data: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    *,
    expected: int = 201,
) -> str:
    answer = httpx.post(
        f"{stack.url('start-workflow')}/{workflow_id}",
        json=data or {},
        headers=headers or {},
        timeout=30,
    )
    assert answer.status_code == expected, answer.text
    return str(answer.json()["id"])


def _ended(database_url: str, instance_id: str) -> str:
    return eventually(
        lambda: instance_status(database_url, instance_id),
        lambda status: status not in ("", "ACTIVE"),
        timeout=30,
    )


def _samples(stack: DevStack, function: str) -> Samples:
    """Scrape a function's `/metrics`: (sample name, labels) to value."""
    answer = httpx.get(f"{stack.url(function)}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@dataclass(frozen=True)
class Run:
    """The stack after its runs: two `observed` (one traced by its caller), one failed, one aborted."""

    stack: DevStack
    peer: HttpPeer
    traced: str
    failed: str

    def spans(self) -> list[tuple[str, Any]]:
        """Every span the collector stand-in received, with its service name."""
        found = []
        for request in self.peer.received("POST", "/v1/traces"):
            export = ExportTraceServiceRequest.FromString(request.body)
            for resource_spans in export.resource_spans:
                service = next(
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                )
                found += [
                    (service, span)
                    for scope in resource_spans.scope_spans
                    for span in scope.spans
                ]
        return found

    def traced_spans(self) -> list[tuple[str, Any]]:
        return [
            (s, span) for s, span in self.spans() if span.trace_id.hex() == CALLER_TRACE
        ]

    def log_lines(self) -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for line in self.stack.log_text().splitlines()
            if line.startswith("{")
        ]


@pytest.fixture(scope="module")
def run(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Run]:
    peer_context = started_peer()
    peer = next(peer_context)
    peer.route("POST", "/work/*", Reply(body={"done": True}))
    peer.route("POST", "/greet/*", Reply(status=500, body={"message": "down"}))
    peer.route("POST", "/v1/traces", Reply(status=200))
    stack = DevStack.start(
        workflows_dir=workflows_folder(
            tmp_path_factory.mktemp("observed"),
            "observed.sw.json",
            "greet-rest.sw.json",
            "dozer.sw.json",
        ),
        database_url=module_database_url,
        work_dir=tmp_path_factory.mktemp("stack"),
        env={
            "KNFLOW_FUNCTION_URL_work": peer.url,
            "KNFLOW_FUNCTION_URL_greet": peer.url,
            "OTEL_EXPORTER_OTLP_ENDPOINT": peer.url,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        },
    )
    try:
        traced = _start(stack, "observed", headers={"traceparent": CALLER_TRACEPARENT})
        plain = _start(stack, "observed")
        failed = _start(
            stack, "greetrest", {"language": "en", "name": "Ada"}, expected=500
        )
        dozing = _start(stack, "dozer")
        abort = httpx.delete(
            f"{stack.url('start-workflow')}/dozer/{dozing}", timeout=10
        )
        assert abort.status_code < 300, abort.text
        for instance_id in (traced, plain, failed):
            _ended(module_database_url, instance_id)
        yield Run(stack=stack, peer=peer, traced=traced, failed=failed)
    finally:
        stack.stop()
        next(peer_context, None)


def test_start_workflow_counts_instances_by_outcome_and_its_calls(run: Run) -> None:
    start = _samples(run.stack, "start-workflow")
    assert _value(start, "knflow_instances_started_total", workflow_id="observed") == 2
    assert _value(start, "knflow_instances_started_total", workflow_id="dozer") == 1
    assert (
        _value(
            start,
            "knflow_instances_ended_total",
            workflow_id="greetrest",
            status="ERROR",
        )
        == 1
    )
    assert (
        _value(
            start, "knflow_instances_ended_total", workflow_id="dozer", status="ABORTED"
        )
        == 1
    )
    assert (
        _value(
            start,
            "knflow_call_duration_seconds_count",
            workflow_id="observed",
            function="work",
        )
        == 2
    )
    assert (
        _value(
            start,
            "knflow_call_errors_total",
            workflow_id="greetrest",
            function="greet",
            status="500",
        )
        == 1
    )
    assert (
        _value(start, "knflow_events_published_total", type="knflow.job.scheduled") >= 3
    )


def test_step_executor_counts_completions_calls_and_step_event_delays(run: Run) -> None:
    steps = eventually(
        lambda: _samples(run.stack, "step-executor"),
        lambda s: (
            _value(
                s,
                "knflow_instances_ended_total",
                workflow_id="observed",
                status="COMPLETED",
            )
            == 2
        ),
    )
    assert (
        _value(
            steps,
            "knflow_call_duration_seconds_count",
            workflow_id="observed",
            function="work",
        )
        == 2
    )
    assert (
        _value(steps, "knflow_step_duration_seconds_count", workflow_id="observed") >= 2
    )
    assert _value(steps, "knflow_step_event_delay_seconds_count") >= 2
    assert _value(steps, "knflow_events_received_total", status="202") >= 2


def test_job_trigger_counts_firings_and_their_lateness(run: Run) -> None:
    timers = _samples(run.stack, "job-trigger")
    assert _value(timers, "knflow_job_firings_total", kind="instance") == 2
    assert _value(timers, "knflow_timer_lateness_seconds_count") == 2
    assert _value(timers, "knflow_timer_lateness_seconds_sum") < 2 * 5.0


def test_data_index_sink_measures_its_ingest_lag(run: Run) -> None:
    index = eventually(
        lambda: _samples(run.stack, "data-index-sink"),
        lambda s: _value(s, "knflow_data_index_ingest_lag_seconds_count") >= 8,
    )
    assert _value(index, "knflow_data_index_ingest_lag_seconds_sum") < 60


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_reads_the_backlogs_and_its_pool_at_scrape_time(
    run: Run, function: str
) -> None:
    samples = _samples(run.stack, function)
    assert _value(samples, "knflow_outbox_unsent_events") >= 0
    assert ("knflow_outbox_oldest_unsent_age_seconds", frozenset()) in samples
    assert (
        _value(samples, "knflow_jobs_overdue") == 0
    )  # the dozer's timer was cancelled
    assert _value(samples, "knflow_db_pool_connections_max") >= 1
    assert _value(samples, "knflow_db_pool_requests_total") >= 1


def test_one_trace_follows_an_instance_from_the_callers_start_to_its_end(
    run: Run,
) -> None:
    spans = eventually(
        run.traced_spans,
        lambda found: any(
            s == "step-executor" and span.name == "call work" for s, span in found
        ),
    )
    names = {(service, span.name) for service, span in spans}
    assert ("start-workflow", "POST /{workflow_id}") in names
    assert ("start-workflow", "step observed") in names
    assert ("start-workflow", "call work") in names
    assert ("job-trigger", "timer instance") in names
    assert ("step-executor", "receive knflow.step.ready") in names
    assert ("step-executor", "call work") in names
    assert ("data-index-sink", "receive MultipleProcessInstanceDataEvent") in names
    ended = [
        event
        for _, span in spans
        for event in span.events
        if event.name == "instance ended"
    ]
    assert [a.value.string_value for a in ended[0].attributes if a.key == "status"] == [
        "COMPLETED"
    ]


def test_the_spans_of_a_trace_form_one_tree_under_the_callers_span(run: Run) -> None:
    spans = eventually(run.traced_spans, lambda found: len(found) >= 8)
    ids = {span.span_id for _, span in spans} | {
        bytes.fromhex(CALLER_TRACEPARENT[36:52])
    }
    assert all(span.parent_span_id in ids for _, span in spans)
    assert len({span.span_id for _, span in spans}) == len(spans)


def test_called_services_receive_the_traceparent_of_their_call(run: Run) -> None:
    calls = [
        request
        for request in run.peer.received("POST")
        if request.path.startswith("/work/")
        and CALLER_TRACE in request.headers.get("traceparent", "")
    ]
    assert sorted(request.path for request in calls) == ["/work/first", "/work/second"]


def test_an_instance_logs_its_start_and_end_with_its_workflow_instance_and_trace(
    run: Run,
) -> None:
    about = [line for line in run.log_lines() if line.get("instanceId") == run.traced]
    messages = {line["message"]: line for line in about}
    assert {"instance started", "instance ended"} <= messages.keys()
    for message in ("instance started", "instance ended"):
        assert messages[message]["workflowId"] == "observed"
        assert messages[message]["traceId"] == CALLER_TRACE
    assert messages["instance ended"]["status"] == "COMPLETED"


def test_a_failed_call_and_the_failed_instance_are_logged_as_warnings(run: Run) -> None:
    about = [line for line in run.log_lines() if line.get("instanceId") == run.failed]
    warnings = {line["message"]: line for line in about if line["level"] == "WARNING"}
    assert warnings["function call failed"]["kind"] == "HTTP:500"
    assert warnings["instance failed"]["workflowId"] == "greetrest"


def test_indexing_an_event_is_not_logged_at_info(run: Run) -> None:
    assert not [line for line in run.log_lines() if line["message"] == "event indexed"]
