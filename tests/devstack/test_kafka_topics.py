"""The development broker's Kafka topics: records published as the Orchestrator plugin does
reach the broker through the KafkaSource that reads their topic."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from knflow.devstack import generated
from knflow.devstack.broker import DevBroker
from tests.devstack.conftest import StartBroker, broker_manifest, trigger_manifest
from tests.peers import HttpPeer, Reply


def plugin_record(event_type: str, data: Any, **extensions: str) -> dict[str, Any]:
    """A CloudEvent as the plugin sends it with kafkajs: Kafka binary mode (`ce_` headers)."""
    headers = {
        "ce_id": "a1b2",
        "ce_type": event_type,
        "ce_source": "orchestrator",
        "ce_specversion": "1.0",
        "content-type": "application/json; charset=utf-8",
        **{f"ce_{name}": value for name, value in extensions.items()},
    }
    return {"key": "", "value": json.dumps(data), "headers": headers}


def publish(broker: DevBroker, topic: str, body: Any) -> tuple[int, Any]:
    parts = urlsplit(broker.url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request(
            "POST",
            f"/kafka/{topic}",
            body=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


class _Source:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.resources: dict[str, Any] = {}


def _starting_on(event_name: str, event_type: str) -> list[dict[str, Any]]:
    document = {
        "id": "w",
        "start": "Wait",
        "events": [{"name": event_name, "type": event_type}],
        "states": [
            {"name": "Wait", "type": "event", "onEvents": [{"eventRefs": [event_name]}]}
        ],
    }
    return generated.start_event_sources([_Source(document)], namespace="default")


def test_a_record_published_as_the_plugin_does_reaches_the_broker_as_a_cloudevent(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/", Reply(status=202))
    broker = start_broker(
        broker_manifest(),
        trigger_manifest("all"),
        *_starting_on("order-placed", "order-placed"),
    )
    record = plugin_record("order-placed", {"item": "pen"}, orderid="o-1")

    status, answer = publish(broker, "order-placed", {"messages": [record]})

    [delivered] = http_peer.wait_for(1, method="POST", path="/")
    assert (status, answer["offsets"]) == (200, [0])
    assert delivered.headers["ce-type"] == "order-placed"
    assert delivered.headers["ce-orderid"] == "o-1"
    assert delivered.json() == {"item": "pen"}


def test_a_record_that_is_not_a_cloudevent_is_wrapped_as_a_kafka_event(
    start_broker: StartBroker, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/", Reply(status=202))
    broker = start_broker(
        broker_manifest(), trigger_manifest("all"), *_starting_on("go", "go")
    )

    publish(broker, "go", {"messages": [{"key": "k", "value": {"n": 1}}]})

    [delivered] = http_peer.wait_for(1, method="POST", path="/")
    assert delivered.headers["ce-type"] == "dev.knative.kafka.event"
    assert delivered.headers["ce-key"] == "k"
    assert delivered.json() == {"n": 1}


def test_a_topic_no_kafka_source_reads_is_refused_with_404(
    start_broker: StartBroker,
) -> None:
    broker = start_broker(broker_manifest(), *_starting_on("go", "go"))

    status, answer = publish(broker, "elsewhere", {"messages": [{"value": "x"}]})

    assert status == 404
    assert "elsewhere" in answer["message"]


def test_a_body_that_is_not_a_producer_send_is_refused_naming_the_shape(
    start_broker: StartBroker,
) -> None:
    broker = start_broker(broker_manifest(), *_starting_on("go", "go"))

    status, answer = publish(broker, "go", [{"value": "x"}])

    assert status == 400
    assert "messages" in answer["message"]


def test_a_record_with_broken_cloudevent_headers_is_refused_with_400(
    start_broker: StartBroker,
) -> None:
    broker = start_broker(broker_manifest(), *_starting_on("go", "go"))
    record = {"value": "{}", "headers": {"ce_specversion": "1.0"}}

    status, _answer = publish(broker, "go", {"messages": [record]})

    assert status == 400
