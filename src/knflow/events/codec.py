"""The CloudEvents codec: HTTP requests to `Event` values and back (binary and structured).

This is the only module that imports the `cloudevents` package.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent

from knflow import json_limits
from knflow.errors import InputError
from knflow.json_limits import JsonLimits

JSON_CONTENT_TYPE: Final = "application/json"
STRUCTURED_CONTENT_TYPE: Final = "application/cloudevents+json"
BATCH_CONTENT_TYPE: Final = "application/cloudevents-batch+json"
SPEC_VERSION: Final = "1.0"
# The Kogito Job Service still sends CloudEvents 0.3; its attributes are a subset of 1.0's.
LEGACY_SPEC_VERSION: Final = "0.3"
BINARY_PREFIX: Final = "ce-"
DEFAULT_LIMITS: Final = JsonLimits()
_CORE_ATTRIBUTES: Final = frozenset(
    {
        "id",
        "source",
        "type",
        "specversion",
        "subject",
        "time",
        "datacontenttype",
        "dataschema",
        "data",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """A CloudEvent 1.0, independent of any transport."""

    id: str
    """Unique per source; knflow derives it deterministically so receivers can de-duplicate."""
    source: str
    """URI reference of the producer."""
    type: str
    """The event type (see `events.types`)."""
    data: Any = None
    """The payload, already decoded from JSON when it was JSON."""
    subject: str | None = None
    """Optional subject attribute."""
    time: datetime | None = None
    """When the event happened (aware UTC)."""
    datacontenttype: str | None = JSON_CONTENT_TYPE
    """Media type of `data`."""
    extensions: Mapping[str, str] = field(default_factory=dict)
    """Extension attributes (`kogitoprocrefid`, `partitionkey`, ...), all as strings."""

    def attribute(self, name: str) -> str | None:
        """Return a context attribute by name: a core attribute or an extension."""
        if name in _CORE_ATTRIBUTES and name != "data":
            value = getattr(self, name, None) if name != "specversion" else "1.0"
            return None if value is None else str(value)
        return self.extensions.get(name)

    def to_dict(self) -> dict[str, Any]:
        """Render the structured-mode JSON object."""
        body: dict[str, Any] = {
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.type,
        }
        if self.subject is not None:
            body["subject"] = self.subject
        if self.time is not None:
            body["time"] = render_time(self.time)
        if self.datacontenttype is not None:
            body["datacontenttype"] = self.datacontenttype
        body.update(self.extensions)
        if self.data is not None:
            body["data"] = self.data
        return body


def new_id() -> str:
    """Return a random event id, for events that have no natural deterministic id."""
    return str(uuid.uuid4())


def render_time(moment: datetime) -> str:
    """Render a datetime as RFC 3339 in UTC with a `Z` suffix."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def from_http(
    headers: Mapping[str, str], body: bytes, *, limits: JsonLimits = DEFAULT_LIMITS
) -> Event:
    """Decode a CloudEvent from an HTTP request in binary or structured mode.

    Messages name the attribute or the reason, never the body's text.

    Raises:
        InputError: the request is not a valid CloudEvent 1.0, or its JSON nests too
            deep or holds text PostgreSQL cannot store.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    content_type = lowered.get("content-type", "")
    if content_type.startswith(BATCH_CONTENT_TYPE):
        raise InputError(
            "batched CloudEvents are not accepted; send one event per request"
        )
    if "ce-id" in lowered or "ce-specversion" in lowered:
        return _from_binary(lowered, body, limits)
    document = json_limits.decode(body or b"null", limits=limits, what="the CloudEvent")
    if not isinstance(document, dict) or "specversion" not in document:
        raise InputError(
            "malformed CloudEvent: neither ce-* headers nor a structured CloudEvent body"
        )
    return _from_mapping(document, limits)


def from_dict(body: Mapping[str, Any], *, limits: JsonLimits = DEFAULT_LIMITS) -> Event:
    """Decode a structured-mode CloudEvent already parsed from JSON.

    Raises:
        InputError: a required attribute is missing or an attribute has the wrong type.
    """
    return _from_mapping(body, limits)


def to_binary_http(event: Event) -> tuple[dict[str, str], bytes]:
    """Encode an event for HTTP in binary mode (`ce-*` headers, data as the body)."""
    headers, body = to_binary(_to_cloudevent(event))
    return dict(headers), _as_bytes(body)


def to_structured_http(event: Event) -> tuple[dict[str, str], bytes]:
    """Encode an event for HTTP in structured mode (one JSON document)."""
    headers, body = to_structured(_to_cloudevent(event))
    return dict(headers), _as_bytes(body)


def _from_binary(headers: Mapping[str, str], body: bytes, limits: JsonLimits) -> Event:
    attributes: dict[str, Any] = {
        name[len(BINARY_PREFIX) :]: value
        for name, value in headers.items()
        if name.startswith(BINARY_PREFIX)
    }
    if "content-type" in headers:
        attributes["datacontenttype"] = headers["content-type"]
    data = _data_of(body, limits) if body else None
    return _to_event(attributes, data)


def _from_mapping(document: Mapping[str, Any], limits: JsonLimits) -> Event:
    attributes = {
        name: value
        for name, value in document.items()
        if name not in ("data", "data_base64")
    }
    data = document.get("data")
    encoded = document.get("data_base64")
    if encoded is not None:
        if not isinstance(encoded, str):
            raise InputError("malformed CloudEvent: 'data_base64' must be a string")
        try:
            data = _data_of(base64.b64decode(encoded, validate=True), limits)
        except binascii.Error as error:
            raise InputError(
                "malformed CloudEvent: 'data_base64' is not base64"
            ) from error
    return _to_event(attributes, data)


def _to_event(attributes: Mapping[str, Any], data: Any) -> Event:
    """Check the context attributes (CloudEvents 1.0: strings, or scalars for extensions)."""
    version = attributes.get("specversion")
    if version not in (SPEC_VERSION, LEGACY_SPEC_VERSION):
        raise InputError(
            f"malformed CloudEvent: specversion must be '{SPEC_VERSION}', not {version!r}"
        )
    for required in ("id", "source", "type"):
        value = attributes.get(required)
        if not isinstance(value, str) or not value.strip():
            raise InputError(
                f"malformed CloudEvent: missing required attribute '{required}'"
                if value is None or value == ""
                else f"malformed CloudEvent: attribute '{required}' must be a non-blank string"
            )
    for name in ("subject", "time", "datacontenttype", "dataschema"):
        if attributes.get(name) is not None and not isinstance(attributes[name], str):
            raise InputError(
                f"malformed CloudEvent: attribute '{name}' must be a string"
            )
    return Event(
        id=attributes["id"],
        source=attributes["source"],
        type=attributes["type"],
        data=data,
        subject=attributes.get("subject"),
        time=_parse_time(attributes.get("time")),
        datacontenttype=attributes.get("datacontenttype"),
        extensions=_extensions(attributes),
    )


def _extensions(attributes: Mapping[str, Any]) -> dict[str, str]:
    extensions: dict[str, str] = {}
    for name, value in attributes.items():
        if name in _CORE_ATTRIBUTES or name == "specversion" or value is None:
            continue
        if isinstance(value, dict | list):
            raise InputError(
                f"malformed CloudEvent: extension attribute '{name}' must be a"
                " string, number or boolean"
            )
        extensions[name] = _render_scalar(value)
    return extensions


def _render_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _data_of(raw: bytes, limits: JsonLimits) -> Any:
    """JSON data decoded and checked; anything else is kept as text (or bytes)."""
    return json_limits.decode_or_text(raw, limits=limits, what="the event data")


def _to_cloudevent(event: Event) -> CloudEvent:
    attributes: dict[str, Any] = {
        "id": event.id,
        "source": event.source,
        "type": event.type,
    }
    if event.subject is not None:
        attributes["subject"] = event.subject
    if event.time is not None:
        attributes["time"] = render_time(event.time)
    attributes["datacontenttype"] = event.datacontenttype or JSON_CONTENT_TYPE
    attributes.update(event.extensions)
    return CloudEvent(attributes, event.data)


def _parse_time(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _as_bytes(body: object) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")
