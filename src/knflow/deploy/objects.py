"""The cluster objects of a folder of workflow definitions: ConfigMaps, Triggers, KafkaSources.

Each definition becomes a ConfigMap labelled `knflow.dev/workflow: <id>` (the
ApiServerSource in `eventing/` registers it), and each event type the definitions
consume gets a Trigger to step-executor. With Kafka bootstrap servers (the Kafka variant),
each event type a workflow starts on also gets a KafkaSource that moves what is published
to its topic into the broker, which is how the Orchestrator plugin's event start reaches
knflow. Pure: builds dictionaries, never talks to a cluster or reads files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

from knflow.errors import InputError
from knflow.workflow import asyncapi, event_starts

PART_OF: Final = "knflow"
GENERATED_LABEL: Final = "knflow.dev/generated"
WORKFLOW_LABEL: Final = "knflow.dev/workflow"
VERSION_ANNOTATION: Final = "knflow.dev/workflow-version"
EVENT_TYPE_ANNOTATION: Final = "knflow.dev/event-type"
CONSUMERS_ANNOTATION: Final = "knflow.dev/consumed-by"
STEP_EXECUTOR: Final = "step-executor"
START_WORKFLOW: Final = "start-workflow"
EVENTING_API: Final = "eventing.knative.dev/v1"
SOURCES_API: Final = "sources.knative.dev/v1beta1"
TOPICS_ANNOTATION: Final = "knflow.dev/topics"
SERVING_API: Final = "serving.knative.dev/v1"
DEAD_LETTER_BROKER: Final = "dead-letter"
# The delivery of eventing/trigger-step-executor-step-ready.yaml: retried for about 31 s
# (0.5 s ... 16 s, outlasting an executor restart), one invocation runs at most the step
# budget (20 s), and refused events stay visible in the dead-letter broker.
CONSUMED_EVENT_DELIVERY: Final = {
    "retry": 6,
    "backoffPolicy": "exponential",
    "backoffDelay": "PT0.5S",
    "timeout": "PT60S",
}
_NAME_LIMIT: Final = 63
_LABEL_VALUE: Final = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DATA_KEY: Final = re.compile(r"^[-._a-zA-Z0-9]+$")


class DefinitionSource(Protocol):
    """A loaded workflow definition (`knflow.workflow.loading.WorkflowSource`)."""

    @property
    def path(self) -> Path | None:
        """The file it was read from."""
        ...

    @property
    def text(self) -> str:
        """The file's text, as written."""
        ...

    @property
    def document(self) -> Mapping[str, Any]:
        """The parsed definition with external parts inlined."""
        ...

    @property
    def resources(self) -> Mapping[str, Any]:
        """Its OpenAPI/AsyncAPI documents."""
        ...


def cluster_objects(
    sources: Iterable[DefinitionSource],
    *,
    namespace: str,
    broker: str = "default",
    kafka_bootstrap_servers: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Return every object the definitions need: ConfigMaps, Triggers, then KafkaSources.

    KafkaSources only with `kafka_bootstrap_servers` (the Kafka variant).

    Raises:
        InputError: a definition has no id, an id that cannot be a label value, or two
            files define the same id.
    """
    listed = list(sources)
    maps = [definition_config_map(source, namespace=namespace) for source in listed]
    _refuse_duplicates(maps)
    triggers = consumed_event_triggers(listed, namespace=namespace, broker=broker)
    if not kafka_bootstrap_servers:
        return [*maps, *triggers]
    kafka = start_event_sources(
        listed,
        namespace=namespace,
        broker=broker,
        bootstrap_servers=kafka_bootstrap_servers,
    )
    return [*maps, *triggers, *kafka]


def parse_servers(text: str) -> tuple[str, ...]:
    """Read comma-separated Kafka bootstrap servers, without blanks."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def start_event_sources(
    sources: Iterable[DefinitionSource],
    *,
    namespace: str,
    broker: str,
    bootstrap_servers: Sequence[str],
) -> list[dict[str, Any]]:
    """Return one KafkaSource per event type the definitions start on, into the broker.

    Its topics are the event's name, where the Orchestrator plugin publishes (it names
    the topic and the CloudEvent type after the start event's `name`), and its type, when
    that differs. Sorted by event type.
    """
    topics: dict[str, set[str]] = {}
    starters: dict[str, set[str]] = {}
    for source in sources:
        for name, event_type in event_starts.start_events(source.document):
            topics.setdefault(event_type, {event_type}).add(name)
            starters.setdefault(event_type, set()).add(str(source.document.get("id")))
    return [
        _kafka_source(
            event_type,
            sorted(topics[event_type]),
            sorted(starters[event_type]),
            namespace=namespace,
            broker=broker,
            bootstrap_servers=bootstrap_servers,
        )
        for event_type in sorted(topics)
    ]


