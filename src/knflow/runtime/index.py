"""Data Index use cases: ingest one Kogito event into the projection, and rebuild it.

Ingest is idempotent and order-independent (see `runtime.index_merge`); all changes of
one delivery (a grouped event included) are applied in one transaction. Rebuild
replays the runtime's own records (definitions and the outbox) through the same code.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from knflow.errors import InputError
from knflow.events import codec, kogito, types
from knflow.events.codec import Event
from knflow.events.kogito_ingest import (
    Change,
    DefinitionChange,
    ErrorChange,
    JobChange,
    NodeChange,
    StateChange,
    VariableChange,
    parse_event,
)
from knflow.runtime import index_merge
from knflow.runtime.services import Services
from knflow.store import db, index
from knflow.store.db import Connection
from knflow.store.index import RuntimeDefinition

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


def ingest(services: Services, event: Event) -> Event | None:
    """Merge one delivered event into the projection; answers no event.

    Raises:
        InputError: the event is not a Data Index event or is malformed.
        UnavailableError: the database is unavailable (the broker retries).
    """
    changes = parse_event(event, received_at=services.clock())
    with db.transaction(services.pool) as conn:
        apply_changes(conn, changes)
    logger.info("event indexed", extra={"changes": len(changes)})
    return None


def apply_changes(conn: Connection, changes: Sequence[Change]) -> None:
    """Merge `changes` inside the caller's transaction.

    Instance locks are taken up front in sorted order, so two grouped deliveries
    touching the same instances cannot deadlock.
    """
    instance_ids = {_instance_id(change) for change in changes}
    for instance_id in sorted(i for i in instance_ids if i is not None):
        index.lock_instance(conn, instance_id)
    for change in changes:
        _apply(conn, change)


def rebuild(services: Services) -> RebuildReport:
    """Recompute the projection from the runtime's definitions and outbox, atomically.

    Readers see the previous projection until the rebuild commits.
    """
    with db.transaction(services.pool) as conn:
        index.clear_projection(conn)
        definitions = index.runtime_definitions(conn)
        for definition in definitions:
            event = announce(definition, services.settings.service_url)
            apply_changes(conn, parse_event(event, received_at=services.clock()))
        applied, skipped = _replay(conn, index.outbox_events(conn, _REPLAYED), services)
    logger.info(
        "index rebuilt",
        extra={"definitions": len(definitions), "events": applied, "skipped": skipped},
    )
    return RebuildReport(definitions=len(definitions), events=applied, skipped=skipped)


def announce(definition: RuntimeDefinition, service_url: str) -> Event:
    """Build the ProcessDefinitionEvent of a definition the runtime stores."""
    document = definition.document if isinstance(definition.document, dict) else {}
    annotations = [str(a) for a in document.get("annotations") or []]
    description = definition.description or document.get("description")
    metadata: dict[str, Any] = {"Description": description, "annotations": annotations}
    if definition.status:
        # The plugin hides definitions whose metadata.status is "unavailable".
        metadata["status"] = definition.status.lower()
    return kogito.definition_event(
        workflow_id=definition.workflow_id,
        version=definition.version,
        name=definition.name or document.get("name") or definition.workflow_id,
        description=description,
        annotations=annotations,
        endpoint=f"{service_url.rstrip('/')}/{definition.workflow_id}",
        source_text=definition.source_text or "",
        metadata=metadata,
        nodes=kogito.definition_nodes(document),
        at=definition.registered_at or EPOCH,
    )


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


def _instance_id(change: Change) -> str | None:
    if isinstance(change, (StateChange, NodeChange, VariableChange, ErrorChange)):
        return change.ref.instance_id
    return None


def _apply(conn: Connection, change: Change) -> None:
    if isinstance(change, DefinitionChange):
        index.lock_definition(conn, change.id, change.version)
        current = index.get_definition(conn, change.id, change.version)
        index.save_definition(conn, index_merge.merge_definition(current, change))
    elif isinstance(change, JobChange):
        index.lock_job(conn, change.id)
        index.save_job(
            conn, index_merge.merge_job(index.get_job(conn, change.id), change)
        )
    else:
        _apply_to_instance(conn, change)


def _apply_to_instance(
    conn: Connection, change: StateChange | NodeChange | VariableChange | ErrorChange
) -> None:
    ref = change.ref
    row = index.get_instance(conn, ref.instance_id)
    if isinstance(change, StateChange):
        index.save_instance(conn, index_merge.merge_state(row, change))
    elif isinstance(change, VariableChange):
        index.save_instance(conn, index_merge.merge_variable(row, change))
    elif isinstance(change, NodeChange):
        index.save_instance(conn, index_merge.touch_instance(row, ref))
        node = index.get_node(conn, ref.instance_id, change.node_instance_id)
        index.save_node(conn, index_merge.merge_node(node, change))
    else:
        index.save_instance(conn, index_merge.merge_error(row, change))
        _mark_failed_node(conn, change)


def _mark_failed_node(conn: Connection, change: ErrorChange) -> None:
    if change.node_instance_id is None:
        return
    node = index.get_node(conn, change.ref.instance_id, change.node_instance_id)
    marked = index_merge.mark_node_error(node, change)
    if marked is not None:
        index.save_node(conn, marked)
