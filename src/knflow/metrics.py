"""Prometheus metrics: every series knflow serves is defined here, and rendered for `/metrics`.

Use cases count facts where they know them (`services.metrics.<series>.labels(...).inc()`);
`serving` renders them on `/metrics`. What describes the database rather than this process
(the outbox backlog, overdue timers, the connection pool) is read at scrape time and handed
to `render` as a `Snapshot`, so no background work keeps a scaled-to-zero function awake.

This is the only module that imports `prometheus_client`. With several gunicorn workers, set
`PROMETHEUS_MULTIPROC_DIR` to an empty folder shared by them: counters and histograms are
then summed over the workers at each scrape (`prometheus_client.multiprocess`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
"""The media type of what `render` returns (Prometheus text format 0.0.4)."""
LATENCY_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
"""Seconds; steps and calls take milliseconds to a call timeout (30 s by default)."""
LATENESS_BUCKETS: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0)
"""Seconds behind due time; a PingSource tick is 60 s, a re-drive 30 s."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolUsage:
    """The connection pool of this process, as psycopg_pool counts it."""

    size: int
    """Connections open."""
    available: int
    """Open connections idle in the pool."""
    max_size: int
    """Most connections the pool may open."""
    waiting: int
    """Requests waiting for a connection now."""
    requests: int
    """Connections handed out since start."""
    wait: timedelta
    """Time requests spent waiting for a connection, in total."""
    errors: int
    """Requests that got no connection (timed out or failed)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """What a scrape reads from the database and the pool, at scrape time."""

    outbox_unsent: int
    """Outbox rows written and not yet accepted by the broker."""
    outbox_oldest_unsent: timedelta | None
    """Age of the oldest of them; None when there is none."""
    jobs_overdue: int
    """Timers past their due time that no job-trigger fired yet."""
    jobs_oldest_overdue: timedelta | None
    """How far the most overdue of them is behind; None when there is none."""
    pool: PoolUsage | None = None
    """The pool of the scraping process (None before it opened one)."""


class _SnapshotCollector(Collector):
    """Renders one `Snapshot` as gauges and counters, for one scrape."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot
        yield _gauge(
            "knflow_outbox_unsent_events",
            "Outbox rows not yet accepted by the broker.",
            snapshot.outbox_unsent,
        )
        yield _gauge(
            "knflow_outbox_oldest_unsent_age_seconds",
            "Age of the oldest unsent outbox row (0 when none).",
            _seconds(snapshot.outbox_oldest_unsent),
        )
        yield _gauge(
            "knflow_jobs_overdue",
            "Timers past their due time and not fired yet.",
            snapshot.jobs_overdue,
        )
        yield _gauge(
            "knflow_jobs_oldest_overdue_seconds",
            "How far the most overdue timer is behind its due time (0 when none).",
            _seconds(snapshot.jobs_oldest_overdue),
        )
        if snapshot.pool is not None:
            yield from _pool_metrics(snapshot.pool)


