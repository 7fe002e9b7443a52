"""Eventing manifests read as routing values, back-off math, and generated Triggers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from knflow.devstack import generated, manifests
from knflow.devstack.filters import AttributesFilter
from knflow.devstack.manifests import Delivery, Destination
from knflow.errors import InputError
from knflow.events import types
from tests.conftest import ROOT
from tests.devstack.conftest import broker_manifest, ping_manifest, trigger_manifest

SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("policy", "count_from", "waits"),
    [
        ("exponential", 0, [1, 2, 4, 8]),
        ("exponential", 1, [2, 4, 8, 16]),
        ("linear", 0, [0, 1, 2, 3]),
        ("linear", 1, [1, 2, 3, 4]),
    ],
    ids=[
        "exponential-code",
        "exponential-documented",
        "linear-code",
        "linear-documented",
    ],
)
def test_backoff_waits_follow_the_policy(
    policy: str, count_from: int, waits: list[int]
) -> None:
    delivery = Delivery(retry=4, backoff_policy=policy, backoff_delay=SECOND)
    assert [delivery.backoff(n, count_from=count_from) for n in range(4)] == [
        w * SECOND for w in waits
    ]


def test_retries_without_a_policy_and_a_delay_do_not_wait() -> None:
    assert Delivery(retry=3, backoff_delay=SECOND).backoff(2) == timedelta(0)
    assert Delivery(retry=3, backoff_policy="linear").backoff(2) == timedelta(0)


def test_a_trigger_is_parsed_with_its_delivery_and_subscriber_path() -> None:
    delivery = {
        "retry": 3,
        "backoffPolicy": "linear",
        "backoffDelay": "PT0.5S",
        "timeout": "PT10S",
        "format": "json",
        "deadLetterSink": {"ref": {"kind": "Broker", "name": "dead-letter"}},
    }
    routing = manifests.parse_routing(
        [
            trigger_manifest(
                "t",
                subscriber={
                    "ref": {"kind": "Service", "name": "job-trigger"},
                    "uri": "/v2",
                },
                delivery=delivery,
            )
        ]
    )
    [trigger] = routing.triggers
    assert trigger.subscriber == Destination(
        kind="Service", name="job-trigger", uri="/v2"
    )
    assert trigger.delivery == Delivery(
        retry=3,
        backoff_policy="linear",
        backoff_delay=SECOND / 2,
        timeout=10 * SECOND,
        dead_letter_sink=Destination(kind="Broker", name="dead-letter"),
        structured=True,
    )


def test_objects_take_the_default_namespace_unless_they_name_one() -> None:
    named = {
        **broker_manifest("b"),
        "metadata": {"name": "b", "namespace": "workflows"},
    }
    routing = manifests.parse_routing([named, broker_manifest("c")], namespace="dev")
    assert [(b.namespace, b.name) for b in routing.brokers] == [
        ("workflows", "b"),
        ("dev", "c"),
    ]


def test_a_ping_source_keeps_its_schedule_data_and_extensions() -> None:
    routing = manifests.parse_routing(
        [
            ping_manifest(
                "p",
                schedule="*/5 * * * *",
                data="hi",
                sink={"uri": "http://x"},
                ceOverrides={"extensions": {"a": "b"}},
            )
        ]
    )
    [ping] = routing.ping_sources
    assert (ping.schedule, ping.data, ping.extensions) == (
        "*/5 * * * *",
        "hi",
        {"a": "b"},
    )


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (
            trigger_manifest("t", delivery={"retry": -1}),
            "retry: must be an integer >= 0",
        ),
        (
            trigger_manifest("t", delivery={"backoffPolicy": "random"}),
            "linear or exponential",
        ),
        (
            trigger_manifest("t", delivery={"backoffDelay": "5s"}),
            "not an ISO-8601 duration",
        ),
        (
            trigger_manifest("t", subscriber={"ref": {"kind": "Service"}}),
            "a kind and a name",
        ),
        (trigger_manifest("t", subscriber={}), "a ref or a uri"),
        (
            {**trigger_manifest("t"), "spec": {"subscriber": {"uri": "http://x"}}},
            "names its broker",
        ),
        (
            ping_manifest("p", data="a", dataBase64="YQ==", sink={"uri": "x"}),
            "mutually exclusive",
        ),
        ({"kind": "Broker", "metadata": {}}, "has no metadata.name"),
    ],
    ids=[
        "negative-retry",
        "policy",
        "duration",
        "ref-without-name",
        "no-destination",
        "no-broker",
        "ping-data-twice",
        "no-name",
    ],
)
def test_invalid_manifests_are_refused_naming_the_object(
    document: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InputError, match=reason):
        manifests.parse_routing([document])


def test_read_folder_skips_the_kafka_variant_and_reads_sub_folders(
    tmp_path: Path,
) -> None:
    (tmp_path / "kafka").mkdir()
    (tmp_path / "extra").mkdir()
    (tmp_path / "broker-default.yaml").write_text(
        "kind: Broker\nmetadata: {name: default}\n"
    )
    (tmp_path / "kafka" / "broker-kafka.yaml").write_text(
        "kind: Broker\nmetadata: {name: k}\n"
    )
    (tmp_path / "extra" / "two.yml").write_text("kind: A\n---\nkind: B\n")
    kinds = [document["kind"] for document in manifests.read_folder(tmp_path)]
    assert kinds == ["Broker", "A", "B"]


def test_read_folder_names_a_file_that_is_not_yaml(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("kind: [unclosed\n")
    with pytest.raises(InputError, match=r"bad\.yaml is not valid YAML"):
        manifests.read_folder(tmp_path)


def test_the_repository_eventing_folder_routes_every_knflow_event_type() -> None:
    routing = manifests.parse_routing(manifests.read_folder(ROOT / "eventing"))
    routed = {
        t.filter.attributes.get("type")
        for t in routing.triggers
        if isinstance(t.filter, AttributesFilter)
    }
    expected = {
        types.STEP_READY,
        types.NOTIFICATION_REQUESTED,
        types.JOB_CREATE,
        types.JOB_DELETE,
        types.PING,
        *types.DATA_INDEX_TYPES,
    }
    assert expected <= routed
    assert {b.name for b in routing.brokers} == {"default", "dead-letter"}
    assert [p.name for p in routing.ping_sources] == ["job-trigger-tick"]


def test_every_repository_trigger_names_a_function_folder_and_has_a_dead_letter_sink() -> (
    None
):
    routing = manifests.parse_routing(manifests.read_folder(ROOT / "eventing"))
    for trigger in routing.triggers:
        assert (ROOT / "functions" / str(trigger.subscriber.name)).is_dir(), (
            trigger.name
        )
        assert trigger.delivery is not None, trigger.name
        assert trigger.delivery.dead_letter_sink is not None, trigger.name


@dataclass(frozen=True)
class _Source:
    document: dict[str, Any]
    resources: dict[str, Any] = field(default_factory=dict)


def test_consumed_event_types_get_one_generated_trigger_each_to_step_executor() -> None:
    sources = [
        _Source(
            {
                "id": "a",
                "events": [
                    {
                        "name": "approved",
                        "type": "org.approval.Approved",
                        "source": "x",
                    },
                    {"name": "done", "type": "org.done", "kind": "produced"},
                ],
            }
        ),
        _Source(
            {
                "id": "b",
                "events": [
                    {
                        "name": "approved",
                        "type": "org.approval.Approved",
                        "kind": "consumed",
                    },
                ],
            }
        ),
        _Source({"id": "c"}),
    ]
    [trigger] = generated.consumed_event_triggers(sources, namespace="wf")
    assert trigger["metadata"]["namespace"] == "wf"
    assert trigger["metadata"]["labels"]["knflow.dev/generated"] == "true"
    assert trigger["spec"]["broker"] == "default"
    assert trigger["spec"]["filter"] == {
        "attributes": {"type": "org.approval.Approved"}
    }
    assert trigger["spec"]["subscriber"]["ref"]["name"] == "step-executor"


def test_generated_trigger_names_are_dns_labels_unique_per_type() -> None:
    long_type = "com.example." + "x" * 80
    sources = [
        _Source(
            {
                "events": [
                    {"name": "a", "type": long_type},
                    {"name": "b", "type": long_type + "y"},
                ]
            }
        )
    ]
    names = [
        t["metadata"]["name"]
        for t in generated.consumed_event_triggers(sources, namespace="n")
    ]
    assert len(set(names)) == 2
    assert all(len(name) <= 63 and name.replace("-", "").isalnum() for name in names)


def test_generated_triggers_parse_as_routing() -> None:
    sources = [_Source({"events": [{"name": "a", "type": "org.a"}]})]
    made = generated.consumed_event_triggers(sources, namespace="default")
    [trigger] = manifests.parse_routing(made).triggers
    assert trigger.subscriber == Destination(
        kind="Service", name="step-executor", audience="knflow-step-executor"
    )
