"""Registered definitions as the runtime reads them: loaded once per process, cached by checksum.

Parsing a definition and compiling its expressions happens once per process, not per step. A
revision never changes, so an instance's definition is read from the database once per process.
The latest definition of a workflow can change at any registration: a start may use this
process's copy only with the server checking it at commit (`DefinitionRead.CHECKED_AT_COMMIT`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from knflow.config import Settings
from knflow.errors import NotFoundError
from knflow.store import definitions as stored_definitions
from knflow.store.db import Connection
from knflow.store.definitions import StoredDefinition

if TYPE_CHECKING:
    from knflow.engine.expressions import Evaluator
    from knflow.workflow.loading import WorkflowSource
    from knflow.workflow.model import Definition


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedDefinition:
    """A definition ready to run: parsed, with its evaluator and stored source."""

    definition: Definition
    """The parsed definition."""
    evaluator: Evaluator
    """Its expression evaluator."""
    source: WorkflowSource
    """The stored source (resources, schemas, text)."""
    stored: StoredDefinition
    """The stored row."""


class DefinitionRead(Enum):
    """How a start finds the latest definition of its workflow."""

    FROM_DATABASE = "from the database"
    """Read it in the unit of work (a wait for the server)."""
    CHECKED_AT_COMMIT = "checked at commit"
    """Use this process's copy, which the server checks at commit (no wait); a copy that
    is no longer the latest fails the unit with `DefinitionChangedError`."""


@dataclass(slots=True)
class DefinitionCache:
    """Parsed definitions of this process, keyed by (id, version, checksum, revision)."""

    entries: dict[tuple[str, str, str, int | None], LoadedDefinition] = field(
        default_factory=dict
    )
    revisions: dict[tuple[str, int], LoadedDefinition] = field(default_factory=dict)
    latest: dict[str, LoadedDefinition] = field(default_factory=dict)
    """The latest available definition of each workflow, as this process last read it."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self, stored: StoredDefinition) -> LoadedDefinition:
        """Return the parsed form of `stored`, parsing it once per process."""
        key = (stored.workflow_id, stored.version, stored.checksum, stored.revision)
        with self.lock:
            found = self.entries.get(key)
        if found is not None:
            return found
        loaded = _parse(stored)
        with self.lock:
            self.entries[key] = loaded
            if stored.revision is not None:
                self.revisions[(stored.workflow_id, stored.revision)] = loaded
        return loaded

    def revision(self, workflow_id: str, revision: int) -> LoadedDefinition | None:
        """Return a revision this process parsed already (revisions never change)."""
        with self.lock:
            return self.revisions.get((workflow_id, revision))

    def forget_latest(self, workflow_id: str) -> None:
        """Drop the copy of a workflow's latest definition (the server found it replaced)."""
        with self.lock:
            self.latest.pop(workflow_id, None)


def _parse(stored: StoredDefinition) -> LoadedDefinition:
    # Imported on the first parse: the Data Index and notify never parse a definition, and a
    # scale-to-zero function pays every import at each cold start (jq, YAML, the parser).
    from knflow.engine.expressions import Evaluator
    from knflow.workflow import loading
    from knflow.workflow.parsing import parse_source

    source = loading.from_stored(stored.source)
    definition = parse_source(source)
    evaluator = Evaluator(
        language=definition.expression_lang,
        functions=definition.expression_functions,
        lenient=definition.lenient,
    )
    return LoadedDefinition(
        definition=definition, evaluator=evaluator, source=source, stored=stored
    )


def load(
    conn: Connection,
    cache: DefinitionCache,
    workflow_id: str,
    version: str | None = None,
) -> LoadedDefinition:
    """Return a registered definition (the latest available one when `version` is None).

    Raises:
        NotFoundError: no such workflow (or version) is registered.
    """
    stored = stored_definitions.get(conn, workflow_id, version)
    if stored is None or (version is None and stored.status != "AVAILABLE"):
        pinned = f" version '{version}'" if version else ""
        raise NotFoundError(f"workflow '{workflow_id}'{pinned} is not registered")
    return cache.load(stored)


def load_latest(
    conn: Connection, cache: DefinitionCache, workflow_id: str, read: DefinitionRead
) -> LoadedDefinition:
    """Return the latest available definition of a workflow, read as `read` says.

    Raises:
        NotFoundError: no such workflow is registered (read from the database).
    """
    if read is DefinitionRead.CHECKED_AT_COMMIT:
        with cache.lock:
            known = cache.latest.get(workflow_id)
        if known is not None:
            stored_definitions.expect_latest(conn, known.stored)
            return known
    loaded = load(conn, cache, workflow_id)
    with cache.lock:
        cache.latest[workflow_id] = loaded
    return loaded


def load_revision(
    conn: Connection, cache: DefinitionCache, workflow_id: str, revision: int
) -> LoadedDefinition:
    """Return one revision of a workflow, reading the database only on its first use here.

    Raises:
        NotFoundError: no such revision (or its source was dropped).
    """
    found = cache.revision(workflow_id, revision)
    if found is not None:
        return found
    stored = stored_definitions.get_revision(conn, workflow_id, revision)
    if stored is None:
        raise NotFoundError(
            f"revision {revision} of workflow '{workflow_id}' does not exist"
        )
    return cache.load(stored)


def endpoint(settings: Settings, workflow_id: str) -> str:
    """Return the public URL of a workflow's REST endpoint (the Data Index `endpoint`)."""
    return f"{settings.service_url.rstrip('/')}/{workflow_id}"