class Metrics:
    """The series one process counts; built once per process with the `Services`.

    Each instance has its own registry, so that tests and tools can build several.
    """

    def __init__(self) -> None:
        """Define every series on a registry of its own."""
        disable_created_metrics()  # type: ignore[no-untyped-call] # `_created` series double the output for no alert
        self.registry = CollectorRegistry(auto_describe=True)
        on = self.registry
        self.instances_started = Counter(
            "knflow_instances_started",
            "Workflow instances created.",
            ["workflow_id"],
            registry=on,
        )
        self.instances_ended = Counter(
            "knflow_instances_ended",
            "Workflow instances that ended, by status (COMPLETED, ERROR, ABORTED).",
            ["workflow_id", "status"],
            registry=on,
        )
        self.step_duration = Histogram(
            "knflow_step_duration_seconds",
            "Time to advance an instance by one activation (engine and writes).",
            ["workflow_id"],
            buckets=LATENCY_BUCKETS,
            registry=on,
        )
        self.step_event_delay = Histogram(
            "knflow_step_event_delay_seconds",
            "Time from a step event's creation to step-executor taking it.",
            buckets=LATENESS_BUCKETS,
            registry=on,
        )
        self.call_duration = Histogram(
            "knflow_call_duration_seconds",
            "Duration of workflow function calls, failed ones included.",
            ["workflow_id", "function"],
            buckets=LATENCY_BUCKETS,
            registry=on,
        )
        self.call_errors = Counter(
            "knflow_call_errors",
            "Failed workflow function calls, by HTTP status or error kind.",
            ["workflow_id", "function", "status"],
            registry=on,
        )
        self.events_published = Counter(
            "knflow_events_published",
            "CloudEvents the broker accepted, by type.",
            ["type"],
            registry=on,
        )
        self.events_failed = Counter(
            "knflow_events_publish_failed",
            "Attempts to publish a CloudEvent that the broker did not accept.",
            ["type"],
            registry=on,
        )
        self.events_received = Counter(
            "knflow_events_received",
            "CloudEvents delivered to this function, by the HTTP status answered "
            "(2xx handled, 503 retried by the broker, 400/422 refused, 500 failed).",
            ["status"],
            registry=on,
        )
        self.timer_lateness = Histogram(
            "knflow_timer_lateness_seconds",
            "How long after its due time a timer fired.",
            buckets=LATENESS_BUCKETS,
            registry=on,
        )
        self.job_firings = Counter(
            "knflow_job_firings",
            "Jobs fired by job-trigger, by recipient kind (instance, start, sink, http).",
            ["kind"],
            registry=on,
        )
        self.notification_deliveries = Counter(
            "knflow_notification_deliveries",
            "Notification send attempts by channel and outcome "
            "(UNAUTHORIZED: knflow's token or the channel's rules are wrong).",
            ["channel", "outcome"],
            registry=on,
        )
        self.data_index_lag = Histogram(
            "knflow_data_index_ingest_lag_seconds",
            "Time from a Data Index event's creation to its ingestion.",
            buckets=LATENESS_BUCKETS,
            registry=on,
        )


def render(
    metrics: Metrics, snapshot: Snapshot | None, *, multiprocess_dir: str
) -> bytes:
    """Render the series and `snapshot` (when there is one) in the Prometheus text format.

    With `multiprocess_dir` (PROMETHEUS_MULTIPROC_DIR), the counted series are those of every
    worker of the function, read from that folder.
    """
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir:
        # Imported here: only functions running several workers read the shared folder.
        from prometheus_client.multiprocess import MultiProcessCollector

        MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    else:
        registry.register(_RegistryCollector(metrics.registry))
    if snapshot is not None:
        registry.register(_SnapshotCollector(snapshot))
    return generate_latest(registry)


class _RegistryCollector(Collector):
    """Collects another registry (the counted series of this process)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        return iter(self.source.collect())


def _pool_metrics(pool: PoolUsage) -> Iterator[Metric]:
    yield _gauge(
        "knflow_db_pool_connections", "Connections the pool holds open.", pool.size
    )
    yield _gauge(
        "knflow_db_pool_connections_idle",
        "Open connections idle in the pool.",
        pool.available,
    )
    yield _gauge(
        "knflow_db_pool_connections_max",
        "Most connections the pool may open.",
        pool.max_size,
    )
    yield _gauge(
        "knflow_db_pool_requests_waiting",
        "Requests waiting for a connection now.",
        pool.waiting,
    )
    yield _counter(
        "knflow_db_pool_requests", "Connections handed out by the pool.", pool.requests
    )
    yield _counter(
        "knflow_db_pool_wait_seconds",
        "Time spent waiting for a pool connection.",
        pool.wait.total_seconds(),
    )
    yield _counter(
        "knflow_db_pool_errors",
        "Requests that got no connection from the pool.",
        pool.errors,
    )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _seconds(age: timedelta | None) -> float:
    return 0.0 if age is None else max(age.total_seconds(), 0.0)
