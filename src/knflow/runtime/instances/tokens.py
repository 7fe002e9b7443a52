"""The tokens an instance keeps for its calls: sealed at start and retrigger, opened per call.

The `X-Authorization-*` headers of the request that started (or retriggered) an instance are
sealed into `instance_tokens` (never `instances.headers`, workflow data, events or logs), so
they survive timers, events and retriggers — beyond SonataFlow, whose forwarded tokens stop
at the first wait. A call carries them only to the functions whose definition asks for them:

- `metadata.forwardHeaders: "X-Authorization-Github, X-Authorization-Gitlab"` sends those
  headers as received (0.8 metadata values are strings: a comma-separated list);
- `metadata.tokenPropagation: "X-Authorization-Github"` sends that token as
  `Authorization: Bearer <token>` — SonataFlow's OpenAPI `token-propagation` with `header-name`.

The row is deleted when the instance ends.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from knflow.config import Settings
from knflow.store import tokens
from knflow.store.db import Connection
from knflow.store.tokens import TokenRow
from knflow.workflow.model import FunctionDef

logger = logging.getLogger(__name__)

FORWARDED_PREFIX: Final = "x-authorization-"
FORWARD_HEADERS_KEY: Final = "forwardHeaders"
TOKEN_PROPAGATION_KEY: Final = "tokenPropagation"


def forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    """The `X-Authorization-*` headers of a request, names in lower case."""
    return {
        name.lower(): value
        for name, value in headers.items()
        if name.lower().startswith(FORWARDED_PREFIX) and value
    }


def keep(
    conn: Connection,
    settings: Settings,
    instance_id: str,
    headers: Mapping[str, str],
    *,
    now: datetime,
) -> None:
    """Seal and store `headers` for the instance (replacing what it kept); none: no change."""
    if not headers:
        return
    from knflow.auth.sealing import (
        TokenKeys,
    )  # cryptography: only when there are tokens

    keys = TokenKeys(settings.token_keys)
    if not keys.can_seal:
        logger.warning("forwarded tokens dropped: KNFLOW_TOKEN_KEY is not set")
        return
    sealed = keys.seal(instance_id, headers)
    tokens.put(
        conn,
        instance_id,
        TokenRow(
            key_id=sealed.key_id, nonce=sealed.nonce, ciphertext=sealed.ciphertext
        ),
        now=now,
    )


def add(
    conn: Connection,
    settings: Settings,
    instance_id: str,
    headers: Mapping[str, str],
    *,
    now: datetime,
) -> None:
    """Seal `headers` over the tokens the instance keeps: a header sent again replaces its
    kept value, the others stay (a retrigger sending only the Backstage token keeps the
    GitHub token the start sent)."""
    if not headers:
        return
    kept = read(conn, settings, instance_id)
    keep(conn, settings, instance_id, {**kept, **headers}, now=now)


def read(conn: Connection, settings: Settings, instance_id: str) -> dict[str, str]:
    """Open the tokens the instance keeps; none when it keeps none or its key was retired."""
    row = tokens.get(conn, instance_id)
    if row is None:
        return {}
    from knflow.auth.sealing import Sealed, TokenKeys

    opened = TokenKeys(settings.token_keys).open(
        instance_id,
        Sealed(key_id=row.key_id, nonce=row.nonce, ciphertext=row.ciphertext),
    )
    if opened is None:
        logger.warning("kept tokens cannot be opened: their key is not configured")
        return {}
    return opened


def copy(
    conn: Connection,
    settings: Settings,
    source_id: str,
    target_id: str,
    *,
    now: datetime,
) -> None:
    """Give a subflow or continuation the tokens of the instance that made it."""
    keep(conn, settings, target_id, read(conn, settings, source_id), now=now)


def forget(conn: Connection, instance_id: str) -> None:
    """Delete the tokens of an instance that ended."""
    tokens.delete(conn, instance_id)


def wanted_by(function_def: FunctionDef) -> bool:
    """Whether the definition marks the function as receiving forwarded tokens."""
    metadata = function_def.metadata
    return FORWARD_HEADERS_KEY in metadata or TOKEN_PROPAGATION_KEY in metadata


def headers_for(function_def: FunctionDef, kept: Mapping[str, str]) -> dict[str, str]:
    """The headers a call of `function_def` carries from the kept tokens, as it asks."""
    metadata = function_def.metadata
    names = metadata.get(FORWARD_HEADERS_KEY)
    listed = (
        [names] if isinstance(names, str) else names if isinstance(names, list) else []
    )
    headers = {
        str(name): kept[str(name).lower()]
        for name in listed
        if str(name).lower() in kept
    }
    propagated = metadata.get(TOKEN_PROPAGATION_KEY)
    if isinstance(propagated, str) and propagated.lower() in kept:
        headers["Authorization"] = f"Bearer {kept[propagated.lower()]}"
    return headers
