"""job-trigger's edges (Job Service v2 API and CloudEvents) under hostile input (issue 12).

The refusals are those of Kogito's Job Service (`JobValidator`, `HttpRecipientValidator`)
plus knflow's bounds and its URL policy: only allowed schemes and hosts, since a job is a
way to make knflow call a URL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.edges.envelopes import BINARY, CASES, post
from tests.edges.refusals import assert_refused, assert_up, nested
from tests.stack import DevStack

ALLOWED_HOST = "allowed.example"


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """Jobs may call one host and the cluster's services only."""
    return {"KNFLOW_JOB_RECIPIENT_HOSTS": f"{ALLOWED_HOST},*.svc.cluster.local"}


@pytest.fixture(scope="module")
def jobs(stack: DevStack) -> Iterator[str]:
    """job-trigger's base URL; after the module, it must still be up."""
    url = stack.url("job-trigger")
    yield url
    assert_up(url)


def _job(**changes: Any) -> dict[str, Any]:
    start = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    job: dict[str, Any] = {
        "id": "edge-job",
        "correlationId": "edge",
        "schedule": {"type": "timer", "startTime": start},
        "recipient": {"type": "http", "url": f"http://{ALLOWED_HOST}/hook"},
    }
    for path, value in changes.items():
        target = job
        *parents, last = path.split("__")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = value
    return job


def _post_job(jobs: str, job: Any) -> httpx.Response:
    return httpx.post(f"{jobs}/v2/jobs", json=job, timeout=30)


REFUSED = [
    pytest.param({"schedule__delay": -5}, "negative", id="negative-delay"),
    pytest.param({"schedule__repeatCount": -1}, "negative", id="negative-repeat"),
    pytest.param({"executionTimeout": -1}, "negative", id="negative-timeout"),
    pytest.param(
        {"schedule__repeatCount": 3, "schedule__delay": 0},
        "schedule.delay",
        id="repeat-with-no-delay",
    ),
    pytest.param(
        {"schedule__repeatCount": 3_000_000_000}, "repeatCount", id="repeat-3e9"
    ),
    pytest.param({"schedule__delay": 1e300}, "delay", id="delay-1e300"),
    pytest.param({"schedule__delay": 1.5}, "whole number", id="delay-fraction"),
    pytest.param(
        {"schedule__delay": 10**15, "schedule__delayUnit": "DAYS"},
        "delay",
        id="delay-past-the-calendar",
    ),
    pytest.param(
        {"schedule__startTime": "0001-01-01T00:00:00+14:00"},
        "years 1 to 9999",
        id="start-before-year-1",
    ),
    pytest.param(
        {"schedule__startTime": "9999-12-31T23:59:59-14:00"},
        "years 1 to 9999",
        id="start-after-year-9999",
    ),
    pytest.param({"schedule__startTime": 1700000000}, "ISO 8601", id="start-number"),
    pytest.param({"schedule__startTime": "soon"}, "ISO 8601", id="start-word"),
    pytest.param({"schedule__type": "cron"}, "timer", id="cron"),
    pytest.param({"schedule": "tomorrow"}, "schedule", id="schedule-text"),
    pytest.param(
        {"recipient__url": "file:///etc/passwd"},
        "KNFLOW_JOB_URL_SCHEMES",
        id="file-url",
    ),
    pytest.param(
        {"recipient__url": "gopher://x/"}, "KNFLOW_JOB_URL_SCHEMES", id="gopher-url"
    ),
    pytest.param(
        {"recipient__url": "http://169.254.169.254/latest"},
        "KNFLOW_JOB_RECIPIENT_HOSTS",
        id="host-not-allowed",
    ),
    pytest.param({"recipient__url": "http:///nohost"}, "host", id="url-without-host"),
    pytest.param({"recipient__url": "http://[::1"}, "valid URL", id="url-malformed"),
    pytest.param({"recipient__url": ["http://a"]}, "recipient.url", id="url-list"),
    pytest.param({"recipient__method": "BREW"}, "recipient.method", id="method"),
    pytest.param({"recipient__headers": {"a": 1}}, "recipient.headers", id="headers"),
    pytest.param({"recipient__payload": {"type": "xml"}}, "payload.type", id="payload"),
    pytest.param({"recipient": {"type": "kafka"}}, "not supported", id="kafka"),
    pytest.param({"recipient": ["http"]}, "recipient", id="recipient-list"),
    pytest.param(
        {"recipient": {"type": "sink", "ce-type": "t", "sinkUrl": "file:///x"}},
        "recipient.sinkUrl",
        id="sink-file-url",
    ),
    pytest.param({"id": "a/b"}, "'/'", id="id-with-slash"),
    pytest.param({"id": "  "}, "'id'", id="id-blank"),
    pytest.param({"id": ""}, "'id'", id="id-empty"),
    pytest.param({"id": ["a"]}, "'id'", id="id-list"),
    pytest.param({"id": "x" * 300}, "255", id="id-too-long"),
    pytest.param({"id": "tab\there"}, "control", id="id-control-character"),
    pytest.param({"correlationId": None}, "correlationId", id="no-correlation"),
    pytest.param({"correlationId": {"a": 1}}, "correlationId", id="correlation-object"),
    pytest.param({"processInstanceId": 5}, "processInstanceId", id="process-number"),
    pytest.param({"executionTimeoutUnit": "WEEKS"}, "executionTimeoutUnit", id="unit"),
    pytest.param(
        {"retry": {"maxRetries": "many"}}, "maxRetries", id="retry-count-text"
    ),
    pytest.param({"retry": "always"}, "retry", id="retry-text"),
]


