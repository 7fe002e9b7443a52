"""start-workflow's HTTP API in the SonataFlow runtime's shapes (what the Orchestrator plugin calls).

`POST /{workflowId}` starts an instance and answers 201 `{id, workflowdata}` once the instance
ended, waits for an event or timer, or the synchronous budget ran out; `PUT /{workflowId}/{id}`
replaces its data. Management endpoints (those the Data Index mutations call too) live under
`/management/processes`, with the paths and answers of Kogito's process management resource.

This module holds the route table and the reads of definitions; the endpoints that touch
instances live in `instance_api` (and `revision_api`), imported at their first request: a
function woken up to list or describe workflows does not load the engine for it.
"""

from __future__ import annotations

from typing import Final

from knflow.auth.policy import Permission
from knflow.runtime import catalog
from knflow.runtime.services import Services
from knflow.runtime.web import Handler, Request, Response, Route
from knflow.store import db
from knflow.store import definitions as stored_definitions


def list_definitions(services: Services, request: Request) -> Response:
    """`GET /management/processes`: the ids of the available workflows."""
    with db.transaction(services.pool) as conn:
        return Response(
            body=[d.workflow_id for d in stored_definitions.list_available(conn)]
        )


def describe_definition(services: Services, request: Request) -> Response:
    """`GET /management/processes/{id}`: the definition with its input schema fully resolved."""
    with db.transaction(services.pool) as conn:
        loaded = catalog.load(conn, services.definitions, request.params["workflow_id"])
    definition = loaded.definition
    return Response(
        body={
            "id": definition.workflow_id,
            "name": definition.name,
            "version": definition.version,
            "description": definition.description,
            "annotations": list(definition.annotations),
            "metadata": dict(definition.metadata),
            "type": "SW",
            "inputSchema": loaded.source.input_schema,
            "outputSchema": loaded.source.output_schema,
            "endpoint": catalog.endpoint(services.settings, definition.workflow_id),
        }
    )


def definition_source(services: Services, request: Request) -> Response:
    """`GET /management/processes/{id}/source`: the definition text as registered."""
    with db.transaction(services.pool) as conn:
        loaded = catalog.load(conn, services.definitions, request.params["workflow_id"])
    text = loaded.source.text
    content_type = (
        "application/json" if text.lstrip().startswith("{") else "application/yaml"
    )
    return Response(body=text.encode("utf-8"), headers={"content-type": content_type})


def _instance_api(name: str) -> Handler:
    """The handler `name` of `instance_api`, imported at its first call."""

    def handler(services: Services, request: Request) -> Response:
        from knflow.runtime.start_workflow import instance_api

        target: Handler = getattr(instance_api, name)
        return target(services, request)

    handler.__name__ = name
    return handler


def _revision_api(name: str) -> Handler:
    """The handler `name` of `revision_api`, imported at its first call."""

    def handler(services: Services, request: Request) -> Response:
        from knflow.runtime.start_workflow import revision_api

        target: Handler = getattr(revision_api, name)
        return target(services, request)

    handler.__name__ = name
    return handler


ROUTES: Final = (
    Route("GET", "/management/processes", list_definitions, Permission.READ),
    Route(
        "GET",
        "/management/processes/{workflow_id}",
        describe_definition,
        Permission.READ,
    ),
    Route(
        "GET",
        "/management/processes/{workflow_id}/source",
        definition_source,
        Permission.READ,
    ),
    Route(
        "DELETE",
        "/management/processes/{workflow_id}/instances/{instance_id}",
        _instance_api("abort_instance"),
        Permission.ABORT,
    ),
    Route(
        "POST",
        "/management/processes/{workflow_id}/instances/{instance_id}/retrigger",
        _instance_api("retrigger_instance"),
        Permission.RETRIGGER,
    ),
    Route(
        "POST",
        "/management/processes/{workflow_id}/instances/{instance_id}/rerun",
        _instance_api("rerun_instance"),
        Permission.EXECUTE,
    ),
    Route(
        "POST",
        "/management/processes/{workflow_id}/instances/retrigger",
        _instance_api("retrigger_failed"),
        Permission.RETRIGGER,
    ),
    Route(
        "POST",
        "/management/processes/{workflow_id}/instances/{instance_id}/skip",
        _instance_api("skip_instance"),
        Permission.RETRIGGER,
    ),
    Route(
        "POST",
        "/management/processes/{workflow_id}/instances/{instance_id}/nodes/{node_id}",
        _instance_api("trigger_node"),
        Permission.RETRIGGER,
    ),
    Route(
        "POST",
        "/management/processes/{workflow_id}/instances/{instance_id}"
        "/nodeInstances/{node_instance_id}",
        _instance_api("retrigger_node"),
        Permission.RETRIGGER,
    ),
    Route(
        "DELETE",
        "/management/processes/{workflow_id}/instances/{instance_id}"
        "/nodeInstances/{node_instance_id}",
        _instance_api("cancel_node"),
        Permission.ABORT,
    ),
    Route(
        "GET",
        "/management/processes/{workflow_id}/revisions",
        _revision_api("list_revisions"),
        Permission.READ,
    ),
    Route(
        "POST",
        "/management/processes/{workflow_id}/instances/{instance_id}/migrate",
        _revision_api("migrate_instance"),
        Permission.MIGRATE,
    ),
    Route(
        "GET",
        "/management/processes/{workflow_id}/instances/{instance_id}/error",
        _instance_api("instance_error"),
        Permission.READ,
    ),
    Route(
        "POST",
        "/management/definitions/events",
        _instance_api("definitions_changed"),
        delivery=True,
    ),
    Route(
        "POST", "/{workflow_id}", _instance_api("start_instance"), Permission.EXECUTE
    ),
    Route("GET", "/{workflow_id}", _instance_api("list_instances"), Permission.READ),
    Route(
        "GET",
        "/{workflow_id}/{instance_id}",
        _instance_api("get_instance"),
        Permission.READ,
    ),
    Route(
        "DELETE",
        "/{workflow_id}/{instance_id}",
        _instance_api("abort_instance"),
        Permission.ABORT,
    ),
    Route(
        "PATCH",
        "/{workflow_id}/{instance_id}",
        _instance_api("patch_instance"),
        Permission.UPDATE,
    ),
    Route(
        "PUT",
        "/{workflow_id}/{instance_id}",
        _instance_api("update_instance"),
        Permission.UPDATE,
    ),
)
