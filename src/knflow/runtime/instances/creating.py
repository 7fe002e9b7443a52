"""Creating instances inside a unit of work: by REST, as subflows, as continuations, by events, by schedules.

An instance is created and run to its first wait in the caller's unit of work; input is checked
against the definition's `dataInputSchema` first, so invalid input creates nothing.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from knflow import uuids
from knflow.engine import interpreter
from knflow.engine.outcome import InstanceStatus
from knflow.errors import InputError
from knflow.runtime import catalog
from knflow.runtime.catalog import DefinitionRead, LoadedDefinition
from knflow.runtime.instances import queueing, tokens
from knflow.runtime.instances.advancing import instance_context, step_span
from knflow.runtime.instances.commit import commit_outcome
from knflow.runtime.instances.work import UnitOfWork
from knflow.store.instances import InstanceRow
from knflow.workflow.model import Json

CHILD_NAMESPACE: Final = uuid.UUID("0c5a8f7e-61d2-4b1e-9f3a-7d8e9c0b1a2f")


@dataclass(frozen=True, slots=True, kw_only=True)
class ParentLink:
    """Where a subflow belongs."""

    instance_id: str
    """Parent instance."""
    thread_id: str
    """Parent thread (waiting when `waits`)."""
    key: str
    """The parent's command key (the child's identity; the wait key of sync subflows)."""
    waits: bool = True
    """A sync subflow: the parent thread waits for the child's output."""
    root_instance_id: str
    """Root of the tree."""
    root_workflow_id: str
    """Workflow of the root."""
    terminate_with_parent: bool = False
    """`onParentComplete: terminate` (async subflows)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NewInstance:
    """What a new instance starts with."""

    workflow_id: str
    """Which workflow."""
    data: Json
    """The workflow input (`workflowdata`); None is an empty object."""
    version: str | None = None
    """The version to start (its current revision); the latest available when None."""
    variables: Mapping[str, Json] = dataclasses.field(default_factory=dict)
    """Other top-level keys of a start request (`initiatorEntity`, `targetEntity`, ...)."""
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Headers kept for the instance (`$WORKFLOW.headers`); forwarded tokens are dropped."""
    tokens: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """`X-Authorization-*` headers to seal for the instance's calls."""
    tokens_from: str | None = None
    """An instance whose sealed tokens the new one takes (subflows, continuations)."""
    initiator: str | None = None
    """`sub` of the token that started it."""
    business_key: str | None = None
    """Optional business key."""
    parent: ParentLink | None = None
    """Set for subflows."""
    correlation: Mapping[str, str] | None = None
    """Correlation values fixed by a start event."""
    by_event: bool = False
    """Started by an event: `dataInputSchema` does not apply (SW 0.8)."""
    scope_variables: Mapping[str, Json] = dataclasses.field(default_factory=dict)
    """Variables a parent hands its subflow (a foreach's iteration variable)."""
    instance_id: str | None = None
    """The new instance's id when the caller chose it (an idempotent start records it first)."""
    definition_read: DefinitionRead = DefinitionRead.FROM_DATABASE
    """How the latest definition is found when `version` is None; a caller choosing
    `CHECKED_AT_COMMIT` must run its unit again on `DefinitionChangedError`."""


def create_instance(work: UnitOfWork, new: NewInstance) -> InstanceRow:
    """Create an instance and run it to its first wait inside the unit of work; return its row.

    Instances started by an event skip `dataInputSchema` (SW 0.8: it does not apply to the
    events of a starting event state); the event fixes their `correlation` values. A start
    beyond its workflow's active-instance limit is stored PENDING and runs later
    (`queueing`); its row is returned as queued.

    Raises:
        NotFoundError: the workflow (or version) is not registered.
        InputError: the input violates the definition's `dataInputSchema`.
    """
    loaded = _definition_of(work, new)
    data = {} if new.data is None else new.data
    if not new.by_event:
        validate_input(loaded, data)
    row = _new_row(work, loaded, new, data)
    _keep_tokens(work, row.id, new)
    if _is_limited_start(new) and not queueing.has_slot(work, loaded):
        return queueing.enqueue(work, loaded, row)
    with step_span(work.services, row, "Start"):
        outcome = interpreter.start(
            loaded.definition,
            loaded.evaluator,
            instance_context(row, work.services),
            data=data,
            now=work.now,
            variables=new.scope_variables,
        )
        return commit_outcome(work, loaded, row, outcome, is_new=True)


