"""Notifications over HTTP: the Backstage Notifications API and the generic webhook.

It owns the Backstage notification body (`{recipients, payload}`), its checks and the
limits of Backstage's tables, the webhook body and the two POSTs. It decides neither
what to send nor when to try again: it turns each answer into success or an error whose
`retryable` says if a retry helps.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

import httpx

from knflow.errors import ActionError, InputError, UnavailableError
from knflow.outbound.http import HttpClient
from knflow.workflow.model import Json

NOTIFICATIONS_PATH: Final = "/api/notifications/notifications"
SEVERITIES: Final = ("critical", "high", "normal", "low")
OPTIONAL_PAYLOAD_TEXTS: Final = ("description", "link", "topic", "scope", "icon")
# 408 and 429 say "come back later"; every 5xx may be a passing outage.
RETRYABLE_STATUSES: Final = frozenset({408, 429})
CREDENTIAL_STATUSES: Final = frozenset({401, 403})
"""Answers that blame knflow's credentials, not the notification: retried, since the
notification goes through once the token or the target's access rules are fixed."""
TEXT_LIMIT: Final = 255
"""Characters Backstage stores of `title`, `topic`, `scope` and `icon`: varchar(255)
columns of its `notification` and `broadcast` tables (notifications-backend 0.6)."""
LIMITED_TEXTS: Final = ("title", "topic", "scope", "icon")
ELLIPSIS: Final = "\u2026"
_SCOPE_DIGEST_CHARS: Final = 16
_MAX_REASON_CHARS: Final = 300
_BACKSTAGE_CREDENTIALS_HINT: Final = (
    "check BACKSTAGE_NOTIFICATIONS_TOKEN against the static tokens of Backstage's"
    " backend.auth.externalAccess and their access restrictions (the notifications"
    " plugin must be allowed)"
)
_WEBHOOK_CREDENTIALS_HINT: Final = (
    "check NOTIFY_WEBHOOK_URL and what the webhook expects"
)


def parse_notification(data: Json) -> dict[str, Json]:
    """Check that `data` is a Backstage notification body and return the body to send.

    The result holds `recipients` and `payload` only; payload fields beyond the known
    ones pass through for Backstage to judge. The payload is fitted to Backstage's
    limits (`fit_payload`).

    Raises:
        InputError: recipients or title are missing, or a field has the wrong shape.
    """
    if not isinstance(data, Mapping):
        raise InputError(
            "notification data must be a JSON object with recipients and payload"
        )
    return {
        "recipients": _parse_recipients(data.get("recipients")),
        "payload": fit_payload(_parse_payload(data.get("payload"))),
    }


def fit_payload(payload: Mapping[str, Json]) -> dict[str, Json]:
    """Return `payload` with `title`, `topic`, `scope` and `icon` within `TEXT_LIMIT`.

    Backstage stores those in varchar(255) columns and answers a longer one with 500
    (broadcast) or 400 (users), which would lose the notification. A longer text is cut
    with an ellipsis and written out in full at the top of `description`; a cut `scope`
    also ends in a digest of the whole, so that distinct scopes stay distinct (Backstage
    updates the notification of the same scope in place). Fitting is idempotent.
    """
    fitted = dict(payload)
    written_out: list[str] = []
    for name in LIMITED_TEXTS:
        text = payload.get(name)
        if not isinstance(text, str) or len(text) <= TEXT_LIMIT:
            continue
        fitted[name] = _shorten_scope(text) if name == "scope" else shorten(text)
        written_out.append(text if name == "title" else f"{name}: {text}")
    if written_out:
        fitted["description"] = with_full_texts(payload.get("description"), written_out)
    return fitted


def shorten(text: str, limit: int = TEXT_LIMIT) -> str:
    """Return `text` cut to at most `limit` characters, ending in an ellipsis if cut."""
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)] + ELLIPSIS


def with_full_texts(description: Json, full_texts: list[str]) -> str:
    """Return a description that starts with `full_texts`, one paragraph each."""
    paragraphs = [*full_texts]
    if isinstance(description, str) and description:
        paragraphs.append(description)
    return "\n\n".join(paragraphs)


def render_webhook_body(
    notification: Mapping[str, Json],
    *,
    event_id: str,
    instance_id: str | None,
    workflow_id: str | None,
) -> dict[str, Json]:
    """Return the webhook body: the notification, its ids and a chat-ready `text`."""
    payload = notification["payload"]
    text = payload["title"]
    if payload.get("description"):
        text = f"{text}: {payload['description']}"
    return {
        **notification,
        "text": text,
        "eventId": event_id,
        "instanceId": instance_id,
        "workflowId": workflow_id,
    }


