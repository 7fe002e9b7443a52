"""The Kafka variant: a KafkaSource per event type a workflow starts on, valid for the cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from knflow.cli import main
from knflow.deploy import documents, objects
from knflow.workflow import event_starts
from tests.deploy.test_objects import Source
from tests.manifests.schemas import object_problems

SERVERS = ("kafka-0.kafka:9092", "kafka-1.kafka:9092")


def _event_start(workflow_id: str, name: str, event_type: str) -> dict[str, Any]:
    return {
        "id": workflow_id,
        "version": "1.0",
        "specVersion": "0.8",
        "name": workflow_id,
        "start": "Wait",
        "events": [
            {"name": name, "type": event_type, "source": "plugin"},
            {"name": "later", "type": "org.shop.later"},
        ],
        "states": [
            {
                "name": "Wait",
                "type": "event",
                "onEvents": [{"eventRefs": [name]}],
                "transition": "Later",
            },
            {
                "name": "Later",
                "type": "event",
                "onEvents": [{"eventRefs": ["later"]}],
                "end": True,
            },
        ],
    }


def _source(document: dict[str, Any]) -> Source:
    return Source(Path(f"/defs/{document['id']}.sw.json"), "text", document)


def test_each_start_event_type_gets_a_kafka_source_into_the_broker() -> None:
    sources = [
        _source(_event_start("order", "order-placed", "order-placed")),
        _source(_event_start("audit", "order-placed", "order-placed")),
    ]

    [source] = objects.start_event_sources(
        sources, namespace="shop", broker="default", bootstrap_servers=SERVERS
    )

    assert source["kind"] == "KafkaSource"
    assert source["spec"]["topics"] == ["order-placed"]
    assert source["spec"]["bootstrapServers"] == list(SERVERS)
    assert source["spec"]["sink"]["ref"]["kind"] == "Broker"
    assert source["metadata"]["annotations"]["knflow.dev/consumed-by"] == "audit,order"
    assert object_problems(source) == []


def test_the_topic_is_the_start_events_name_as_the_plugin_publishes_and_its_type() -> (
    None
):
    document = _event_start("order", "placed", "org.shop.order.placed")

    [source] = objects.start_event_sources(
        [_source(document)],
        namespace="shop",
        broker="default",
        bootstrap_servers=SERVERS,
    )

    assert source["spec"]["topics"] == ["org.shop.order.placed", "placed"]


def test_events_the_workflow_waits_for_later_get_no_kafka_source() -> None:
    document = _event_start("order", "placed", "placed")

    assert event_starts.start_events(document) == [("placed", "placed")]


def test_without_bootstrap_servers_no_kafka_source_is_generated() -> None:
    wanted = objects.cluster_objects(
        [_source(_event_start("order", "placed", "placed"))], namespace="shop"
    )

    assert "KafkaSource" not in [obj["kind"] for obj in wanted]


@pytest.mark.parametrize(
    ("spec", "pointer"),
    [
        ({"topics": []}, "/spec/topics"),
        ({"bootstrapServers": []}, "/spec/bootstrapServers"),
        ({"initialOffset": "newest"}, "/spec/initialOffset"),
    ],
)
def test_a_kafka_source_the_webhook_would_refuse_is_reported(
    spec: dict[str, Any], pointer: str
) -> None:
    [source] = objects.start_event_sources(
        [_source(_event_start("order", "placed", "placed"))],
        namespace="shop",
        broker="default",
        bootstrap_servers=SERVERS,
    )
    source["spec"].update(spec)

    assert any(pointer in problem for problem in object_problems(source))


def test_gen_manifest_with_kafka_servers_writes_valid_kafka_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    defs, out = tmp_path / "defs", tmp_path / "out"
    defs.mkdir()
    document = _event_start("order", "order-placed", "order-placed")
    (defs / "order.sw.json").write_text(json.dumps(document), encoding="utf-8")

    code = main(
        [
            "gen-manifest",
            str(defs),
            "--output",
            str(out),
            "--kafka-bootstrap-servers",
            ",".join(SERVERS),
        ]
    )

    [path] = sorted(out.glob("kafkasource-*.yaml"))
    [source] = documents.read(path)
    assert code == 0
    assert source["spec"]["topics"] == ["order-placed"]
    assert object_problems(source) == []
