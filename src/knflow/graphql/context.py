"""What resolvers of one GraphQL request share: a connection and batched lookups.

Nested fields (nodes, parent, children, definition) are loaded for every instance of
the request at once, on first use, so a page of N instances costs a fixed number of
queries instead of N.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from knflow.runtime.services import Services
from knflow.store import index
from knflow.store.db import Connection
from knflow.store.index import DefinitionRow, InstanceRow, NodeRow


@dataclass
class RequestContext:
    """Per-request state; never shared between requests."""

    services: Services
    """The process's dependencies (mutations call out through them)."""
    conn: Connection
    """The request's connection, inside one read transaction."""
    credentials: Mapping[str, str] = field(default_factory=dict)
    """The caller's `Authorization`/`X-Authorization-Backstage`, passed on by mutations."""
    seen: dict[str, InstanceRow] = field(default_factory=dict)
    """Every instance the request has produced so far, by id."""
    _nodes: dict[str, list[NodeRow]] = field(default_factory=dict)
    _parents: dict[str, InstanceRow | None] = field(default_factory=dict)
    _children: dict[str, list[InstanceRow]] = field(default_factory=dict)
    _definitions: dict[str, list[DefinitionRow]] = field(default_factory=dict)

    def register(self, rows: list[InstanceRow]) -> list[InstanceRow]:
        """Remember `rows` so later lookups batch over them; return them."""
        for row in rows:
            self.seen.setdefault(row.id, row)
        return rows

    def nodes(self, instance_id: str) -> list[NodeRow]:
        """Return the entered nodes of an instance, ordered by enter."""
        if instance_id not in self._nodes:
            wanted = [i for i in self.seen if i not in self._nodes] or [instance_id]
            grouped: dict[str, list[NodeRow]] = defaultdict(list)
            for node in index.nodes_of(self.conn, wanted):
                grouped[node.process_instance_id].append(node)
            for instance in wanted:
                self._nodes[instance] = grouped.get(instance, [])
            self._nodes.setdefault(instance_id, [])
        return self._nodes[instance_id]

    def parent(self, row: InstanceRow) -> InstanceRow | None:
        """Return the parent instance of `row`, if indexed."""
        parent_id = row.parent_process_instance_id
        if parent_id is None:
            return None
        if parent_id not in self._parents:
            wanted = {
                r.parent_process_instance_id
                for r in self.seen.values()
                if r.parent_process_instance_id
                and r.parent_process_instance_id not in self._parents
            } | {parent_id}
            found = {r.id: r for r in index.instances_by_ids(self.conn, sorted(wanted))}
            for wanted_id in wanted:
                self._parents[wanted_id] = found.get(wanted_id)
            self.register(list(found.values()))
        return self._parents[parent_id]

    def children(self, instance_id: str) -> list[InstanceRow]:
        """Return the instances started by `instance_id`, by start."""
        if instance_id not in self._children:
            wanted = [i for i in self.seen if i not in self._children] or [instance_id]
            grouped: dict[str, list[InstanceRow]] = defaultdict(list)
            for child in index.children_of(self.conn, wanted):
                grouped[child.parent_process_instance_id or ""].append(child)
            for parent in wanted:
                self._children[parent] = grouped.get(parent, [])
            self._children.setdefault(instance_id, [])
            self.register([c for cs in grouped.values() for c in cs])
        return self._children[instance_id]

    def definition(self, process_id: str, version: str | None) -> DefinitionRow | None:
        """Return the definition an instance ran (its version, else the newest)."""
        if process_id not in self._definitions:
            wanted = {r.process_id for r in self.seen.values()} | {process_id}
            wanted -= set(self._definitions)
            grouped: dict[str, list[DefinitionRow]] = defaultdict(list)
            for row in index.definitions_by_ids(self.conn, sorted(wanted)):
                grouped[row.id].append(row)
            for definition_id in wanted:
                self._definitions[definition_id] = grouped.get(definition_id, [])
        versions = self._definitions[process_id]
        exact = [d for d in versions if d.version == version]
        if exact:
            return exact[0]
        return max(versions, key=lambda d: d.updated_at, default=None)
