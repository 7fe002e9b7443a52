"""The process-wide cache of parsed definitions, keyed by (id, version, checksum).

Parsing a definition and compiling its expressions happens once per process, not per step.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from knflow.engine.expressions import Evaluator
from knflow.store.definitions import StoredDefinition
from knflow.workflow import loading
from knflow.workflow.loading import WorkflowSource
from knflow.workflow.model import Definition
from knflow.workflow.parsing import parse_definition


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


@dataclass(slots=True)
class DefinitionCache:
    """Parsed definitions of this process, keyed by (id, version, checksum)."""

    entries: dict[tuple[str, str, str], LoadedDefinition] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self, stored: StoredDefinition) -> LoadedDefinition:
        """Return the parsed form of `stored`, parsing it once per process."""
        key = (stored.workflow_id, stored.version, stored.checksum)
        with self.lock:
            found = self.entries.get(key)
        if found is not None:
            return found
        loaded = _parse(stored)
        with self.lock:
            self.entries[key] = loaded
        return loaded


def _parse(stored: StoredDefinition) -> LoadedDefinition:
    source = loading.from_stored(stored.source)
    definition = parse_definition(source.document)
    evaluator = Evaluator(
        language=definition.expression_lang,
        functions=definition.expression_functions,
        lenient=definition.lenient,
    )
    return LoadedDefinition(
        definition=definition, evaluator=evaluator, source=source, stored=stored
    )
