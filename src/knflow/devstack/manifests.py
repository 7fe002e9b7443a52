"""The eventing manifests as routing values: Brokers, Triggers, PingSources, KafkaSources.

Reads the YAML in `eventing/` (what a cluster applies), and the objects `generated` makes
for the workflows, into the values the development broker emulates.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import isodate
import yaml

from knflow.devstack import filters
from knflow.devstack.filters import Filter
from knflow.errors import InputError

EVENTING_API: Final = "eventing.knative.dev/v1"
SOURCES_API: Final = "sources.knative.dev/v1"
SERVING_API: Final = "serving.knative.dev/v1"
PING_TYPE: Final = "dev.knative.sources.ping"
SKIPPED_FOLDERS: Final = frozenset({"kafka"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Destination:
    """A Knative Destination: an object reference, a URI, or a reference plus a path."""

    kind: str | None = None
    """Kind of the referenced object (`Service`, `Broker`), None for a bare URI."""
    name: str | None = None
    """Name of the referenced object."""
    namespace: str | None = None
    """Namespace of the referenced object; None means the referrer's namespace."""
    uri: str | None = None
    """Absolute URI, or a path relative to the reference's address."""
    audience: str | None = None
    """OIDC audience of the destination (Eventing OIDC mode), when it declares one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """A delivery spec: retries, back-off, per-attempt timeout and dead-letter sink."""

    retry: int = 0
    """Extra attempts after the first."""
    backoff_policy: str | None = None
    """`linear` or `exponential`."""
    backoff_delay: timedelta | None = None
    """Base delay of the policy."""
    timeout: timedelta | None = None
    """Limit of one attempt."""
    dead_letter_sink: Destination | None = None
    """Where an event goes when every attempt failed."""
    structured: bool = False
    """Deliver in structured mode (`format: json`) instead of binary."""

    def backoff(self, attempt: int, *, count_from: int = 0) -> timedelta:
        """Return the wait before retry number `attempt` (0 = the first retry).

        Knative documents `delay × n` / `delay × 2^n` counting retries from 1, while its
        retry loop counts from 0; `count_from` picks the reading.
        Without both a policy and a delay, retries follow each other without a wait.
        """
        if self.backoff_policy is None or self.backoff_delay is None:
            return timedelta(0)
        n = attempt + count_from
        if self.backoff_policy == "linear":
            return self.backoff_delay * n
        return self.backoff_delay * int(2**n)


@dataclass(frozen=True, slots=True, kw_only=True)
class Broker:
    """A Broker: an ingress at `/<namespace>/<name>`."""

    namespace: str
    """Its namespace."""
    name: str
    """Its name."""
    delivery: Delivery | None = None
    """Delivery for its Triggers that declare none (the whole object, not per field)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Trigger:
    """A Trigger: which events of a broker go to which subscriber, and how."""

    namespace: str
    """Its namespace (also the broker's)."""
    name: str
    """Its name."""
    broker: str
    """Name of the broker it subscribes to."""
    filter: Filter
    """What it lets through."""
    subscriber: Destination
    """Where matching events go."""
    delivery: Delivery | None = None
    """Its own delivery spec, replacing the broker's when set."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PingSource:
    """A PingSource: an event on a cron schedule."""

    namespace: str
    """Its namespace."""
    name: str
    """Its name."""
    schedule: str
    """Cron expression (five fields, or six with leading seconds, or `@hourly`...)."""
    timezone: str | None
    """IANA zone the schedule is read in; None means UTC."""
    content_type: str | None
    """Media type of the data."""
    data: str | bytes | None
    """The `data` text or the decoded `dataBase64` bytes."""
    sink: Destination
    """Where the events go."""
    extensions: Mapping[str, str] = field(default_factory=dict)
    """`ceOverrides.extensions` added to every event."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KafkaSource:
    """A KafkaSource: what is published to its topics goes to its sink."""

    namespace: str
    """Its namespace."""
    name: str
    """Its name."""
    topics: tuple[str, ...]
    """The topics it reads."""
    sink: Destination
    """Where the records go, as CloudEvents."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Routing:
    """Everything the development broker emulates, from all manifests."""

    brokers: tuple[Broker, ...] = ()
    """The brokers."""
    triggers: tuple[Trigger, ...] = ()
    """The triggers of every broker."""
    ping_sources: tuple[PingSource, ...] = ()
    """The ping sources."""
    kafka_sources: tuple[KafkaSource, ...] = ()
    """The Kafka sources (the development broker stands in for their topics)."""


def read_folder(folder: Path) -> list[dict[str, Any]]:
    """Return every YAML document under `folder`, skipping the `kafka/` variant.

    Raises:
        InputError: a file is not YAML or a document is not a mapping.
    """
    documents = []
    for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        if SKIPPED_FOLDERS & set(path.relative_to(folder).parts[:-1]):
            continue
        documents.extend(_read_file(path))
    return documents


def parse_routing(
    documents: Iterable[Mapping[str, Any]], *, namespace: str = "default"
) -> Routing:
    """Parse Brokers, Triggers, PingSources and KafkaSources; other kinds are ignored.

    `namespace` applies to objects without `metadata.namespace`.

    Raises:
        InputError: an object is invalid, naming it and the field.
    """
    brokers, triggers, pings, kafka = [], [], [], []
    for document in documents:
        kind = document.get("kind")
        if kind == "Broker":
            brokers.append(_parse_broker(document, namespace))
        elif kind == "Trigger":
            triggers.append(_parse_trigger(document, namespace))
        elif kind == "PingSource":
            pings.append(_parse_ping_source(document, namespace))
        elif kind == "KafkaSource":
            kafka.append(_parse_kafka_source(document, namespace))
    return Routing(
        brokers=tuple(brokers),
        triggers=tuple(triggers),
        ping_sources=tuple(pings),
        kafka_sources=tuple(kafka),
    )


def _read_file(path: Path) -> list[dict[str, Any]]:
    try:
        loaded = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as error:
        raise InputError(f"manifest {path} is not valid YAML: {error}") from error
    documents = []
    for document in loaded:
        if document is None:
            continue
        if not isinstance(document, dict):
            raise InputError(f"manifest {path} holds a document that is not a mapping")
        documents.append(document)
    return documents


def _parse_broker(document: Mapping[str, Any], namespace: str) -> Broker:
    where = _where(document)
    spec = _mapping(document.get("spec"), f"{where}/spec")
    return Broker(
        namespace=_namespace(document, namespace),
        name=_name(document),
        delivery=_parse_delivery(spec.get("delivery"), f"{where}/spec/delivery"),
    )


def _parse_trigger(document: Mapping[str, Any], namespace: str) -> Trigger:
    where = _where(document)
    spec = _mapping(document.get("spec"), f"{where}/spec")
    broker_ref = _mapping(spec.get("brokerRef"), f"{where}/spec/brokerRef")
    broker = spec.get("broker") or broker_ref.get("name")
    if not isinstance(broker, str) or not broker:
        raise InputError(f"{where}/spec/broker: a trigger names its broker")
    if spec.get("filters"):
        parsed: Filter = filters.parse_filters(spec["filters"], f"{where}/spec/filters")
    else:
        legacy = _mapping(spec.get("filter"), f"{where}/spec/filter")
        attributes = _strings(legacy.get("attributes"), f"{where}/spec/filter")
        parsed = filters.parse_attributes(attributes)
    return Trigger(
        namespace=_namespace(document, namespace),
        name=_name(document),
        broker=broker,
        filter=parsed,
        subscriber=_parse_destination(
            spec.get("subscriber"), f"{where}/spec/subscriber"
        ),
        delivery=_parse_delivery(spec.get("delivery"), f"{where}/spec/delivery"),
    )


def _parse_ping_source(document: Mapping[str, Any], namespace: str) -> PingSource:
    where = _where(document)
    spec = _mapping(document.get("spec"), f"{where}/spec")
    if "data" in spec and "dataBase64" in spec:
        raise InputError(f"{where}/spec: data and dataBase64 are mutually exclusive")
    data: str | bytes | None = spec.get("data")
    if "dataBase64" in spec:
        data = _base64(spec["dataBase64"], f"{where}/spec/dataBase64")
    overrides = _mapping(spec.get("ceOverrides"), f"{where}/spec/ceOverrides")
    return PingSource(
        namespace=_namespace(document, namespace),
        name=_name(document),
        schedule=str(spec.get("schedule") or "* * * * *"),
        timezone=spec.get("timezone"),
        content_type=spec.get("contentType"),
        data=data,
        sink=_parse_destination(spec.get("sink"), f"{where}/spec/sink"),
        extensions=_strings(overrides.get("extensions"), f"{where}/spec/ceOverrides"),
    )


def _parse_kafka_source(document: Mapping[str, Any], namespace: str) -> KafkaSource:
    where = _where(document)
    spec = _mapping(document.get("spec"), f"{where}/spec")
    topics = spec.get("topics")
    if not isinstance(topics, list) or not topics:
        raise InputError(f"{where}/spec/topics: a KafkaSource reads at least one topic")
    return KafkaSource(
        namespace=_namespace(document, namespace),
        name=_name(document),
        topics=tuple(str(topic) for topic in topics),
        sink=_parse_destination(spec.get("sink"), f"{where}/spec/sink"),
    )


def _parse_delivery(raw: Any, where: str) -> Delivery | None:
    if raw is None:
        return None
    spec = _mapping(raw, where)
    retry = spec.get("retry", 0)
    if not isinstance(retry, int) or retry < 0:
        raise InputError(f"{where}/retry: must be an integer >= 0")
    policy = spec.get("backoffPolicy")
    if policy not in (None, "linear", "exponential"):
        raise InputError(f"{where}/backoffPolicy: must be linear or exponential")
    sink = spec.get("deadLetterSink")
    return Delivery(
        retry=retry,
        backoff_policy=policy,
        backoff_delay=_duration(spec.get("backoffDelay"), f"{where}/backoffDelay"),
        timeout=_duration(spec.get("timeout"), f"{where}/timeout"),
        dead_letter_sink=None
        if sink is None
        else _parse_destination(sink, f"{where}/deadLetterSink"),
        structured=spec.get("format") == "json",
    )


def _parse_destination(raw: Any, where: str) -> Destination:
    spec = _mapping(raw, where)
    ref = spec.get("ref")
    uri = spec.get("uri")
    if ref is None and not uri:
        raise InputError(f"{where}: a destination needs a ref or a uri")
    audience = None if spec.get("audience") is None else str(spec["audience"])
    if ref is None:
        return Destination(uri=str(uri), audience=audience)
    ref = _mapping(ref, f"{where}/ref")
    if not ref.get("name") or not ref.get("kind"):
        raise InputError(f"{where}/ref: a reference needs a kind and a name")
    return Destination(
        kind=str(ref["kind"]),
        name=str(ref["name"]),
        namespace=ref.get("namespace"),
        uri=None if uri is None else str(uri),
        audience=audience,
    )


def _duration(raw: Any, where: str) -> timedelta | None:
    if raw is None:
        return None
    try:
        parsed = isodate.parse_duration(str(raw))
    except (isodate.ISO8601Error, ValueError) as error:
        raise InputError(f"{where}: '{raw}' is not an ISO-8601 duration") from error
    if not isinstance(parsed, timedelta):
        raise InputError(f"{where}: '{raw}' uses months or years; use days or less")
    return parsed


def _where(document: Mapping[str, Any]) -> str:
    return f"{document.get('kind')} '{_name(document)}'"


def _name(document: Mapping[str, Any]) -> str:
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    if not isinstance(name, str) or not name:
        raise InputError(f"a {document.get('kind')} manifest has no metadata.name")
    return name


def _namespace(document: Mapping[str, Any], default: str) -> str:
    return str(document.get("metadata", {}).get("namespace") or default)


def _mapping(raw: Any, where: str) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}: expected a mapping")
    return raw


def _strings(raw: Any, where: str) -> dict[str, str]:
    return {
        str(key): "" if value is None else str(value)
        for key, value in _mapping(raw, where).items()
    }


def _base64(raw: Any, where: str) -> bytes:
    try:
        return base64.b64decode(str(raw), validate=True)
    except binascii.Error as error:
        raise InputError(f"{where}: not valid base64") from error
