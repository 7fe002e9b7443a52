"""`BackstageStandIn`: the Backstage Notifications backend as notify meets it.

It enforces what @backstage/plugin-notifications-backend 0.6 does with
`POST /api/notifications/notifications` (its service/router.ts and migrations, read,
not copied): service credentials only (401 without a known token, 403 for a token whose
access restrictions leave the plugin out); `title` and `recipients` required; a `link`
resolved against `app.baseUrl` and refused unless it is http or https; entity refs
resolved through the catalog (users as they are, groups to their members, anything else
to nobody, answered 200 `[]`); the varchar columns of its tables (`title`, `topic`,
`scope`, `icon` 255 characters, `severity` 8), which a broadcast overflows with 500 and a
user notification with 400; and the answer 200 with the array of what it stored. While
`up` is False it answers like a route whose pods are gone.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from tests.peers import HttpPeer, Recorded, Reply

PATH = "/api/notifications/notifications"
TOKEN = "backstage-static-token"
APP_BASE_URL = "https://devhub.example.com"
COLUMN_LIMITS = {"title": 255, "topic": 255, "scope": 255, "icon": 255, "severity": 8}
GONE = Reply(
    503,
    b"<html><body><h1>Application is not available</h1></body></html>",
    {"content-type": "text/html"},
)


class BackstageStandIn:
    """Backstage's Notifications API on `peer`, storing what it accepts."""

    def __init__(
        self,
        peer: HttpPeer,
        *,
        tokens: Iterable[str] = (TOKEN,),
        restricted_tokens: Iterable[str] = (),
        groups: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.peer = peer
        self.tokens = set(tokens)
        self.restricted_tokens = set(restricted_tokens)
        self.groups = dict(groups or {})
        self.up = True
        self._stored: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        peer.route("POST", PATH, self._answer)

    @property
    def url(self) -> str:
        """The base URL to configure as `BACKSTAGE_URL`."""
        return self.peer.url

    def notifications(self) -> list[dict[str, Any]]:
        """Every notification stored so far (one per user, one per broadcast)."""
        with self._lock:
            return list(self._stored)

    def posts(self) -> list[Recorded]:
        """Every POST to the Notifications API, answered or not."""
        return self.peer.received("POST", PATH)

    def _answer(self, request: Recorded) -> Reply:
        if not self.up:
            return GONE
        refused = self._refused_credentials(request.headers.get("authorization", ""))
        if refused is not None:
            return refused
        body = request.json()
        body = body if isinstance(body, dict) else {}
        recipients, payload = body.get("recipients"), body.get("payload") or {}
        missing = [
            name
            for name, value in (
                ("title", payload.get("title")),
                ("recipients", recipients),
            )
            if not value
        ]
        if missing:
            return _error(
                400,
                "InputError",
                f"Invalid notification request received: missing {', '.join(missing)}",
            )
        if payload.get("link") and not _is_web_link(payload["link"]):
            return _error(400, "InputError", "Invalid link provided")
        payload = {**payload, "severity": payload.get("severity") or "normal"}
        if recipients.get("type") == "broadcast":
            return self._store([None], payload, overflow_status=500)
        if recipients.get("type") != "entity":
            return _error(
                400,
                "InputError",
                "Invalid recipients type, please use either 'broadcast' or 'entity'",
            )
        return self._store(self._users(recipients), payload, overflow_status=400)

    def _refused_credentials(self, authorization: str) -> Reply | None:
        token = authorization.removeprefix("Bearer ").strip()
        if not authorization.startswith("Bearer ") or not token:
            return _error(401, "AuthenticationError", "Missing credentials")
        if token in self.restricted_tokens:
            return _error(
                403,
                "NotAllowedError",
                "This token's access is restricted to plugin(s) 'catalog'",
            )
        if token not in self.tokens:
            return _error(401, "AuthenticationError", "Illegal token")
        return None

    def _users(self, recipients: Mapping[str, Any]) -> list[str]:
        excluded = set(self._expand(recipients.get("excludeEntityRef")))
        users = self._expand(recipients.get("entityRef"))
        return list(dict.fromkeys(user for user in users if user not in excluded))

    def _expand(self, refs: Any) -> list[str]:
        listed = [refs] if isinstance(refs, str) else list(refs or [])
        users: list[str] = []
        for ref in listed:
            if ref.startswith("user:"):
                users.append(ref)
            else:
                users.extend(self.groups.get(ref, []))
        return users

    def _store(
        self, users: list[str | None], payload: dict[str, Any], *, overflow_status: int
    ) -> Reply:
        """Insert one row per user, as its `notification`/`broadcast` tables would."""
        if not users:
            return Reply(200, [])
        for column, limit in COLUMN_LIMITS.items():
            value = payload.get(column)
            if isinstance(value, str) and len(value) > limit:
                return _error(
                    overflow_status,
                    "error",
                    f"value too long for type character varying({limit})",
                )
        created = datetime.now(UTC).isoformat()
        stored = [
            {
                "id": str(uuid.uuid4()),
                "user": user,
                "created": created,
                "origin": "external:knflow",
                "payload": payload,
            }
            for user in users
        ]
        with self._lock:
            self._stored.extend(stored)
        return Reply(200, stored)


def _is_web_link(link: Any) -> bool:
    """What the backend's link check allows: http(s), once resolved on app.baseUrl."""
    if not isinstance(link, str):
        return False
    try:
        resolved = urljoin(f"{APP_BASE_URL}/", link.removeprefix("/"))
        return urlsplit(resolved).scheme in ("http", "https")
    except ValueError:
        return False


def _error(status: int, name: str, message: str) -> Reply:
    return Reply(status, {"error": {"name": name, "message": message}})
