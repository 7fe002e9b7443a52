"""The Data Index projection repository: rows of definitions, instances, nodes and jobs.

Functions take a connection inside the caller's transaction and never commit. Merging
is the caller's (`runtime.index_merge`); this module reads, locks and writes whole rows.
Dynamic filtering and ordering for GraphQL live in `store.index_query`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final

from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from knflow.store.db import Connection
from knflow.store.rows import frozen_row
from knflow.store.sql import queries

# First key of the two-key advisory locks serialising writes per projected entity.
LOCK_CLASS_INSTANCE: Final = 7_340_600
LOCK_CLASS_DEFINITION: Final = 7_340_601
LOCK_CLASS_JOB: Final = 7_340_602
OUTBOX_BATCH: Final = 500

_JSON_COLUMNS: Final = frozenset(
    {
        "annotations",
        "roles",
        "addons",
        "metadata",
        "nodes",
        "variables",
        "variable_dates",
        "input_args",
        "output_args",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexedDefinition:
    """One ProcessDefinition, keyed by (id, version)."""

    id: str
    """Workflow id."""
    version: str
    """Workflow version."""
    name: str | None = None
    """Display name."""
    description: str | None = None
    """Description."""
    type: str | None = None
    """Process type (`SW`)."""
    endpoint: str | None = None
    """`<service url>/<id>`."""
    service_url: str | None = None
    """The endpoint without `/<id>`."""
    source: str | None = None
    """The definition text."""
    annotations: Any = ()
    """List of annotations."""
    roles: Any = ()
    """List of roles."""
    addons: Any = ()
    """List of add-ons."""
    metadata: Any = None
    """JSON object (`status` among others)."""
    nodes: Any = ()
    """List of node objects {id, name, type, uniqueId, metadata}."""
    updated_at: datetime
    """CE time of the newest event applied."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexedInstance:
    """One ProcessInstance with the bookkeeping that makes merging order-independent."""

    id: str
    """Instance id."""
    process_id: str
    """Definition id."""
    version: str | None = None
    """Definition version."""
    process_name: str | None = None
    """Definition name."""
    parent_process_instance_id: str | None = None
    """Parent instance."""
    root_process_instance_id: str | None = None
    """Root instance."""
    root_process_id: str | None = None
    """Root definition id."""
    roles: Any = ()
    """List of roles."""
    addons: Any = ()
    """List of add-ons."""
    state: int | None = None
    """ProcessInstanceState ordinal."""
    state_final: bool = False
    """Whether `state` is COMPLETED or ABORTED."""
    state_date: datetime | None = None
    """Date of the event `state` came from."""
    endpoint: str = ""
    """The CE source of the state events."""
    service_url: str | None = None
    """The endpoint without `/<processId>`."""
    variables: Any = None
    """JSON object of variables."""
    variable_dates: Any = None
    """JSON object: variable name -> ISO date of its value."""
    start: datetime | None = None
    """Start date."""
    end: datetime | None = None
    """End date."""
    last_update: datetime
    """Newest event date."""
    business_key: str | None = None
    """Business key."""
    identity: str | None = None
    """`kogitoidentity`."""
    created_by: str | None = None
    """User of the STARTED event."""
    updated_by: str | None = None
    """User of the newest state event."""
    sla_due_date: datetime | None = None
    """SLA due date."""
    cloud_event_id: str | None = None
    """Id of the event that started the instance."""
    cloud_event_source: str | None = None
    """Source of the event that started the instance."""
    fields_date: datetime | None = None
    """Date of the newest state event applied."""
    error_node_definition_id: str | None = None
    """Failed node definition."""
    error_node_instance_id: str | None = None
    """Failed node instance."""
    error_message: str | None = None
    """Error message."""
    error_date: datetime | None = None
    """Date of the newest error event."""
    retrigger_date: datetime | None = None
    """Date of the newest retrigger."""

    @property
    def has_error(self) -> bool:
        """Whether the error is current (newer than the last retrigger)."""
        if self.error_date is None or self.error_node_definition_id is None:
            return False
        return self.retrigger_date is None or self.error_date > self.retrigger_date


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexedNode:
    """One NodeInstance of a process instance."""

    process_instance_id: str
    """Owning instance."""
    id: str
    """Node instance id."""
    name: str | None = None
    """Node name."""
    type: str | None = None
    """Node type."""
    definition_id: str | None = None
    """Node definition id."""
    node_id: str | None = None
    """Node id (same as the definition id for SW)."""
    enter: datetime | None = None
    """Entered at; None until a node event arrives."""
    exit: datetime | None = None
    """Left at."""
    sla_due_date: datetime | None = None
    """SLA due date."""
    retrigger: bool | None = None
    """Whether the node ran again after a retrigger."""
    error_message: str | None = None
    """Error of this node."""
    error_date: datetime | None = None
    """Date of that error."""
    cancel_type: str | None = None
    """ABORTED, SKIPPED, OBSOLETE or ERROR."""
    input_args: Any = None
    """Input parameters."""
    output_args: Any = None
    """Output parameters."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexedJob:
    """One Job as last reported by the Jobs Service."""

    id: str
    """Job id."""
    process_id: str | None = None
    """Definition id."""
    process_instance_id: str | None = None
    """Instance id."""
    node_instance_id: str | None = None
    """Node instance id."""
    root_process_instance_id: str | None = None
    """Root instance id."""
    root_process_id: str | None = None
    """Root definition id."""
    status: str
    """JobStatus name."""
    expiration_time: datetime | None = None
    """When it fires."""
    priority: int | None = None
    """Priority."""
    callback_endpoint: str | None = None
    """Callback URL."""
    repeat_interval: int | None = None
    """Repeat interval in milliseconds."""
    repeat_limit: int | None = None
    """Repetitions."""
    scheduled_id: str | None = None
    """Scheduler id."""
    retries: int | None = None
    """Retries so far."""
    last_update: datetime | None = None
    """Last update."""
    execution_counter: int | None = None
    """Executions so far."""
    endpoint: str | None = None
    """Jobs Service endpoint."""
    exception_message: str | None = None
    """Last failure message."""
    exception_details: str | None = None
    """Last failure details."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeDefinition:
    """A definition as the runtime stores it (table `definitions`, read only)."""

    workflow_id: str
    """Workflow id."""
    version: str
    """Workflow version."""
    name: str | None
    """Name."""
    description: str | None
    """Description."""
    source_text: str | None
    """The definition text."""
    document: Any
    """The parsed document."""
    status: str | None
    """Lifecycle status."""
    registered_at: datetime | None
    """When it was registered."""


