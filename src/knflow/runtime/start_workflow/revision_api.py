"""The revisions routes of start-workflow's management API: list a workflow's revisions, migrate
an instance to another one. HTTP shapes only; the rules live in `revisions`.
"""

from __future__ import annotations

from typing import Any, Final

from knflow.errors import InputError
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import revisions
from knflow.runtime.web import Request, Response
from knflow.store.definitions import RevisionSummary

MIGRATION_KEYS: Final = frozenset(
    {"revision", "version", "targetProcessId", "targetProcessVersion"}
)
"""What a migration request may name."""


def list_revisions(services: Services, request: Request) -> Response:
    """`GET /management/processes/{id}/revisions`: every revision, oldest first."""
    found = revisions.list_revisions(services, request.params["workflow_id"])
    return Response(body=[revision_body(summary) for summary in found])


def migrate_instance(services: Services, request: Request) -> Response:
    """`POST /management/processes/{id}/instances/{iid}/migrate`: move it to another revision."""
    workflow_id = request.params["workflow_id"]
    instance_id = request.params["instance_id"]
    target = migration_target(workflow_id, request.json(empty=None))
    done = revisions.migrate(services, workflow_id, instance_id, target)
    return Response(
        body={
            "id": done.instance_id,
            "processId": done.workflow_id,
            "fromRevision": done.from_revision,
            "revision": done.revision,
            "version": done.version,
        }
    )


def revision_body(summary: RevisionSummary) -> dict[str, Any]:
    """Render one revision for the management API."""
    return {
        "revision": summary.revision,
        "version": summary.version,
        "label": summary.label,
        "checksum": summary.checksum,
        "registeredAt": summary.registered_at.isoformat(),
        "droppedAt": summary.dropped_at.isoformat() if summary.dropped_at else None,
        "status": summary.status,
        "latest": summary.latest,
        "unfinishedInstances": summary.unfinished,
    }


def migration_target(workflow_id: str, body: Any) -> revisions.MigrationTarget:
    """Read a migration request: `{revision}`, `{version}`, Kogito's `{targetProcessId,
    targetProcessVersion}`, or nothing (the latest revision).

    Raises:
        InputError: the body names something else, or another workflow.
    """
    fields = _migration_fields(body)
    target_id = fields.get("targetProcessId")
    if target_id is not None and target_id != workflow_id:
        raise InputError(
            f"an instance of workflow '{workflow_id}' can only move to another revision"
            f" of it, not to workflow '{target_id}'"
        )
    revision = fields.get("revision")
    version = fields.get("version", fields.get("targetProcessVersion"))
    if revision is not None and version is not None:
        raise InputError("name a revision or a version, not both")
    if revision is not None and (
        not isinstance(revision, int) or isinstance(revision, bool) or revision < 1
    ):
        raise InputError("'revision' must be a positive integer")
    if version is not None and not isinstance(version, str):
        raise InputError("the target version must be a string")
    return revisions.MigrationTarget(revision=revision, version=version)


def _migration_fields(body: Any) -> dict[str, Any]:
    """The request's fields, when it is an object naming only what a migration takes."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InputError("the migration request must be a JSON object")
    unknown = sorted(set(body) - MIGRATION_KEYS)
    if unknown:
        raise InputError(
            f"the migration request has unknown keys: {', '.join(unknown)}"
        )
    return body
