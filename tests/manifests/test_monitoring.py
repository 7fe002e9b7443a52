"""monitoring/ and the metrics Service agree with each other, the functions and knflow's series."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from knflow.deploy import documents
from knflow.metrics import Metrics, PoolUsage, Snapshot, render
from tests.conftest import ROOT

MONITORING = ROOT / "monitoring"
FUNCTIONS = sorted(p.name for p in (ROOT / "functions").iterdir() if p.is_dir())


def _one(path: str) -> dict[str, Any]:
    [obj] = documents.read(ROOT / path)
    return obj


def _served_series() -> set[str]:
    pool = PoolUsage(
        size=1,
        available=1,
        max_size=1,
        waiting=0,
        requests=0,
        wait=timedelta(),
        errors=0,
    )
    metrics = Metrics()
    metrics.instances_ended.labels("w", "ERROR").inc()
    metrics.notification_deliveries.labels("backstage", "SENT").inc()
    metrics.data_index_lag.observe(1.0)
    snapshot = Snapshot(
        outbox_unsent=0,
        outbox_oldest_unsent=None,
        jobs_overdue=0,
        jobs_oldest_overdue=None,
        pool=pool,
    )
    text = render(metrics, snapshot, multiprocess_dir="").decode()
    return {
        sample.name
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_service_monitor_scrapes_the_metrics_service_port() -> None:
    service = _one("knative/service-knflow-metrics.yaml")
    monitor = _one("monitoring/servicemonitor-knflow.yaml")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items()
        <= service["metadata"]["labels"].items()
    )
    ports = {port["name"] for port in service["spec"]["ports"]}
    assert {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]} <= ports


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_function_is_selected_by_the_metrics_service_and_annotated(
    name: str,
) -> None:
    func = _one(f"functions/{name}/func.yaml")
    service = _one("knative/service-knflow-metrics.yaml")
    labels = {label["key"]: label["value"] for label in func["deploy"]["labels"]}
    assert service["spec"]["selector"].items() <= labels.items()
    assert func["deploy"]["annotations"]["prometheus.io/path"] == "/metrics"


def test_every_series_an_alert_names_is_one_knflow_serves() -> None:
    rules = _one("monitoring/prometheusrule-knflow.yaml")["spec"]["groups"][0]["rules"]
    named = {
        series
        for rule in rules
        for series in re.findall(r"\bknflow_[a-z_]+", str(rule["expr"]))
    }
    assert named
    assert named - _served_series() == set()