def lock_instance(conn: Connection, instance_id: str) -> None:
    """Serialise merges of one instance until the transaction ends."""
    _lock(conn, LOCK_CLASS_INSTANCE, instance_id)


def lock_definition(conn: Connection, definition_id: str, version: str) -> None:
    """Serialise merges of one definition until the transaction ends."""
    _lock(conn, LOCK_CLASS_DEFINITION, f"{definition_id}\x1f{version}")


def lock_job(conn: Connection, job_id: str) -> None:
    """Serialise merges of one job until the transaction ends."""
    _lock(conn, LOCK_CLASS_JOB, job_id)


def get_instance(conn: Connection, instance_id: str) -> IndexedInstance | None:
    """Return the instance row, or None."""
    with conn.cursor(row_factory=frozen_row(IndexedInstance)) as cur:
        cur.execute(_q("get_instance"), {"id": instance_id})
        return cur.fetchone()


def save_instance(conn: Connection, row: IndexedInstance) -> None:
    """Insert or replace the instance row."""
    conn.execute(_q("save_instance"), _params(row))


def get_node(conn: Connection, instance_id: str, node_id: str) -> IndexedNode | None:
    """Return one node instance row, or None."""
    with conn.cursor(row_factory=frozen_row(IndexedNode)) as cur:
        cur.execute(_q("get_node"), {"process_instance_id": instance_id, "id": node_id})
        return cur.fetchone()


def save_node(conn: Connection, row: IndexedNode) -> None:
    """Insert or replace one node instance row."""
    conn.execute(_q("save_node"), _params(row))


def save_nodes(conn: Connection, rows: Sequence[IndexedNode]) -> None:
    """Insert or replace several node instance rows in one round trip."""
    with conn.cursor() as cur:
        cur.executemany(_q("save_node"), [_params(row) for row in rows])


