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
from knflow.store import index, index_query
from knflow.store.db import Connection
from knflow.store.definitions import definition_version
from knflow.store.index import IndexedDefinition, IndexedInstance, IndexedNode
from knflow.store.index_query import FieldTest, Order

Columns = tuple[str, ...]


@dataclass
class RequestContext:
    """Per-request state; never shared between requests."""

    services: Services
    """The process's dependencies (mutations call out through them)."""
    conn: Connection
    """The request's connection (autocommit, its statements bounded by the timeout)."""
    credentials: Mapping[str, str] = field(default_factory=dict)
    """The caller's `Authorization`/`X-Authorization-Backstage`, passed on by mutations."""
    seen: dict[str, IndexedInstance] = field(default_factory=dict)
    """Every instance the request has produced so far, by id."""
    _nodes: dict[str, list[IndexedNode]] = field(default_factory=dict)
    _parents: dict[Columns, dict[str, IndexedInstance | None]] = field(
        default_factory=dict
    )
    _children: dict[Columns, dict[str, list[IndexedInstance]]] = field(
        default_factory=dict
    )
    _definitions: dict[str, list[IndexedDefinition]] = field(default_factory=dict)

    def register(
        self,
        rows: list[IndexedInstance],
        nodes: Mapping[str, list[IndexedNode]] | None = None,
    ) -> list[IndexedInstance]:
        """Remember `rows` so later lookups batch over them; return them.

        `nodes` are their entered nodes when they were read with them.
        """
        for row in rows:
            self.seen.setdefault(row.id, row)
        for instance_id, entered in (nodes or {}).items():
            self._nodes.setdefault(instance_id, entered)
        return rows

    def nodes(self, instance_id: str) -> list[IndexedNode]:
        """Return the entered nodes of an instance, ordered by enter."""
        if instance_id not in self._nodes:
            wanted = [i for i in self.seen if i not in self._nodes] or [instance_id]
            grouped: dict[str, list[IndexedNode]] = defaultdict(list)
            for node in index.nodes_of(self.conn, wanted):
                grouped[node.process_instance_id].append(node)
            for instance in wanted:
                self._nodes[instance] = grouped.get(instance, [])
            self._nodes.setdefault(instance_id, [])
        return self._nodes[instance_id]

    def parent(self, row: IndexedInstance, columns: Columns) -> IndexedInstance | None:
        """Return the parent instance of `row`, if indexed, read with `columns`."""
        parent_id = row.parent_process_instance_id
        if parent_id is None:
            return None
        parents = self._parents.setdefault(columns, {})
        if parent_id not in parents:
            wanted = {
                r.parent_process_instance_id
                for r in self.seen.values()
                if r.parent_process_instance_id
                and r.parent_process_instance_id not in parents
            } | {parent_id}
            found = {r.id: r for r in self._instances("id", sorted(wanted), columns)}
            for wanted_id in wanted:
                parents[wanted_id] = found.get(wanted_id)
            self.register(list(found.values()))
        return parents[parent_id]

    def children(self, instance_id: str, columns: Columns) -> list[IndexedInstance]:
        """Return the instances started by `instance_id`, by start, read with `columns`."""
        children = self._children.setdefault(columns, {})
        if instance_id not in children:
            wanted = [i for i in self.seen if i not in children] or [instance_id]
            grouped: dict[str, list[IndexedInstance]] = defaultdict(list)
            with_parent = (*columns, "parent_process_instance_id")
            for child in self._instances(
                "parentProcessInstanceId", wanted, tuple(dict.fromkeys(with_parent))
            ):
                grouped[child.parent_process_instance_id or ""].append(child)
            for parent in wanted:
                children[parent] = grouped.get(parent, [])
            children.setdefault(instance_id, [])
            self.register([c for cs in grouped.values() for c in cs])
        return children[instance_id]

    def definition(
        self, process_id: str, version: str | None
    ) -> IndexedDefinition | None:
        """Return the definition an instance ran (its version, else the newest)."""
        if process_id not in self._definitions:
            wanted = {r.process_id for r in self.seen.values()} | {process_id}
            wanted -= set(self._definitions)
            grouped: dict[str, list[IndexedDefinition]] = defaultdict(list)
            for row in index.definitions_by_ids(self.conn, sorted(wanted)):
                grouped[row.id].append(row)
            for definition_id in wanted:
                self._definitions[definition_id] = grouped.get(definition_id, [])
        versions = self._definitions[process_id]
        for wanted_version in (version, definition_version(version)):
            exact = [d for d in versions if d.version == wanted_version]
            if exact:
                return exact[0]
        return max(versions, key=lambda d: d.updated_at, default=None)

    def _instances(
        self, field_name: str, values: list[str], columns: Columns
    ) -> list[IndexedInstance]:
        return index_query.select_instances(
            self.conn,
            FieldTest(field_name, "in", values),
            (Order("start", descending=False),),
            limit=None,
            offset=0,
            columns=(*columns, "start") if "start" not in columns else columns,
        )
