"""Transport-free HTTP values: what `serving` hands to HTTP use cases and what they answer."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from knflow import json_limits
from knflow.auth.identity import Identity
from knflow.auth.policy import Permission
from knflow.json_limits import JsonLimits
from knflow.runtime.services import Services


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """An HTTP request, decoded by `serving`."""

    method: str
    """Upper-case method."""
    path: str
    """The path, without the query string."""
    headers: Mapping[str, str]
    """Header names in lower case."""
    query: Mapping[str, str] = field(default_factory=dict)
    """Query parameters (the last value of each)."""
    body: bytes = b""
    """The raw body."""
    params: Mapping[str, str] = field(default_factory=dict)
    """Values of the `{name}` placeholders of the matched route."""
    identity: Identity | None = None
    """Who sent it, when a token proved it (`serving`'s authentication step)."""

    json_limits: JsonLimits = field(default_factory=JsonLimits)
    """How deep the JSON of this request may nest."""

    def json(self, *, empty: Any = None) -> Any:
        """Parse the body as JSON; an empty body gives `empty`.

        Raises:
            InputError: the body is not JSON, nests too deep or holds unstorable text.
        """
        if not self.body.strip():
            return empty
        return json_limits.decode(
            self.body, limits=self.json_limits, what="the request body"
        )

    def is_json(self) -> bool:
        """Tell whether the declared content type is JSON (`application/json`, `*+json`)."""
        media_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        return media_type == "application/json" or media_type.endswith("+json")


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """An HTTP answer; `body` is encoded as JSON unless it is bytes or None."""

    status: int = 200
    """The status code."""
    body: Any = None
    """JSON-serialisable value, raw bytes, or None for no body."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra headers."""


Handler = Callable[[Services, Request], Response]


@dataclass(frozen=True, slots=True)
class Route:
    """One method and path pattern (`/management/processes/{id}`), its handler and its guard.

    A route with a `permission` needs it (on the `workflow_id` placeholder, or on every
    workflow) when authentication is required; a `delivery` route takes CloudEvents from the
    broker and needs an Eventing OIDC token when that is on; other routes are open.
    """

    method: str
    pattern: str
    handler: Handler
    permission: Permission | None = None
    delivery: bool = False

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Return the placeholder values when this route serves `method` and `path`."""
        if method != self.method:
            return None
        found = _compile(self.pattern).fullmatch(path.rstrip("/") or "/")
        return None if found is None else found.groupdict()


@functools.cache
def _compile(pattern: str) -> re.Pattern[str]:
    """The regex of a route pattern, built once: every request tries the routes in turn."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern.rstrip("/") or "/")
    return re.compile(regex)