def definition_config_map(
    source: DefinitionSource, *, namespace: str
) -> dict[str, Any]:
    """Return the ConfigMap carrying one definition's text, keyed by its file name.

    Raises:
        InputError: the definition has no id or its id cannot be a label value.
    """
    workflow_id = workflow_id_of(source)
    labels = {
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/component": START_WORKFLOW,
        GENERATED_LABEL: "true",
        WORKFLOW_LABEL: workflow_id,
    }
    annotations = {VERSION_ANNOTATION: str(source.document.get("version", ""))}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": config_map_name(workflow_id),
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "data": {_data_key(source, workflow_id): source.text},
    }


def consumed_event_triggers(
    sources: Iterable[DefinitionSource], *, namespace: str, broker: str = "default"
) -> list[dict[str, Any]]:
    """Return one Trigger per event type the definitions consume, to step-executor.

    Sorted by event type; the canonical generator (the development broker should route
    with the same objects). An event definition is consumed unless it says
    `kind: produced` (SW 0.8 default).
    """
    consumers: dict[str, set[str]] = {}
    for source in sources:
        for event_type in consumed_types(source.document, source.resources):
            consumers.setdefault(event_type, set()).add(
                str(source.document.get("id", ""))
            )
    return [
        _trigger(event_type, sorted(consumers[event_type]), namespace, broker)
        for event_type in sorted(consumers)
    ]


def consumed_types(
    document: Mapping[str, Any], resources: Mapping[str, Any] | None = None
) -> list[str]:
    """Return the event types a definition document consumes, in document order.

    The channels its `asyncapi` functions wait on (in `resources`) come last.
    """
    events = document.get("events") or []
    if not isinstance(events, list):
        events = []
    return [
        *_consumed_events(events),
        *asyncapi.received_channels(document, resources or {}),
    ]


def _consumed_events(events: list[Any]) -> list[str]:
    return [
        str(event["type"])
        for event in events
        if isinstance(event, Mapping)
        and event.get("type")
        and event.get("kind", "consumed") == "consumed"
    ]


def workflow_id_of(source: DefinitionSource) -> str:
    """Return the definition's id, checked to be usable as a label value.

    Raises:
        InputError: the id is missing or not a valid label value.
    """
    workflow_id = source.document.get("id") or source.document.get("key")
    where = source.path or "a definition"
    if not isinstance(workflow_id, str) or not workflow_id:
        raise InputError(f"{where}: the definition has no id, so it cannot be deployed")
    if len(workflow_id) > _NAME_LIMIT or not _LABEL_VALUE.match(workflow_id):
        raise InputError(
            f"{where}: workflow id '{workflow_id}' is not a valid label value"
            " (at most 63 letters, digits, '-', '_' or '.',"
            " starting and ending alphanumeric)"
        )
    return workflow_id


def config_map_name(workflow_id: str) -> str:
    """Return the ConfigMap name of a workflow id (a DNS name, distinct per id)."""
    return _dns_name("workflow-", workflow_id)


