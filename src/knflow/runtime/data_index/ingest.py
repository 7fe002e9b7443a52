"""Ingesting Kogito events into the Data Index projection (data-index-sink's event entry).

Ingest is idempotent and order-independent (see `data_index.merge`); all changes of one
delivery (a grouped event included) are applied in one pipelined transaction: the locks and
the instance's read go out together, its writes and COMMIT together, so a delivery waits for
the server about twice however many rows it changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
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
from knflow.store.index import IndexedInstance, IndexedNode

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
    with db.pipelined_transaction(services.pool) as conn:
        apply_changes(conn, changes)
    if event.time is not None:
        lag = (services.clock() - event.time).total_seconds()
        services.metrics.data_index_lag.observe(max(lag, 0.0))
    logger.debug("event indexed", extra={"changes": len(changes)})
    return None


def apply_changes(conn: Connection, changes: Sequence[Change]) -> None:
    """Merge `changes` inside the caller's transaction.

    Instance locks are taken up front in sorted order, so two grouped deliveries touching
    the same instances cannot deadlock. An instance's changes are merged in memory and each
    changed row is written once: a grouped event of one commit reads and writes its
    instance once, not once per node and variable.
    """
    instance_ids = {_instance_id(change) for change in changes}
    for instance_id in sorted(i for i in instance_ids if i is not None):
        index.lock_instance(conn, instance_id)
    batch = _Batch(conn)
    for change in changes:
        if isinstance(change, DefinitionChange):
            index.lock_definition(conn, change.id, change.version)
            current = index.get_definition(conn, change.id, change.version)
            index.save_definition(conn, merge.merge_definition(current, change))
        elif isinstance(change, JobChange):
            index.lock_job(conn, change.id)
            index.save_job(
                conn, merge.merge_job(index.get_job(conn, change.id), change)
            )
        else:
            batch.apply(change)
    batch.save()


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


InstanceChange = StateChange | NodeChange | VariableChange | ErrorChange


@dataclass(slots=True)
class _Batch:
    """The instance and node rows one delivery changes, read once and written once."""

    conn: Connection
    instances: dict[str, IndexedInstance | None] = field(default_factory=dict)
    nodes: dict[str, dict[str, IndexedNode]] = field(default_factory=dict)
    changed_instances: set[str] = field(default_factory=set)
    changed_nodes: dict[tuple[str, str], IndexedNode] = field(default_factory=dict)

    def apply(self, change: InstanceChange) -> None:
        """Merge one change into the rows in memory."""
        instance_id = change.ref.instance_id
        row = self._instance(instance_id)
        if isinstance(change, StateChange):
            row = merge.merge_state(row, change)
        elif isinstance(change, VariableChange):
            row = merge.merge_variable(row, change)
        elif isinstance(change, NodeChange):
            row = merge.touch_instance(row, change.ref)
            node = self._node(instance_id, change.node_instance_id)
            self._keep_node(instance_id, merge.merge_node(node, change))
        else:
            row = merge.merge_error(row, change)
            self._mark_failed_node(change)
        self.instances[instance_id] = row
        self.changed_instances.add(instance_id)

    def save(self) -> None:
        """Write every changed row."""
        for instance_id in sorted(self.changed_instances):
            row = self.instances[instance_id]
            if row is not None:
                index.save_instance(self.conn, row)
        if self.changed_nodes:
            index.save_nodes(self.conn, list(self.changed_nodes.values()))

    def _instance(self, instance_id: str) -> IndexedInstance | None:
        if instance_id not in self.instances:
            found = index.get_instance(self.conn, instance_id)
            self.instances[instance_id] = found
            if found is None:  # nodes are saved with their instance's row: none yet
                self.nodes[instance_id] = {}
        return self.instances[instance_id]

    def _node(self, instance_id: str, node_id: str) -> IndexedNode | None:
        if instance_id not in self.nodes:
            self.nodes[instance_id] = {
                node.id: node for node in index.instance_nodes(self.conn, instance_id)
            }
        return self.nodes[instance_id].get(node_id)

    def _keep_node(self, instance_id: str, node: IndexedNode) -> None:
        self.nodes[instance_id][node.id] = node
        self.changed_nodes[(instance_id, node.id)] = node

    def _mark_failed_node(self, change: ErrorChange) -> None:
        if change.node_instance_id is None:
            return
        instance_id = change.ref.instance_id
        marked = merge.mark_node_error(
            self._node(instance_id, change.node_instance_id), change
        )
        if marked is not None:
            self._keep_node(instance_id, marked)