def _definition_of(work: UnitOfWork, new: NewInstance) -> LoadedDefinition:
    cache = work.services.definitions
    if new.version is not None:
        return catalog.load(work.conn, cache, new.workflow_id, new.version)
    return catalog.load_latest(work.conn, cache, new.workflow_id, new.definition_read)


def validate_input(loaded: LoadedDefinition, data: Json) -> None:
    """Check workflow input against `dataInputSchema`.

    Raises:
        InputError: the data violates the schema (with `failOnValidationErrors`, the default).
    """
    schema = loaded.source.input_schema
    if not schema or not loaded.source.fail_on_input_validation:
        return
    # Imported here: most instances have no input schema, and every function start pays
    # for its imports (about 70 ms for jsonschema on this machine).
    import jsonschema

    validator = jsonschema.Draft7Validator(schema)
    problems = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if not problems:
        return
    first = problems[0]
    where = "/".join(str(p) for p in first.absolute_path) or "(root)"
    lines = tuple(
        f"/{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in problems
    )
    details = "; ".join(
        f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in problems
    )
    raise InputError(
        f"workflow '{loaded.definition.workflow_id}' input is invalid at {where}: {first.message}",
        details=details,
        problems=lines,
    )


def _is_limited_start(new: NewInstance) -> bool:
    """Whether a start counts against its workflow's active-instance limit.

    Subflows start at once: a parent waiting for a queued child of its own workflow could
    wait forever.
    """
    return new.parent is None


def _keep_tokens(work: UnitOfWork, instance_id: str, new: NewInstance) -> None:
    """Seal the new instance's tokens before its first call is claimed (it reads them)."""
    settings = work.services.settings
    if new.tokens:
        tokens.keep(work.conn, settings, instance_id, new.tokens, now=work.now)
    elif new.tokens_from is not None:
        tokens.copy(work.conn, settings, new.tokens_from, instance_id, now=work.now)
    else:
        return
    work.sealed.add(instance_id)


def _new_row(
    work: UnitOfWork, loaded: LoadedDefinition, new: NewInstance, data: Json
) -> InstanceRow:
    parent = new.parent
    instance_id = new.instance_id or str(uuid.uuid4())
    if parent is not None:  # deterministic: a replayed parent step finds the same child
        instance_id = uuids.name_based(
            CHILD_NAMESPACE, f"{parent.instance_id}/{parent.key}"
        )
    definition = loaded.definition
    return InstanceRow(
        id=instance_id,
        workflow_id=definition.workflow_id,
        workflow_version=definition.version,
        status=InstanceStatus.ACTIVE,
        revision=0,
        data=data,
        variables=dict(new.variables),
        execution={},
        waiting=False,
        headers={
            name: value
            for name, value in new.headers.items()
            if not name.lower().startswith(tokens.FORWARDED_PREFIX)
        },
        business_key=new.business_key,
        parent_instance_id=parent.instance_id if parent else None,
        parent_thread_id=parent.thread_id if parent and parent.waits else None,
        parent_key=parent.key if parent else None,
        root_instance_id=parent.root_instance_id if parent else None,
        root_workflow_id=parent.root_workflow_id if parent else None,
        error_state=None,
        error_node=None,
        error_message=None,
        started_at=work.now,
        updated_at=work.now,
        ended_at=None,
        correlation=dict(new.correlation) if new.correlation else None,
        terminate_with_parent=bool(parent and parent.terminate_with_parent),
        input=data,
        initiator=new.initiator,
        definition_revision=loaded.stored.revision,
    )
