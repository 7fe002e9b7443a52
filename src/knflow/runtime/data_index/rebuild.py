"""Rebuilding the Data Index projection from the runtime's own records (`knflow index rebuild`).

It announces the stored definitions, replays the outbox rows retention kept (the recent node
history), then applies a snapshot of every instance and job row as they are now, all through
the same merge code as live ingestion and in one transaction, so readers see the previous
projection until the rebuild commits. What retention purged from the runtime is gone from
the rebuilt projection too; what the runtime still holds is whole.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from knflow.errors import InputError, NotFoundError
from knflow.events import codec, kogito, types
from knflow.events.codec import Event
from knflow.events.kogito_ingest import parse_event
from knflow.runtime import catalog
from knflow.runtime.data_index.ingest import apply_changes
from knflow.runtime.instances import job_status, process_events
from knflow.runtime.services import Services
from knflow.store import db, index, instances, jobs
from knflow.store import definitions as stored_definitions
from knflow.store.db import Connection
from knflow.store.index import RuntimeDefinition
from knflow.store.instances import InstanceRow
from knflow.workflow.model import Definition
from knflow.workflow.parsing import parse_definition

logger = logging.getLogger(__name__)

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_REPLAYED: Final = types.DATA_INDEX_TYPES
PAGE: Final = 500
"""Runtime rows read per query while applying snapshots."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RebuildReport:
    """What a rebuild replayed."""

    definitions: int
    """Definitions announced from the runtime's `definitions` table."""
    events: int
    """Outbox events applied."""
    skipped: int
    """Outbox events that could not be parsed (logged)."""
    instances: int = 0
    """Instances whose current state was applied from their runtime row."""
    jobs: int = 0
    """Jobs whose current status was applied from their runtime row."""


def rebuild(services: Services) -> RebuildReport:
    """Recompute the projection from the runtime's definitions and outbox, atomically.

    Readers see the previous projection until the rebuild commits.
    """
    with db.transaction(services.pool) as conn:
        index.clear_projection(conn)
        definitions = _announce_all(conn, services)
        applied, skipped = _replay(conn, index.outbox_events(conn, _REPLAYED), services)
        instances = _apply_instances(conn, definitions, services)
        jobs = _apply_jobs(conn, services)
    report = RebuildReport(
        definitions=len(definitions),
        events=applied,
        skipped=skipped,
        instances=instances,
        jobs=jobs,
    )
    logger.info("index rebuilt", extra=dataclasses.asdict(report))
    return report


def announce(definition: RuntimeDefinition, service_url: str) -> Event:
    """Build the ProcessDefinitionEvent of a definition the runtime stores.

    The same builder as registration's, on the same parsed definition, so the rebuilt
    definition has the live one's nodes and metadata; the outbox replay that follows
    brings back each announcement the runtime made.
    """
    return _announcement(definition, parse_definition(definition.document), service_url)


def _announcement(
    stored: RuntimeDefinition, definition: Definition, service_url: str
) -> Event:
    return kogito.registered_definition_event(
        definition,
        source_text=stored.source_text or "",
        endpoint=f"{service_url.rstrip('/')}/{stored.workflow_id}",
        status=(stored.status or "AVAILABLE").lower(),
        at=stored.registered_at or EPOCH,
    )


Definitions = dict[tuple[str, str], Definition]
"""The stored definitions, parsed, by (workflow id, version)."""


def _announce_all(conn: Connection, services: Services) -> Definitions:
    """Announce every stored definition; return them parsed."""
    parsed = {}
    for stored in index.runtime_definitions(conn):
        definition = parse_definition(stored.document)
        event = _announcement(stored, definition, services.settings.service_url)
        apply_changes(conn, parse_event(event, received_at=services.clock()))
        parsed[(stored.workflow_id, stored.version)] = definition
    return parsed


def _apply_instances(
    conn: Connection, definitions: Definitions, services: Services
) -> int:
    applied = 0
    after = ""
    labels = stored_definitions.revision_labels(conn)
    while page := instances.page(conn, after=after, limit=PAGE):
        for row in page:
            definition = _definition_run(conn, row, definitions, services)
            snapshot = process_events.snapshot(
                row,
                workflow_name=definition.name if definition else row.workflow_id,
                workflow_version=_shown_version(row, labels),
                failed_node_id=_node_id(definition, row.error_state),
                settings=services.settings,
            )
            _apply_all(conn, snapshot, services)
        applied += len(page)
        after = page[-1].id
    return applied


def _definition_run(
    conn: Connection, row: InstanceRow, definitions: Definitions, services: Services
) -> Definition | None:
    """The definition of the revision an instance runs; its version's once that was dropped."""
    if row.definition_revision is not None:
        try:
            return catalog.load_revision(
                conn, services.definitions, row.workflow_id, row.definition_revision
            ).definition
        except NotFoundError:
            pass
    return definitions.get((row.workflow_id, row.workflow_version))


def _shown_version(row: InstanceRow, labels: Mapping[tuple[str, int], str]) -> str:
    """The version the instance's revision shows (`1.0+r2`), as its live events said."""
    if row.definition_revision is None:
        return row.workflow_version
    return labels.get((row.workflow_id, row.definition_revision), row.workflow_version)


def _node_id(definition: Definition | None, state_name: str | None) -> str | None:
    """The Data Index node id of a state (its index), as the node events name it."""
    state = definition.states.get(state_name or "") if definition else None
    return None if state is None else str(state.index)


def _apply_jobs(conn: Connection, services: Services) -> int:
    applied = 0
    after = ""
    while page := jobs.page(conn, after=after, limit=PAGE):
        for job in page:
            event = job_status.job_event(job, now=job.updated_at)
            _apply_all(conn, [event], services)
        applied += len(page)
        after = page[-1].id
    return applied


def _apply_all(conn: Connection, events: Iterable[Event], services: Services) -> None:
    for event in events:
        apply_changes(conn, parse_event(event, received_at=services.clock()))


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
