"""knflow.metrics: the series render in the Prometheus text format, with scrape-time gauges."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from knflow.metrics import Metrics, PoolUsage, Snapshot, render

SNAPSHOT = Snapshot(
    outbox_unsent=3,
    outbox_oldest_unsent=timedelta(seconds=42),
    jobs_overdue=0,
    jobs_oldest_overdue=None,
    pool=PoolUsage(
        size=2,
        available=1,
        max_size=8,
        waiting=0,
        requests=10,
        wait=timedelta(milliseconds=1500),
        errors=0,
    ),
)


def _values(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


def test_counted_series_and_the_snapshot_render_together() -> None:
    metrics = Metrics()
    metrics.instances_started.labels("hello").inc()
    metrics.call_duration.labels("hello", "greet").observe(0.2)
    values = _values(render(metrics, SNAPSHOT, multiprocess_dir=""))
    assert values[("knflow_instances_started_total", (("workflow_id", "hello"),))] == 1
    labels = (("function", "greet"), ("workflow_id", "hello"))
    assert values[("knflow_call_duration_seconds_count", labels)] == 1
    assert values[("knflow_outbox_unsent_events", ())] == 3
    assert values[("knflow_outbox_oldest_unsent_age_seconds", ())] == 42
    assert values[("knflow_jobs_oldest_overdue_seconds", ())] == 0
    assert values[("knflow_db_pool_wait_seconds_total", ())] == 1.5


def test_without_a_snapshot_only_the_counted_series_render() -> None:
    values = _values(render(Metrics(), None, multiprocess_dir=""))
    assert ("knflow_outbox_unsent_events", ()) not in values
    assert not [name for name, _ in values if name.endswith("_created")]


def test_two_metrics_of_one_process_keep_their_own_counts() -> None:
    first, second = Metrics(), Metrics()
    first.job_firings.labels("instance").inc()
    values = _values(render(second, None, multiprocess_dir=""))
    assert ("knflow_job_firings_total", (("kind", "instance"),)) not in values


def test_multiprocess_mode_sums_the_series_of_every_worker(tmp_path: Path) -> None:
    count_one = "from knflow.metrics import Metrics; Metrics().instances_started.labels('w').inc()"
    for _ in range(2):  # two workers, each its own process
        subprocess.run(
            [sys.executable, "-c", count_one],
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
            check=True,
        )
    values = _values(render(Metrics(), SNAPSHOT, multiprocess_dir=str(tmp_path)))
    assert values[("knflow_instances_started_total", (("workflow_id", "w"),))] == 2
    assert values[("knflow_outbox_unsent_events", ())] == 3
