"""Ingesting Kogito events into the Data Index projection (data-index-sink's event entry).

Ingest is idempotent and order-independent (see `data_index.merge`); all changes of one
delivery (a grouped event included) are applied in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from knflow import json_limits
from knflow.errors import InputError
from knflow.events import types
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
from knflow.json_limits import JsonLimits
from knflow.runtime.data_index import merge
from knflow.runtime.services import Services
from knflow.store import db, index
from knflow.store.db import Connection

logger = logging.getLogger(__name__)

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_REPLAYED: Final = types.DATA_INDEX_TYPES


def handle_event(services: Services, event: Event) -> Event | None:
    """Merge one delivered event into the projection; answers no event.

    Raises:
        InputError: the event is not a Data Index event or is malformed.
        UnavailableError: the database is unavailable (the broker retries).
    """
    changes = parse_event(event, received_at=services.clock())
    _check_variable_depth(changes, services.settings.json_limits)
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


def _check_variable_depth(changes: Sequence[Change], limits: JsonLimits) -> None:
    """A dotted variable name nests its value one level per dot; bound the total.

    Raises:
        InputError: a variable would nest deeper than a received document may.
    """
    for change in changes:
        if not isinstance(change, VariableChange):
            continue
        levels = change.name.count(".") + 1 + json_limits.depth_of(change.value)
        if levels > limits.document_depth:
            raise InputError(
                f"variable '{change.name[:80]}' would nest {levels} levels; workflow"
                f" data may nest at most {limits.max_depth} (KNFLOW_MAX_JSON_DEPTH)"
            )


def _instance_id(change: Change) -> str | None:
    if isinstance(change, (StateChange, NodeChange, VariableChange, ErrorChange)):
        return change.ref.instance_id
    return None


def _apply(conn: Connection, change: Change) -> None:
    if isinstance(change, DefinitionChange):
        index.lock_definition(conn, change.id, change.version)
        current = index.get_definition(conn, change.id, change.version)
        index.save_definition(conn, merge.merge_definition(current, change))
    elif isinstance(change, JobChange):
        index.lock_job(conn, change.id)
        index.save_job(conn, merge.merge_job(index.get_job(conn, change.id), change))
    else:
        _apply_to_instance(conn, change)


def _apply_to_instance(
    conn: Connection, change: StateChange | NodeChange | VariableChange | ErrorChange
) -> None:
    ref = change.ref
    row = index.get_instance(conn, ref.instance_id)
    if isinstance(change, StateChange):
        index.save_instance(conn, merge.merge_state(row, change))
    elif isinstance(change, VariableChange):
        index.save_instance(conn, merge.merge_variable(row, change))
    elif isinstance(change, NodeChange):
        index.save_instance(conn, merge.touch_instance(row, ref))
        node = index.get_node(conn, ref.instance_id, change.node_instance_id)
        index.save_node(conn, merge.merge_node(node, change))
    else:
        index.save_instance(conn, merge.merge_error(row, change))
        _mark_failed_node(conn, change)


def _mark_failed_node(conn: Connection, change: ErrorChange) -> None:
    if change.node_instance_id is None:
        return
    node = index.get_node(conn, change.ref.instance_id, change.node_instance_id)
    marked = merge.mark_node_error(node, change)
    if marked is not None:
        index.save_node(conn, marked)
