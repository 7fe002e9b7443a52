"""Starting instances: by REST call, as subflows, as continuations, or from a start event.

An instance is created and run to its first wait in one transaction; input is validated against
the definition's `dataInputSchema` first, so invalid input creates nothing.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from knflow.engine import interpreter
from knflow.errors import InputError
from knflow.runtime import catalog, driving
from knflow.runtime.catalog import LoadedDefinition
from knflow.runtime.committing import Writer, commit_outcome, instance_context
from knflow.runtime.services import Services
from knflow.store import db
from knflow.store.instances import InstanceRow
from knflow.workflow.model import Json

CHILD_NAMESPACE: Final = uuid.UUID("0c5a8f7e-61d2-4b1e-9f3a-7d8e9c0b1a2f")


@dataclass(frozen=True, slots=True, kw_only=True)
class ParentLink:
    """Where a subflow belongs."""

    instance_id: str
    """Parent instance."""
    thread_id: str
    """Parent thread (waiting when `key` is set)."""
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
class StartRequest:
    """A request to start an instance."""

    workflow_id: str
    """Which workflow."""
    data: Json
    """The workflow input (`workflowdata`)."""
    variables: Mapping[str, Json]
    """Other top-level keys of the request (`initiatorEntity`, `targetEntity`, ...)."""
    headers: Mapping[str, str]
    """Headers kept for the instance."""
    business_key: str | None = None
    """Optional business key."""
    version: str | None = None
    """Pinned version; the latest when None."""


def start_instance(services: Services, request: StartRequest) -> InstanceRow:
    """Create an instance, run it as far as it goes in this process, and return its first row.

    Raises:
        NotFoundError: the workflow is not registered.
        InputError: the input violates the definition's `dataInputSchema`.
    """
    with db.transaction(services.pool) as conn:
        writer = driving.new_writer(services, conn)
        row = start_in_transaction(
            writer,
            workflow_id=request.workflow_id,
            version=request.version,
            data=request.data,
            variables=request.variables,
            headers=request.headers,
            business_key=request.business_key,
            parent=None,
        )
    driving.settle(services, writer.aftermath)
    return row


def start_in_transaction(
    writer: Writer,
    *,
    workflow_id: str,
    version: str | None,
    data: Json,
    variables: Mapping[str, Json],
    headers: Mapping[str, str],
    business_key: str | None,
    parent: ParentLink | None,
    correlation: Mapping[str, str] | None = None,
    by_event: bool = False,
) -> InstanceRow:
    """Create and run an instance inside the writer's transaction.

    Instances started by an event skip `dataInputSchema` (SW 0.8: it does not apply to the
    events of a starting event state); the event fixes their `correlation` values.
    """
    loaded = catalog.load(
        writer.conn, writer.services.definitions, workflow_id, version
    )
    data = {} if data is None else data
    if not by_event:
        validate_input(loaded, data)
    row = _new_row(
        writer,
        loaded,
        data=data,
        variables=variables,
        headers=headers,
        business_key=business_key,
        parent=parent,
    )
    if correlation:
        row = dataclasses.replace(row, correlation=dict(correlation))
    outcome = interpreter.start(
        loaded.definition,
        loaded.evaluator,
        instance_context(row, writer.services),
        data=data,
        now=writer.now,
    )
    return commit_outcome(writer, loaded, row, outcome, is_new=True)


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
    details = "; ".join(
        f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in problems
    )
    raise InputError(
        f"workflow '{loaded.definition.workflow_id}' input is invalid at {where}: {first.message}",
        details=details,
    )


def _new_row(
    writer: Writer,
    loaded: LoadedDefinition,
    *,
    data: Json,
    variables: Mapping[str, Json],
    headers: Mapping[str, str],
    business_key: str | None,
    parent: ParentLink | None,
) -> InstanceRow:
    instance_id = str(uuid.uuid4())
    if parent is not None:  # deterministic: a replayed parent step finds the same child
        instance_id = str(
            uuid.uuid5(CHILD_NAMESPACE, f"{parent.instance_id}/{parent.key}")
        )
    definition = loaded.definition
    return InstanceRow(
        id=instance_id,
        workflow_id=definition.workflow_id,
        workflow_version=definition.version,
        status="ACTIVE",
        revision=0,
        data=data,
        variables=dict(variables),
        execution={},
        waiting=False,
        headers=dict(headers),
        business_key=business_key,
        parent_instance_id=parent.instance_id if parent else None,
        parent_thread_id=parent.thread_id if parent and parent.waits else None,
        parent_key=parent.key if parent else None,
        root_instance_id=parent.root_instance_id if parent else None,
        root_workflow_id=parent.root_workflow_id if parent else None,
        error_state=None,
        error_node=None,
        error_message=None,
        started_at=writer.now,
        updated_at=writer.now,
        ended_at=None,
        terminate_with_parent=bool(parent and parent.terminate_with_parent),
    )
