"""The eventing objects the development stack generates for a folder of workflows.

A Trigger to step-executor per event type the workflows consume, and a KafkaSource into the
broker per event type they start on (the development broker stands in for its topics), as
`knflow deploy` writes them for a cluster.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, Protocol

from knflow.devstack.manifests import EVENTING_API, SERVING_API
from knflow.workflow import asyncapi, event_starts

KAFKA_SOURCES_API: Final = "sources.knative.dev/v1beta1"
STEP_EXECUTOR: Final = "step-executor"
GENERATED_LABEL: Final = "knflow.dev/generated"
_NAME_LIMIT: Final = 63


class DefinitionSource(Protocol):
    """A loaded workflow definition (`knflow.workflow.loading.WorkflowSource`)."""

    @property
    def document(self) -> Mapping[str, Any]:
        """The parsed definition with external parts inlined."""
        ...

    @property
    def resources(self) -> Mapping[str, Any]:
        """Its OpenAPI/AsyncAPI documents."""
        ...


def consumed_event_triggers(
    sources: Iterable[DefinitionSource], *, namespace: str, broker: str = "default"
) -> list[dict[str, Any]]:
    """Return one Trigger object per event type consumed by the definitions.

    Each routes its type to step-executor (docs/architecture.md §3) without a delivery
    spec of its own, so the broker's delivery applies. Objects carry
    `knflow.dev/generated: "true"`.
    """
    types = sorted(
        {event_type for source in sources for event_type in _consumed(source)}
    )
    return [_generated_trigger(event_type, namespace, broker) for event_type in types]


def start_event_sources(
    sources: Iterable[DefinitionSource], *, namespace: str, broker: str = "default"
) -> list[dict[str, Any]]:
    """Return one KafkaSource object per event type the definitions start on, into `broker`.

    As `knflow deploy --kafka-bootstrap-servers` writes them: the topics are the start
    event's name (where the Orchestrator plugin publishes) and its type.
    """
    topics: dict[str, set[str]] = {}
    for source in sources:
        for name, event_type in event_starts.start_events(source.document):
            topics.setdefault(event_type, {event_type}).add(name)
    return [
        _generated_kafka_source(event_type, sorted(names), namespace, broker)
        for event_type, names in sorted(topics.items())
    ]


def _consumed(source: DefinitionSource) -> list[str]:
    events = source.document.get("events") or []
    return [
        *(
            str(event["type"])
            for event in events
            if isinstance(event, Mapping)
            and event.get("type")
            and event.get("kind", "consumed") == "consumed"
        ),
        *asyncapi.received_channels(source.document, source.resources),
    ]


def _generated_trigger(event_type: str, namespace: str, broker: str) -> dict[str, Any]:
    return {
        "apiVersion": EVENTING_API,
        "kind": "Trigger",
        "metadata": {
            "name": _trigger_name(event_type),
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/part-of": "knflow",
                "app.kubernetes.io/component": STEP_EXECUTOR,
                GENERATED_LABEL: "true",
            },
        },
        "spec": {
            "broker": broker,
            "filter": {"attributes": {"type": event_type}},
            "subscriber": {
                "ref": {
                    "apiVersion": SERVING_API,
                    "kind": "Service",
                    "name": STEP_EXECUTOR,
                },
                "audience": f"knflow-{STEP_EXECUTOR}",
            },
        },
    }


def _generated_kafka_source(
    event_type: str, topics: list[str], namespace: str, broker: str
) -> dict[str, Any]:
    return {
        "apiVersion": KAFKA_SOURCES_API,
        "kind": "KafkaSource",
        "metadata": {
            "name": _dns_label("kafka-start-", event_type),
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "knflow", GENERATED_LABEL: "true"},
        },
        "spec": {
            "topics": topics,
            "sink": {
                "ref": {"apiVersion": EVENTING_API, "kind": "Broker", "name": broker}
            },
        },
    }


def _trigger_name(event_type: str) -> str:
    return _dns_label(f"{STEP_EXECUTOR}-consumed-", event_type)


def _dns_label(prefix: str, event_type: str) -> str:
    """A DNS-label name, unique per type (a digest keeps different types apart)."""
    slug = re.sub(r"[^a-z0-9]+", "-", event_type.lower()).strip("-")
    digest = hashlib.sha256(event_type.encode("utf-8")).hexdigest()[:8]
    room = _NAME_LIMIT - len(prefix) - len(digest) - 1
    return f"{prefix}{slug[:room].strip('-')}-{digest}"
