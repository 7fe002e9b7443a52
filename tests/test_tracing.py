"""knflow.tracing: off costs nothing (not even an import); on, spans carry W3C trace context."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from knflow.tracing import SpanKind, Tracer
from tests.peers import HttpPeer, Reply

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_function_that_does_not_export_traces_never_imports_opentelemetry() -> None:
    probe = (
        "import sys\n"
        "import knflow.serving, knflow.runtime.step_executor.inbox\n"
        "from knflow.runtime.services import Services\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    printed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert printed.strip() == "[]"


def test_a_tracer_that_is_off_sends_no_trace_context() -> None:
    tracer = Tracer()
    with tracer.span("step", parent={"traceparent": CALLER}):
        assert tracer.carrier() == {}
    assert not tracer.is_on


@pytest.fixture
def exporting(http_peer: HttpPeer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tracer]:
    """A tracer exporting to a collector stand-in (the SDK reads the OTEL_* variables)."""
    http_peer.route("POST", "/v1/traces", Reply(status=200))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", http_peer.url)
    tracer = Tracer.exporting(service_name="tests")
    yield tracer
    tracer.shutdown()
    assert http_peer.received("POST", "/v1/traces")  # the spans were exported


def test_a_span_continues_the_callers_trace_and_hands_on_its_own_span(
    exporting: Tracer,
) -> None:
    tracer = exporting
    with tracer.span("POST /x", kind=SpanKind.SERVER, parent={"Traceparent": CALLER}):
        carrier = tracer.carrier()
    version, trace_id, span_id, flags = carrier["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", CALLER.split("-")[1], "01")
    assert span_id != CALLER.split("-")[2]


def test_a_span_without_a_parent_starts_a_new_trace(exporting: Tracer) -> None:
    tracer = exporting
    with tracer.span("receive tests.happened", parent={"partitionkey": "i1"}):
        trace_id = tracer.carrier()["traceparent"].split("-")[1]
    assert trace_id not in (CALLER.split("-")[1], "0" * 32)