@pytest.mark.parametrize(("changes", "words"), REFUSED)
def test_a_job_the_job_service_would_refuse_is_400_naming_the_field(
    jobs: str, changes: dict[str, Any], words: str
) -> None:
    assert_refused(_post_job(jobs, _job(**changes)), 400, words)


@pytest.mark.parametrize(("changes", "words"), REFUSED[:12])
def test_the_same_job_in_a_job_create_event_is_400_not_retried(
    jobs: str, changes: dict[str, Any], words: str
) -> None:
    headers = {**BINARY, "ce-type": "job.create", "ce-id": f"create-{words}"}
    answer = post(jobs, headers, json.dumps(_job(**changes)).encode())
    assert_refused(answer, 400, words)


@pytest.mark.parametrize(("headers", "body", "status", "words"), CASES)
def test_a_malformed_envelope_is_refused_naming_the_problem(
    jobs: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    words: tuple[str, ...],
) -> None:
    assert_refused(post(jobs, headers, body), status, *words)


@pytest.mark.parametrize("data", [{"id": ["a"]}, {"id": ""}, [], "job-1"])
def test_a_job_delete_event_without_an_id_is_400(jobs: str, data: Any) -> None:
    headers = {**BINARY, "ce-type": "job.delete", "ce-id": f"delete-{data!r}"}
    assert_refused(post(jobs, headers, json.dumps(data).encode()), 400, "id")


def test_infinity_as_a_delay_is_400(jobs: str) -> None:
    body = json.dumps(_job()).replace(
        '"type": "timer"', '"type": "timer", "delay": Infinity'
    )
    answer = httpx.post(
        f"{jobs}/v2/jobs",
        content=body,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert_refused(answer, 400, "Infinity")


def test_a_deeply_nested_job_is_400(jobs: str) -> None:
    body = '{"id": "deep", "payload": ' + nested(10_000) + "}"
    answer = httpx.post(
        f"{jobs}/v2/jobs",
        content=body,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert_refused(answer, 400, "KNFLOW_MAX_JSON_DEPTH")


@pytest.mark.parametrize("path", ["/v2/jobs/a%00b", "/v2/jobs/%20", "/v2/jobs/ghost"])
def test_reading_a_job_that_cannot_exist_is_404(jobs: str, path: str) -> None:
    assert_refused(httpx.get(f"{jobs}{path}", timeout=10), 404)
    assert_refused(httpx.delete(f"{jobs}{path}", timeout=10), 404)


def test_rescheduling_past_the_calendar_is_400(jobs: str) -> None:
    assert _post_job(jobs, _job(id="resched")).status_code == 200
    answer = httpx.patch(
        f"{jobs}/jobs/resched",
        json={"expirationTime": "9999-12-31T23:59:59-14:00"},
        timeout=30,
    )
    assert_refused(answer, 400, "expirationTime")


def test_a_valid_job_to_an_allowed_host_is_accepted(jobs: str) -> None:
    created = _post_job(
        jobs, _job(id="fine", schedule__repeatCount=2, schedule__delay=5)
    )
    assert created.status_code == 200
    assert httpx.get(f"{jobs}/v2/jobs/fine", timeout=10).json()["id"] == "fine"


def test_a_cluster_service_matches_a_wildcard_host(jobs: str) -> None:
    url = "http://svc.ns.svc.cluster.local/hook"
    assert _post_job(jobs, _job(id="cluster", recipient__url=url)).status_code == 200
