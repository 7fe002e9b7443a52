"""Kafka records published to the development broker's topics, read as a KafkaSource reads them.

The Orchestrator plugin starts an event-started workflow with kafkajs,
`producer.send({topic, messages})`, each message a CloudEvent in Kafka binary mode (the
cloudevents SDK's `Kafka.binary`): attributes as `ce_` headers, `content-type` for
`datacontenttype`, the data as the value. Locally, `POST /kafka/<topic>` takes that call's
argument as JSON, `{"messages": [{"key", "value", "headers"}]}`. Each record becomes a
CloudEvent as a KafkaSource makes it: binary (`ce_` headers), structured (`content-type:
application/cloudevents+json`), or else wrapped as a `dev.knative.kafka.event`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from knflow import json_limits
from knflow.errors import InputError
from knflow.events import codec
from knflow.events.codec import Event
from knflow.json_limits import JsonLimits

KAFKA_PREFIX: Final = "ce_"
HTTP_PREFIX: Final = "ce-"
STRUCTURED_TYPE: Final = "application/cloudevents+json"
WRAPPED_TYPE: Final = "dev.knative.kafka.event"
"""The type a KafkaSource gives a record that is not a CloudEvent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One Kafka record as published: key, value bytes and string headers."""

    key: str | None
    """The record key (kafkajs `key`)."""
    value: bytes
    """The record value."""
    headers: dict[str, str]
    """The record headers, names lowercased."""


def parse_records(body: bytes, *, limits: JsonLimits) -> list[Record]:
    """Read the `{"messages": [...]}` argument of a kafkajs send.

    Raises:
        InputError: the body is not that shape; the message names what is wrong.
    """
    document = json_limits.decode(
        body or b"null", limits=limits, what="the published messages"
    )
    messages = document.get("messages") if isinstance(document, dict) else None
    if not isinstance(messages, list) or not messages:
        raise InputError('a topic takes {"messages": [...]} with at least one message')
    return [_record(message, index) for index, message in enumerate(messages)]


def to_event(
    record: Record, *, source: str, topic: str, offset: int, limits: JsonLimits
) -> Event:
    """Return the CloudEvent a KafkaSource named `source` makes of a record of `topic`.

    Raises:
        InputError: the record claims to be a CloudEvent but is not a valid one.
    """
    content_type = record.headers.get("content-type", "")
    if content_type.startswith(STRUCTURED_TYPE):
        return codec.from_http(
            {"content-type": content_type}, record.value, limits=limits
        )
    if f"{KAFKA_PREFIX}specversion" in record.headers:
        headers = {
            HTTP_PREFIX + name[len(KAFKA_PREFIX) :]: value
            for name, value in record.headers.items()
            if name.startswith(KAFKA_PREFIX)
        }
        if content_type:
            headers["content-type"] = content_type
        return codec.from_http(headers, record.value, limits=limits)
    return _wrapped(record, source=source, topic=topic, offset=offset, limits=limits)


def _wrapped(
    record: Record, *, source: str, topic: str, offset: int, limits: JsonLimits
) -> Event:
    extensions = {} if record.key is None else {"key": record.key}
    data = (
        json_limits.decode_or_text(record.value, limits=limits, what="the record")
        if record.value
        else None
    )
    return Event(
        id=f"partition:0/offset:{offset}",
        source=f"{source}#{topic}",
        type=WRAPPED_TYPE,
        subject=f"partition:0#{offset}",
        data=data,
        extensions=extensions,
    )


def _record(message: Any, index: int) -> Record:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise InputError(f"{where} must be an object with a value")
    headers = message.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(value, str) for value in headers.values()
    ):
        raise InputError(f"{where}.headers must map names to strings")
    key = message.get("key")
    return Record(
        key=None if key is None else str(key),
        value=_value_bytes(message.get("value")),
        headers={str(name).lower(): value for name, value in headers.items()},
    )


def _value_bytes(value: Any) -> bytes:
    """A value sent as a string is the record's text; any other JSON is serialised."""
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value).encode("utf-8")
