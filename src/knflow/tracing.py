"""Traces: spans around what knflow does, exported over OTLP when configured, free otherwise.

With `OTEL_EXPORTER_OTLP_ENDPOINT` unset, a `Tracer` is off: its spans cost a function call and
OpenTelemetry is never imported (a scale-to-zero function pays every import at each cold start).
With it set, `tracing_sdk` — imported then — builds the SDK's provider with a batching OTLP/HTTP
exporter. Trace context crosses processes as W3C `traceparent`/`tracestate`: the headers of
requests and calls, and the CloudEvents distributed-tracing extension attributes of the events
knflow publishes (kept with them in the outbox, so a re-published event keeps its trace).

This module must not import `opentelemetry`; `tracing_sdk` is its only home.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Protocol

from knflow import logs

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

TRACE_HEADERS: Final = ("traceparent", "tracestate")
"""W3C Trace Context fields; also the names of the CloudEvents distributed-tracing attributes."""


class SpanKind(StrEnum):
    """The OpenTelemetry span kinds knflow uses."""

    SERVER = "SERVER"
    """An HTTP request knflow answers."""
    CONSUMER = "CONSUMER"
    """A CloudEvent delivered to a function."""
    CLIENT = "CLIENT"
    """A call knflow makes (a workflow function)."""
    INTERNAL = "INTERNAL"
    """Work inside a function (a step, a timer firing)."""


class Backend(Protocol):
    """What a tracer needs from OpenTelemetry (`tracing_sdk.SdkBackend`)."""

    def span(
        self,
        name: str,
        *,
        kind: SpanKind,
        parent: Mapping[str, str] | None,
        attributes: Mapping[str, str],
    ) -> AbstractContextManager[str]:
        """Open a current span; the block gets its trace id (32 hex digits)."""

    def carrier(self) -> dict[str, str]:
        """Return the current span's `traceparent` (and `tracestate`), or nothing."""

    def add_event(self, name: str, attributes: Mapping[str, str]) -> None:
        """Record a point in time on the current span."""

    def fail(self, message: str) -> None:
        """Mark the current span as failed."""

    def shutdown(self) -> None:
        """Export what is buffered and stop."""


class Tracer:
    """The process's tracer: off (every method a no-op) or backed by the OpenTelemetry SDK."""

    def __init__(self, backend: Backend | None = None) -> None:
        """Trace with `backend`, or not at all."""
        self._backend = backend

    @classmethod
    def exporting(cls, *, service_name: str) -> Tracer:
        """Return a tracer exporting over OTLP/HTTP (the endpoint from `OTEL_*` variables)."""
        # Imported here: only processes that export traces pay for OpenTelemetry.
        from knflow import tracing_sdk

        return cls(tracing_sdk.SdkBackend(service_name=service_name))

    @property
    def is_on(self) -> bool:
        """Tell whether spans are recorded."""
        return self._backend is not None

    @contextmanager
    def span(
        self,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        parent: Mapping[str, str] | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> Iterator[None]:
        """Run the block in a span, a child of `parent` (a carrier) or of the current span.

        Records logged inside carry the trace id (`traceId`).
        """
        if self._backend is None:
            yield
            return
        with (
            self._backend.span(
                name, kind=kind, parent=_traced(parent), attributes=attributes or {}
            ) as trace_id,
            logs.context(trace_id=trace_id),
        ):
            yield

    def carrier(self) -> dict[str, str]:
        """Return the trace context to send along (headers, CloudEvent attributes)."""
        return {} if self._backend is None else self._backend.carrier()

    def add_event(self, name: str, **attributes: str) -> None:
        """Record `name` on the current span (an instance ended, a retry scheduled...)."""
        if self._backend is not None:
            self._backend.add_event(name, attributes)

    def fail(self, message: str) -> None:
        """Mark the current span as failed with `message` (no exception text)."""
        if self._backend is not None:
            self._backend.fail(message)

    def shutdown(self) -> None:
        """Export the spans still buffered and stop (also done when the process exits)."""
        if self._backend is not None:
            self._backend.shutdown()


def _traced(carrier: Mapping[str, str] | None) -> dict[str, str] | None:
    """The trace fields of `carrier` (headers or CloudEvent attributes), None without any."""
    if carrier is None:
        return None
    lowered = {key.lower(): value for key, value in carrier.items()}
    found = {key: lowered[key] for key in TRACE_HEADERS if lowered.get(key)}
    return found or None
