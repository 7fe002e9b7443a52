"""Rebuilding the Data Index projection from the runtime's own records (`knflow index rebuild`).

It replays the stored definitions and the outbox through the same merge code as live ingestion,
in one transaction, so readers see the previous projection until the rebuild commits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from knflow.errors import InputError
from knflow.events import codec, kogito, types
from knflow.events.codec import Event
from knflow.events.kogito_ingest import parse_event
from knflow.runtime.data_index.ingest import apply_changes
from knflow.runtime.services import Services
from knflow.store import db, index
from knflow.store.db import Connection
from knflow.store.index import RuntimeDefinition
from knflow.workflow.parsing import parse_definition

logger = logging.getLogger(__name__)

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_REPLAYED: Final = types.DATA_INDEX_TYPES


@dataclass(frozen=True, slots=True, kw_only=True)
class RebuildReport:
    """What a rebuild replayed."""

    definitions: int
    """Definitions announced from the runtime's `definitions` table."""
    events: int
    """Outbox events applied."""
    skipped: int
    """Outbox events that could not be parsed (logged)."""


def rebuild(services: Services) -> RebuildReport:
    """Recompute the projection from the runtime's definitions and outbox, atomically.

    Readers see the previous projection until the rebuild commits.
    """
    with db.transaction(services.pool) as conn:
        index.clear_projection(conn)
        announced = _announce_all(conn, services)
        applied, skipped = _replay(conn, index.outbox_events(conn, _REPLAYED), services)
    logger.info(
        "index rebuilt",
        extra={"definitions": announced, "events": applied, "skipped": skipped},
    )
    return RebuildReport(definitions=announced, events=applied, skipped=skipped)


def announce(definition: RuntimeDefinition, service_url: str) -> Event:
    """Build the ProcessDefinitionEvent of a definition the runtime stores.

    The same builder as registration's, on the same parsed definition, so the rebuilt
    definition has the live one's nodes and metadata; the outbox replay that follows
    brings back each announcement the runtime made.
    """
    return kogito.registered_definition_event(
        parse_definition(definition.document),
        source_text=definition.source_text or "",
        endpoint=f"{service_url.rstrip('/')}/{definition.workflow_id}",
        status=(definition.status or "AVAILABLE").lower(),
        at=definition.registered_at or EPOCH,
    )


def _announce_all(conn: Connection, services: Services) -> int:
    definitions = index.runtime_definitions(conn)
    for definition in definitions:
        event = announce(definition, services.settings.service_url)
        apply_changes(conn, parse_event(event, received_at=services.clock()))
    return len(definitions)


def _replay(
    conn: Connection, raw_events: Iterable[dict[str, Any]], services: Services
) -> tuple[int, int]:
    applied = skipped = 0
    for raw in raw_events:
        try:
            changes = parse_event(codec.from_dict(raw), received_at=services.clock())
        except InputError as error:
            logger.warning("outbox event skipped", extra={"reason": str(error)})
            skipped += 1
            continue
        apply_changes(conn, changes)
        applied += 1
    return applied, skipped