def kafka_source_name(event_type: str) -> str:
    """Return the KafkaSource name of a start event type (a DNS label, one per type)."""
    return _dns_name("kafka-start-", event_type, always_digest=True)


def trigger_name(event_type: str) -> str:
    """Return the Trigger name of a consumed event type (a DNS label, one per type)."""
    return _dns_name(f"{STEP_EXECUTOR}-consumed-", event_type, always_digest=True)


def _trigger(
    event_type: str, workflow_ids: list[str], namespace: str, broker: str
) -> dict[str, Any]:
    service = {"apiVersion": SERVING_API, "kind": "Service"}
    return {
        "apiVersion": EVENTING_API,
        "kind": "Trigger",
        "metadata": {
            "name": trigger_name(event_type),
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/part-of": PART_OF,
                "app.kubernetes.io/component": STEP_EXECUTOR,
                GENERATED_LABEL: "true",
            },
            "annotations": {
                EVENT_TYPE_ANNOTATION: event_type,
                CONSUMERS_ANNOTATION: ",".join(workflow_ids),
            },
        },
        "spec": {
            "broker": broker,
            "filter": {"attributes": {"type": event_type}},
            "subscriber": {
                "ref": {**service, "name": STEP_EXECUTOR},
                # Eventing OIDC: the audience step-executor checks on deliveries.
                "audience": f"knflow-{STEP_EXECUTOR}",
            },
            "delivery": {
                **CONSUMED_EVENT_DELIVERY,
                "deadLetterSink": {
                    "ref": {
                        "apiVersion": EVENTING_API,
                        "kind": "Broker",
                        "name": DEAD_LETTER_BROKER,
                    }
                },
            },
        },
    }


def _kafka_source(
    event_type: str,
    topics: list[str],
    workflow_ids: list[str],
    *,
    namespace: str,
    broker: str,
    bootstrap_servers: Sequence[str],
) -> dict[str, Any]:
    name = kafka_source_name(event_type)
    return {
        "apiVersion": SOURCES_API,
        "kind": "KafkaSource",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/part-of": PART_OF,
                "app.kubernetes.io/component": STEP_EXECUTOR,
                GENERATED_LABEL: "true",
            },
            "annotations": {
                EVENT_TYPE_ANNOTATION: event_type,
                TOPICS_ANNOTATION: ",".join(topics),
                CONSUMERS_ANNOTATION: ",".join(workflow_ids),
            },
        },
        "spec": {
            "bootstrapServers": list(bootstrap_servers),
            "topics": topics,
            # Fixed per event type: the webhook refuses a changed consumer group.
            "consumerGroup": f"knflow-{name}",
            # A start published before the source existed still starts its workflow.
            "initialOffset": "earliest",
            "sink": {
                "ref": {"apiVersion": EVENTING_API, "kind": "Broker", "name": broker}
            },
        },
    }


def _data_key(source: DefinitionSource, workflow_id: str) -> str:
    name = source.path.name if source.path is not None else ""
    if name and _DATA_KEY.match(name):
        return name
    return f"{config_map_name(workflow_id)}.sw.json"


def _dns_name(prefix: str, value: str, *, always_digest: bool = False) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    if slug == value and not always_digest and len(prefix) + len(slug) <= _NAME_LIMIT:
        return f"{prefix}{slug}"
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:8]
    room = _NAME_LIMIT - len(prefix) - len(digest) - 1
    return f"{prefix}{slug[:room].strip('-')}-{digest}".replace("--", "-")


def _refuse_duplicates(maps: list[dict[str, Any]]) -> None:
    seen: dict[str, str] = {}
    for config_map in maps:
        workflow_id = config_map["metadata"]["labels"][WORKFLOW_LABEL]
        key = next(iter(config_map["data"]))
        if workflow_id in seen:
            raise InputError(
                f"workflow id '{workflow_id}' is defined twice:"
                f" in {seen[workflow_id]} and {key}"
            )
        seen[workflow_id] = key
