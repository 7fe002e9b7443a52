"""The manifest checks refuse what a cluster would refuse, naming the file and the path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from knflow.deploy import admission, documents, validation
from tests.conftest import ROOT
from tests.manifests.schemas import crd_schemas, file_problems

TRIGGER = documents.read(ROOT / "eventing" / "trigger-step-executor-step-ready.yaml")[0]
PING = documents.read(ROOT / "eventing" / "pingsource-job-trigger-tick.yaml")[0]
JOB = documents.read(ROOT / "knative" / "job-knflow-migrate.yaml")[0]


def _changed(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    *parents, last = path.split("/")
    target = changed
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return changed


def _pointers(obj: dict[str, Any]) -> list[str]:
    found = validation.find_schema_problems(obj, crd_schemas())
    found += admission.find_admission_problems(obj)
    return [problem.pointer for problem in found]


def test_broken_manifest_fails_with_its_file_and_path(tmp_path: Path) -> None:
    broken = _changed(TRIGGER, "spec/delivery/backoffPolicy", "sometimes")
    path = tmp_path / "trigger-broken.yaml"
    path.write_text(documents.render([broken]), encoding="utf-8")

    problems = file_problems(path)

    assert problems == [
        f"{path}: Trigger/step-executor-step-ready: /spec/delivery/backoffPolicy:"
        " must be linear or exponential"
    ]


@pytest.mark.parametrize(
    ("path", "value", "pointer"),
    [
        ("spec/filtr", {"attributes": {"type": "x"}}, "/spec/filtr"),
        ("spec/delivery/retries", 3, "/spec/delivery/retries"),
        ("spec/subscriber/ref/nmae", "x", "/spec/subscriber/ref/nmae"),
        ("metadata/lables", {"a": "b"}, "/metadata/lables"),
    ],
    ids=["preserve-unknown-spec", "delivery", "subscriber-ref", "metadata"],
)
def test_unknown_field_is_refused_even_where_the_crd_preserves_unknown_fields(
    path: str, value: Any, pointer: str
) -> None:
    assert _pointers(_changed(TRIGGER, path, value)) == [pointer]


def test_delivery_timeout_is_accepted_although_the_trigger_crd_omits_it() -> None:
    assert _pointers(_changed(TRIGGER, "spec/delivery/timeout", "PT5S")) == []


def test_wrong_type_is_refused_by_the_schema() -> None:
    pointers = _pointers(_changed(TRIGGER, "spec/delivery/retry", "three"))

    assert set(pointers) == {"/spec/delivery/retry"}


@pytest.mark.parametrize(
    ("path", "value", "pointer"),
    [
        ("spec/delivery/retry", -1, "/spec/delivery/retry"),
        ("spec/delivery/backoffDelay", "5s", "/spec/delivery/backoffDelay"),
        ("spec/delivery/timeout", "PT0S", "/spec/delivery/timeout"),
        ("spec/delivery/format", "xml", "/spec/delivery/format"),
        ("spec/delivery/retryAfterMax", "PT1M", "/spec/delivery/retryAfterMax"),
        ("spec/filter/attributes/Type", "x", "/spec/filter/attributes/Type"),
        ("spec/broker", ..., "/spec"),
        ("spec/subscriber/ref/name", ..., "/spec/subscriber/ref/name"),
        ("spec/subscriber/uri", "http://elsewhere", "/spec/subscriber/uri"),
        ("spec/subscriber/ref/namespace", "other", "/spec/subscriber/ref/namespace"),
        (
            "spec/delivery/deadLetterSink",
            {"uri": "/relative"},
            "/spec/delivery/deadLetterSink/uri",
        ),
    ],
    ids=[
        "negative-retry",
        "duration",
        "zero-timeout",
        "format",
        "retry-after-disabled",
        "attribute-name",
        "no-broker",
        "ref-name",
        "absolute-uri-with-ref",
        "cross-namespace",
        "relative-uri-alone",
    ],
)
def test_trigger_webhook_rule_is_enforced(path: str, value: Any, pointer: str) -> None:
    assert _pointers(_changed(TRIGGER, path, value)) == [pointer]


@pytest.mark.parametrize(
    ("filters", "pointer"),
    [
        ([{"exact": {"type": "a"}, "prefix": {"type": "a"}}], "/spec/filters/0"),
        ([{"exact": {"type": ""}}], "/spec/filters/0/exact/type"),
        ([{"any": []}], "/spec/filters/0/any"),
        ([{"not": {"regex": {"type": "a"}}}], "/spec/filters/0/not/regex"),
        ([{"cesql": "type = 'a"}], "/spec/filters/0/cesql"),
    ],
    ids=["two-dialects", "empty-value", "empty-any", "unknown-dialect", "cesql-quote"],
)
def test_filter_dialect_rules_are_enforced(filters: list[Any], pointer: str) -> None:
    assert pointer in _pointers(_changed(TRIGGER, "spec/filters", filters))


@pytest.mark.parametrize(
    ("schedule", "valid"),
    [
        ("*/5 * * * *", True),
        ("0 */5 * * * *", True),
        ("@hourly", True),
        ("CRON_TZ=Europe/Paris 0 9 * * 1-5", True),
        ("61 * * * *", False),
        ("every minute", False),
    ],
    ids=[
        "five-fields",
        "six-fields-seconds-first",
        "descriptor",
        "cron-tz",
        "range",
        "words",
    ],
)
def test_ping_source_schedule_is_read_as_knative_reads_cron(
    schedule: str, valid: bool
) -> None:
    pointers = _pointers(_changed(PING, "spec/schedule", schedule))

    assert (pointers == []) is valid


def test_ping_source_json_data_must_be_json() -> None:
    assert _pointers(_changed(PING, "spec/data", "{not json")) == ["/spec/data"]


def test_built_in_kind_refuses_unknown_and_missing_fields() -> None:
    broken = _changed(JOB, "spec/template/spec/containers/0/imagee", "x")
    broken = _changed(broken, "spec/template/spec/containers/0/name", ...)

    assert sorted(_pointers(broken)) == [
        "/spec/template/spec/containers/0/imagee",
        "/spec/template/spec/containers/0/name",
    ]


def test_unquoted_label_value_is_refused() -> None:
    assert _pointers(_changed(TRIGGER, "metadata/labels/x", True)) == [
        "/metadata/labels/x"
    ]


def test_kind_without_a_schema_is_refused() -> None:
    unknown = {
        "apiVersion": "example.com/v1",
        "kind": "Gadget",
        "metadata": {"name": "g"},
    }

    assert validation.find_schema_problems(unknown, crd_schemas())[0].reason == (
        "no schema is known for kind 'Gadget' of 'example.com/v1'"
    )