def send_notification(
    client: HttpClient, body: Mapping[str, Json], *, base_url: str, token: str
) -> int | None:
    """POST `body` to the Backstage Notifications API at `base_url` with the token.

    Returns how many notifications Backstage created: one per user the entity refs
    resolved to (0 when they resolved to nobody), one for a broadcast; None when the
    answer is not the array Backstage sends.

    Raises:
        UnavailableError: Backstage could not be reached or did not answer in time.
        ActionError: Backstage refused; retryable for 401, 403, 408, 429 and 5xx answers.
    """
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = _post(
        client,
        f"{base_url.rstrip('/')}{NOTIFICATIONS_PATH}",
        body,
        headers=headers,
        credentials_hint=_BACKSTAGE_CREDENTIALS_HINT,
    )
    try:
        created: Any = response.json()
    except ValueError:
        return None
    return len(created) if isinstance(created, list) else None


def send_webhook(client: HttpClient, body: Mapping[str, Json], *, url: str) -> None:
    """POST `body` as JSON to the notification webhook at `url`.

    Raises:
        UnavailableError: the webhook could not be reached or did not answer in time.
        ActionError: the webhook refused; retryable for 401, 403, 408, 429 and 5xx.
    """
    _post(client, url, body, headers={}, credentials_hint=_WEBHOOK_CREDENTIALS_HINT)


def is_credentials_refusal(error: Exception) -> bool:
    """Tell whether `error` is a target refusing knflow's credentials (401 or 403)."""
    return isinstance(error, ActionError) and error.status in CREDENTIAL_STATUSES


def _parse_recipients(recipients: Json) -> dict[str, Json]:
    if not isinstance(recipients, Mapping):
        raise InputError("notification has no recipients")
    kind = recipients.get("type")
    if kind == "broadcast":
        return {"type": "broadcast"}
    if kind != "entity":
        raise InputError(
            "notification recipients type must be 'broadcast' or 'entity',"
            f" not {kind!r}"
        )
    parsed: dict[str, Json] = {
        "type": "entity",
        "entityRef": _parse_refs(recipients.get("entityRef"), "entityRef"),
    }
    if recipients.get("excludeEntityRef") is not None:
        excluded = recipients["excludeEntityRef"]
        parsed["excludeEntityRef"] = _parse_refs(excluded, "excludeEntityRef")
    return parsed


def _parse_refs(refs: Json, field: str) -> str | list[str]:
    """Entity refs as Backstage takes them: a string or a non-empty list of strings."""
    if isinstance(refs, str) and refs.strip():
        return refs
    if (
        isinstance(refs, list)
        and refs
        and all(isinstance(ref, str) and ref.strip() for ref in refs)
    ):
        return list(refs)
    raise InputError(
        f"notification recipients need '{field}' as an entity ref or a non-empty list"
        " of entity refs"
    )


def _parse_payload(payload: Json) -> dict[str, Json]:
    if not isinstance(payload, Mapping):
        raise InputError("notification has no payload")
    title = payload.get("title")
    if not isinstance(title, str) or not title.strip():
        raise InputError("notification payload has no title")
    for name in OPTIONAL_PAYLOAD_TEXTS:
        if payload.get(name) is not None and not isinstance(payload[name], str):
            raise InputError(f"notification payload field '{name}' must be a string")
    severity = payload.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise InputError(
            f"notification severity must be one of {', '.join(SEVERITIES)},"
            f" not {severity!r}"
        )
    return {name: value for name, value in payload.items() if value is not None}


def _shorten_scope(scope: str) -> str:
    digest = hashlib.sha256(scope.encode()).hexdigest()[:_SCOPE_DIGEST_CHARS]
    return shorten(scope, TEXT_LIMIT - len(digest)) + digest


def _post(
    client: HttpClient,
    url: str,
    body: Mapping[str, Json],
    *,
    headers: dict[str, str],
    credentials_hint: str,
) -> httpx.Response:
    try:
        response = client.post(url, json=dict(body), headers=headers)
    except httpx.TimeoutException as error:
        raise UnavailableError(
            f"notification target {url} did not answer in time"
        ) from error
    except httpx.HTTPError as error:
        raise UnavailableError(
            f"notification target {url} is unreachable: {error}"
        ) from error
    except httpx.InvalidURL as error:
        raise ActionError(
            f"notification target url {url!r} is invalid: {error}"
        ) from error
    if response.is_success:
        return response
    status = response.status_code
    if status in CREDENTIAL_STATUSES:
        raise ActionError(
            f"notification target {url} refused knflow's credentials ({status}:"
            f" {_reason(response)}); {credentials_hint}",
            status=status,
            kind="HttpError",
            retryable=True,
        )
    raise ActionError(
        f"notification target {url} answered {status}: {_reason(response)}",
        status=status,
        kind="HttpError",
        retryable=status >= 500 or status in RETRYABLE_STATUSES,
    )


def _reason(response: httpx.Response) -> str:
    """The error message of an answer: Backstage's `error.message`, else the text."""
    try:
        parsed: Any = response.json()
    except ValueError:
        parsed = None
    if isinstance(parsed, Mapping):
        error = parsed.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return str(error["message"])[:_MAX_REASON_CHARS]
        if isinstance(parsed.get("message"), str):
            return str(parsed["message"])[:_MAX_REASON_CHARS]
    return (response.text.strip() or response.reason_phrase)[:_MAX_REASON_CHARS]
