"""Registering workflow definitions and loading them for execution.

A definition is stored with everything it needs (text, inlined parts, OpenAPI documents,
resolved schemas), so no function ever reads workflow files: each new content as an immutable
revision that instances pin, and per (id, version) the revision new starts get. Registration
announces the definition to the Data Index with a `ProcessDefinitionEvent` in the same
transaction. Loaded definitions are cached per process by checksum: no step re-parses a
definition or recompiles its expressions.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from knflow.config import Settings
from knflow.engine.expression_check import find_expression_problems
from knflow.events import kogito
from knflow.events.codec import Event
from knflow.runtime import catalog
from knflow.runtime.instances import publishing, schedules
from knflow.runtime.services import Services
from knflow.store import db
from knflow.store import definitions as stored_definitions
from knflow.store.db import Connection
from knflow.store.definitions import StoredDefinition
from knflow.workflow import loading
from knflow.workflow.loading import WorkflowSource
from knflow.workflow.model import Definition, Json
from knflow.workflow.parsing import parse_source

logger = logging.getLogger(__name__)


def register_folder(services: Services, folder: Path) -> list[str]:
    """Register every workflow file in `folder`; return the ids registered or changed.

    Definitions already served are left alone (no event). Each file is its own transaction.

    Raises:
        DefinitionError: a file is invalid (nothing of that file is stored).
    """
    changed = []
    for source in loading.load_directory(folder):
        with db.transaction(services.pool) as conn:
            if register_source(
                conn, source, settings=services.settings, now=services.clock()
            ):
                changed.append(
                    str(source.document.get("id") or source.document.get("key"))
                )
    publishing.publish_due(services)
    return changed


def register_source(
    conn: Connection, source: WorkflowSource, *, settings: Settings, now: datetime
) -> bool:
    """Validate and store one definition, make it the one served, and announce it.

    Every registration that changes what is served (new content, a withdrawn workflow
    back, an earlier version again) queues a new `ProcessDefinitionEvent`; returns False,
    queuing nothing, when the definition already was the one served. New content becomes a new
    revision (the same content is always the same revision); instances keep the revision they
    started on, and revisions nothing needs any more are dropped. The caller owns the
    transaction.

    Raises:
        DefinitionError: the definition is invalid.
    """
    # Imported here: validation loads jsonschema and the 0.8 schemas, which only a
    # registration needs (not every cold start of start-workflow).
    from knflow.workflow import validation

    validation.check(source, expressions=find_expression_problems)
    definition = parse_source(source)
    stored_source = loading.to_stored(source)
    stored = StoredDefinition(
        workflow_id=definition.workflow_id,
        version=definition.version,
        name=definition.name,
        description=definition.description,
        source=stored_source,
        checksum=_checksum(stored_source),
        status="AVAILABLE",
        registered_at=now,
    )
    stored = stored_definitions.add_revision(conn, stored)
    stored_definitions.drop_unused_revisions(
        conn, stored.workflow_id, keep=stored.checksum, now=now
    )
    if not stored_definitions.upsert(conn, stored):
        return False
    schedules.schedule_starts(conn, definition, now)
    publishing.enqueue(
        conn,
        definition_event(stored, definition, settings=settings, now=now),
        instance_id=None,
        now=now,
    )
    logger.info(
        "definition registered",
        extra={
            "workflow_id": definition.workflow_id,
            "version": definition.version,
            "revision": stored.revision,
        },
    )
    return True


def mark_unavailable_except(services: Services, workflow_ids: list[str]) -> list[str]:
    """Mark every workflow not in `workflow_ids` unavailable and tell the Data Index."""
    return _withdraw(
        services,
        lambda conn: stored_definitions.mark_unavailable_except(conn, workflow_ids),
    )


def mark_unavailable(services: Services, workflow_ids: list[str]) -> list[str]:
    """Mark the named workflows unavailable and tell the Data Index."""
    return _withdraw(
        services, lambda conn: stored_definitions.mark_unavailable(conn, workflow_ids)
    )


def _withdraw(
    services: Services, change: Callable[[Connection], list[StoredDefinition]]
) -> list[str]:
    """Apply `change` and announce each withdrawn version with `metadata.status: unavailable`."""
    now = services.clock()
    with db.transaction(services.pool) as conn:
        changed = change(conn)
        for stored in changed:
            definition = services.definitions.load(stored).definition
            event = definition_event(
                stored,
                definition,
                settings=services.settings,
                now=now,
                status="unavailable",
            )
            publishing.enqueue(conn, event, instance_id=None, now=now)
            schedules.cancel_starts(conn, stored.workflow_id, now)
    publishing.publish_due(services)
    return [stored.workflow_id for stored in changed]


def definition_event(
    stored: StoredDefinition,
    definition: Definition,
    *,
    settings: Settings,
    now: datetime,
    status: str = "available",
) -> Event:
    """Build the `ProcessDefinitionEvent` announcing `definition`."""
    return kogito.registered_definition_event(
        definition,
        source_text=loading.from_stored(stored.source).text,
        endpoint=catalog.endpoint(settings, definition.workflow_id),
        status=status,
        at=now,
    )


def _checksum(stored_source: Json) -> str:
    return hashlib.sha256(
        json.dumps(stored_source, sort_keys=True).encode("utf-8")
    ).hexdigest()
