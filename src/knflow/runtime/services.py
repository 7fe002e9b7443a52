"""What every use case receives: settings, the database pool, the HTTP client and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from knflow.auth.gate import Gate
from knflow.auth.policy import Policy
from knflow.config import AuthMode, Settings
from knflow.metrics import Metrics
from knflow.outbound.http import HttpClient
from knflow.runtime.catalog import DefinitionCache
from knflow.runtime.heartbeat import Heartbeat
from knflow.runtime.sweeper import Sweeper
from knflow.store.db import Pool
from knflow.tracing import Tracer

Clock = Callable[[], datetime]

OPEN_GATE: Final[Gate] = Gate(mode=AuthMode.OFF, policy=Policy(), anonymous=frozenset())
"""The gate of processes that serve no requests (the CLI, local runs)."""


def system_clock() -> datetime:
    """Return the current time, aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Services:
    """Dependencies of a use case, built once per process by `serving` or the CLI."""

    settings: Settings
    """The process configuration."""
    pool: Pool
    """The PostgreSQL connection pool."""
    http: HttpClient
    """The outbound HTTP client."""
    clock: Clock = system_clock
    """The time source; tests pass their own."""
    definitions: DefinitionCache = field(default_factory=DefinitionCache)
    """Parsed definitions of this process."""
    gate: Gate = field(default_factory=lambda: OPEN_GATE)
    """Authentication and authorization of requests (`serving` builds it from the settings)."""
    metrics: Metrics = field(default_factory=Metrics)
    """The Prometheus series this process counts (served on `/metrics`)."""
    tracer: Tracer = field(default_factory=Tracer)
    """Spans of this process; off unless `serving` was configured to export them."""
    sweeper: Sweeper = field(default_factory=Sweeper)
    """When this process looks for stalled work; inert unless `serving` started it."""
    heartbeat: Heartbeat = field(default_factory=Heartbeat)
    """Renews the claims of calls in flight (one thread, started at the first call)."""
