"""The CloudEvents codec: HTTP requests to `Event` values and back (binary and structured).

This is the only module that imports the `cloudevents` package.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from cloudevents.conversion import to_binary, to_structured
from cloudevents.exceptions import GenericException
from cloudevents.http import CloudEvent
from cloudevents.http import from_http as decode_http

from knflow.errors import InputError

JSON_CONTENT_TYPE: Final = "application/json"
STRUCTURED_CONTENT_TYPE: Final = "application/cloudevents+json"
BATCH_CONTENT_TYPE: Final = "application/cloudevents-batch+json"
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


def from_http(headers: Mapping[str, str], body: bytes) -> Event:
    """Decode a CloudEvent from an HTTP request in binary or structured mode.

    Raises:
        InputError: the request is not a valid CloudEvent 1.0.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    if lowered.get("content-type", "").startswith(BATCH_CONTENT_TYPE):
        raise InputError(
            "batched CloudEvents are not accepted; send one event per request"
        )
    try:
        decoded = _from_http(lowered, body)
    except (GenericException, ValueError, TypeError, KeyError) as error:
        raise InputError(f"malformed CloudEvent: {error}") from error
    return _to_event(decoded)


def from_dict(body: Mapping[str, Any]) -> Event:
    """Decode a structured-mode CloudEvent already parsed from JSON.

    Raises:
        InputError: a required attribute is missing.
    """
    return from_http(
        {"content-type": STRUCTURED_CONTENT_TYPE},
        json.dumps(dict(body)).encode("utf-8"),
    )


def to_binary_http(event: Event) -> tuple[dict[str, str], bytes]:
    """Encode an event for HTTP in binary mode (`ce-*` headers, data as the body)."""
    headers, body = to_binary(_to_cloudevent(event))
    return dict(headers), _as_bytes(body)


def to_structured_http(event: Event) -> tuple[dict[str, str], bytes]:
    """Encode an event for HTTP in structured mode (one JSON document)."""
    headers, body = to_structured(_to_cloudevent(event))
    return dict(headers), _as_bytes(body)


def _from_http(headers: dict[str, str], body: bytes) -> CloudEvent:
    has_binary_headers = "ce-id" in headers or "ce-specversion" in headers
    content_type = headers.get("content-type", "")
    if not has_binary_headers and not content_type.startswith(STRUCTURED_CONTENT_TYPE):
        # Some senders post structured JSON with a plain JSON content type.
        parsed = json.loads(body or b"null")
        if not isinstance(parsed, dict) or "specversion" not in parsed:
            raise ValueError("neither ce-* headers nor a structured CloudEvent body")
        headers = {**headers, "content-type": STRUCTURED_CONTENT_TYPE}
    for required in ("id", "source", "type"):
        if has_binary_headers and not headers.get(f"ce-{required}"):
            raise ValueError(f"missing required attribute '{required}'")
    event = decode_http(headers, body)
    for required in ("id", "source", "type"):
        if not event.get(required):
            raise ValueError(f"missing required attribute '{required}'")
    return event


def _to_event(decoded: CloudEvent) -> Event:
    attributes = decoded.get_attributes()
    extensions = {
        key: str(value)
        for key, value in attributes.items()
        if key not in _CORE_ATTRIBUTES and value is not None
    }
    data = decoded.get_data()
    if isinstance(data, (bytes, bytearray)):
        data = _maybe_json(bytes(data))
    return Event(
        id=str(attributes["id"]),
        source=str(attributes["source"]),
        type=str(attributes["type"]),
        data=data,
        subject=attributes.get("subject"),
        time=_parse_time(attributes.get("time")),
        datacontenttype=attributes.get("datacontenttype"),
        extensions=extensions,
    )


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


def _maybe_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


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
