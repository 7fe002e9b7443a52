"""The OpenTelemetry SDK behind `tracing.Tracer`: a provider exporting over OTLP/HTTP.

Imported only when traces are exported (`tracing.Tracer.exporting`); the only module that
imports `opentelemetry`, and it imports nothing of knflow. The exporter reads its endpoint, headers and timeout from the standard
`OTEL_EXPORTER_OTLP_*` variables, the batch processor its delays from `OTEL_BSP_*`, and the
resource `OTEL_RESOURCE_ATTRIBUTES`; spans still buffered are flushed when the process exits.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

INSTRUMENTATION: Final = "knflow"


class SdkBackend:
    """Spans of one process, batched to the OTLP endpoint."""

    def __init__(self, *, service_name: str) -> None:
        """Build the provider; it is this process's own, not OpenTelemetry's global one."""
        self._provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: service_name})
        )
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self._tracer = self._provider.get_tracer(INSTRUMENTATION)
        self._propagator = TraceContextTextMapPropagator()

    @contextmanager
    def span(
        self,
        name: str,
        *,
        kind: str,
        parent: Mapping[str, str] | None,
        attributes: Mapping[str, str],
    ) -> Iterator[str]:
        """Open a current span of `kind` (a `trace.SpanKind` name); the block gets its
        trace id (32 hex digits).
        """
        context = None if parent is None else self._propagator.extract(dict(parent))
        with self._tracer.start_as_current_span(
            name,
            context=context,
            kind=trace.SpanKind[kind],
            attributes=dict(attributes),
        ) as span:
            yield format(span.get_span_context().trace_id, "032x")

    def carrier(self) -> dict[str, str]:
        """Return the current span's `traceparent` (and `tracestate`), or nothing."""
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier)
        return carrier

    def add_event(self, name: str, attributes: Mapping[str, str]) -> None:
        """Record a point in time on the current span."""
        trace.get_current_span().add_event(name, dict(attributes))

    def fail(self, message: str) -> None:
        """Mark the current span as failed."""
        trace.get_current_span().set_status(Status(StatusCode.ERROR, message))

    def shutdown(self) -> None:
        """Export what is buffered and stop."""
        self._provider.shutdown()