def instance_nodes(conn: Connection, instance_id: str) -> list[IndexedNode]:
    """Return every node row of one instance (those known only from an error too)."""
    with conn.cursor(row_factory=frozen_row(IndexedNode)) as cur:
        cur.execute(_q("instance_nodes"), {"id": instance_id})
        return cur.fetchall()


def get_definition(
    conn: Connection, definition_id: str, version: str
) -> IndexedDefinition | None:
    """Return the definition row, or None."""
    with conn.cursor(row_factory=frozen_row(IndexedDefinition)) as cur:
        cur.execute(_q("get_definition"), {"id": definition_id, "version": version})
        return cur.fetchone()


def save_definition(conn: Connection, row: IndexedDefinition) -> None:
    """Insert or replace the definition row."""
    conn.execute(_q("save_definition"), _params(row))


def get_job(conn: Connection, job_id: str) -> IndexedJob | None:
    """Return the job row, or None."""
    with conn.cursor(row_factory=frozen_row(IndexedJob)) as cur:
        cur.execute(_q("get_job"), {"id": job_id})
        return cur.fetchone()


def save_job(conn: Connection, row: IndexedJob) -> None:
    """Insert or replace the job row."""
    conn.execute(_q("save_job"), _params(row))


def nodes_of(conn: Connection, instance_ids: Sequence[str]) -> list[IndexedNode]:
    """Return the entered nodes of the instances, ordered by instance and enter."""
    with conn.cursor(row_factory=frozen_row(IndexedNode)) as cur:
        cur.execute(_q("nodes_of"), {"ids": list(instance_ids)})
        return cur.fetchall()


def instances_by_ids(conn: Connection, ids: Sequence[str]) -> list[IndexedInstance]:
    """Return the instances with these ids (any order)."""
    with conn.cursor(row_factory=frozen_row(IndexedInstance)) as cur:
        cur.execute(_q("instances_by_ids"), {"ids": list(ids)})
        return cur.fetchall()


def definitions_by_ids(conn: Connection, ids: Sequence[str]) -> list[IndexedDefinition]:
    """Return every version of the definitions with these ids."""
    with conn.cursor(row_factory=frozen_row(IndexedDefinition)) as cur:
        cur.execute(_q("definitions_by_ids"), {"ids": list(ids)})
        return cur.fetchall()


def clear_projection(conn: Connection) -> None:
    """Delete every projected row, blocking concurrent merges until commit.

    EXCLUSIVE mode lets GraphQL readers keep reading the old rows meanwhile.
    """
    conn.execute(_q("lock_projection"))
    for name in ("clear_nodes", "clear_instances", "clear_definitions", "clear_jobs"):
        conn.execute(_q(name))


def runtime_definitions(conn: Connection) -> list[RuntimeDefinition]:
    """Return every definition the runtime has registered."""
    with conn.cursor(row_factory=class_row(RuntimeDefinition)) as cur:
        cur.execute(_q("runtime_definitions"))
        return cur.fetchall()


def outbox_events(
    conn: Connection, event_types: Iterable[str]
) -> Iterator[dict[str, Any]]:
    """Yield the structured CloudEvents of the outbox of `event_types`, by outbox id."""
    after = 0
    wanted = sorted(event_types)
    while True:
        rows = conn.execute(
            _q("outbox_events"),
            {"after": after, "types": wanted, "limit": OUTBOX_BATCH},
        ).fetchall()
        for row in rows:
            yield row[1]  # type: ignore[misc]
        if len(rows) < OUTBOX_BATCH:
            return
        after = int(rows[-1][0])  # type: ignore[call-overload]


def _lock(conn: Connection, lock_class: int, key: str) -> None:
    conn.execute(_q("lock_entity"), {"class": lock_class, "key": key})


def _params(row: Any) -> dict[str, Any]:
    """A row's fields as statement parameters, JSON columns wrapped for `jsonb`.

    The fields are read, not copied (`dataclasses.asdict` deep-copies every value, which
    cost an instance's whole `variables` document on each delivery): the parameters are
    serialised at once and the row is never changed.
    """
    return {
        field.name: _column(field.name, getattr(row, field.name))
        for field in fields(row)
    }


def _column(name: str, value: Any) -> Any:
    return Jsonb(_plain(value)) if name in _JSON_COLUMNS else value


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _q(name: str) -> Any:
    return queries("index")[name]
