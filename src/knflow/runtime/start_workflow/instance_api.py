"""start-workflow's endpoints that start, change and read instances (`rest_api` routes them).

Imported at the first such request, not with the route table: a function woken up to describe
a workflow (the Orchestrator plugin's run form) does not load the engine and the instance core.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final

from knflow import json_limits
from knflow.engine.execution import MAIN, Execution
from knflow.engine.exits import OUTPUT_KIND
from knflow.engine.outcome import ERROR_MESSAGE_FAILURE, Failure, InstanceStatus
from knflow.errors import InputError, NotFoundError
from knflow.events import codec, types
from knflow.runtime import catalog
from knflow.runtime.instances import publishing, tokens
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import (
    management,
    registration,
    reruns,
    starting,
)
from knflow.runtime.web import Request, Response
from knflow.store import db, instances
from knflow.store.instances import InstanceRow, StatusView
from knflow.workflow import loading

WORKFLOW_LABEL: Final = "knflow.dev/workflow"
PRIVATE_HEADERS: Final = frozenset(
    {"authorization", "cookie", "proxy-authorization", "content-length", "host"}
)


def abort_instance(services: Services, request: Request) -> Response:
    """`DELETE /management/processes/{id}/instances/{iid}` and `DELETE /{id}/{iid}`."""
    row = management.abort(
        services, request.params["workflow_id"], request.params["instance_id"]
    )
    return Response(body=_instance_body(row.id, row.data))


def patch_instance(services: Services, request: Request) -> Response:
    """`PATCH /{workflowId}/{id}`: merge the body into the instance's data (SonataFlow)."""
    row = management.patch_data(
        services,
        request.params["workflow_id"],
        request.params["instance_id"],
        request.json(empty=None),
    )
    return Response(body=_instance_body(row.id, row.data))


def retrigger_instance(services: Services, request: Request) -> Response:
    """`POST /management/processes/{id}/instances/{iid}/retrigger`."""
    row = management.retrigger(
        services,
        request.params["workflow_id"],
        request.params["instance_id"],
        tokens=tokens.forwarded(request.headers),
    )
    view = starting.settle(services, row, services.settings.sync_budget)
    return Response(body=_instance_body(row.id, view.data))


def rerun_instance(services: Services, request: Request) -> Response:
    """`POST /management/processes/{id}/instances/{iid}/rerun`: run it again from its start.

    Answers as `POST /{workflowId}` does, for the new instance, plus its `rerunOf`.
    """
    row = reruns.rerun(
        services,
        *_instance_params(request),
        tokens=tokens.forwarded(request.headers),
        initiator=request.identity.subject if request.identity else None,
    )
    view = starting.settle(services, row, services.settings.sync_budget)
    location = {"location": f"/{row.workflow_id}/{row.id}"}
    if view.status is InstanceStatus.ERROR:
        return dataclasses.replace(_failed(services, row.id, view), headers=location)
    body = {
        **_instance_body(row.id, view.data),
        reruns.RERUN_OF_VARIABLE: row.variables[reruns.RERUN_OF_VARIABLE],
    }
    return Response(status=201, headers=location, body=body)


def retrigger_failed(services: Services, request: Request) -> Response:
    """`POST /management/processes/{id}/instances/retrigger`: the failed ones, in a range."""
    workflow_id = request.params["workflow_id"]
    asked = reruns.parse_bulk_request(
        request.json(empty=None),
        now=services.clock(),
        most=services.settings.bulk_retrigger_max,
    )
    with db.transaction(services.pool) as conn:
        catalog.load(conn, services.definitions, workflow_id)
    report = reruns.retrigger_failed(
        services,
        workflow_id,
        failed_after=asked.failed_after,
        failed_before=asked.failed_before,
        limit=asked.limit,
    )
    return Response(body=reruns.render_report(report))


def skip_instance(services: Services, request: Request) -> Response:
    """`POST /management/processes/{id}/instances/{iid}/skip`."""
    row = management.skip(
        services,
        request.params["workflow_id"],
        request.params["instance_id"],
        tokens=tokens.forwarded(request.headers),
    )
    view = starting.settle(services, row, services.settings.sync_budget)
    return Response(body=_instance_body(row.id, view.data))


def trigger_node(services: Services, request: Request) -> Response:
    """`POST /management/processes/{id}/instances/{iid}/nodes/{nodeId}`: go to that state."""
    row = management.trigger_node(
        services, *_instance_params(request), request.params["node_id"]
    )
    return _settled(services, row)


def retrigger_node(services: Services, request: Request) -> Response:
    """`POST /management/processes/{id}/instances/{iid}/nodeInstances/{niid}`."""
    row = management.retrigger_node(
        services, *_instance_params(request), request.params["node_instance_id"]
    )
    return _settled(services, row)


def cancel_node(services: Services, request: Request) -> Response:
    """`DELETE /management/processes/{id}/instances/{iid}/nodeInstances/{niid}`."""
    row = management.cancel_node(
        services, *_instance_params(request), request.params["node_instance_id"]
    )
    return _settled(services, row)


def update_instance(services: Services, request: Request) -> Response:
    """`PUT /{workflowId}/{instanceId}`: replace the workflow data (and named variables)."""
    data, variables = split_body(request.json(empty=None))
    row = management.update_data(
        services, *_instance_params(request), data=data, variables=variables
    )
    return Response(body=_instance_body(row.id, row.data))


def instance_error(services: Services, request: Request) -> Response:
    """`GET /management/processes/{id}/instances/{iid}/error`."""
    return Response(
        body=management.error_of(
            services, request.params["workflow_id"], request.params["instance_id"]
        )
    )


def definitions_changed(services: Services, request: Request) -> Response:
    """`POST /management/definitions/events`: a workflow ConfigMap was added, changed or deleted.

    The ApiServerSource sends the whole ConfigMap; each data entry is a definition file.
    """
    event = codec.from_http(request.headers, request.body, limits=request.json_limits)
    configmap = _configmap(event.data)
    if event.type == types.APISERVER_RESOURCE_DELETE:
        labels = (configmap.get("metadata") or {}).get("labels") or {}
        workflow_id = labels.get(WORKFLOW_LABEL)
        withdrawn = (
            registration.mark_unavailable(services, [workflow_id])
            if workflow_id
            else []
        )
        return Response(status=202, body={"unavailable": withdrawn})
    registered = []
    for name, text in sorted((configmap.get("data") or {}).items()):
        source = loading.load_text(str(text), name=str(name))
        with db.transaction(services.pool) as conn:
            if registration.register_source(
                conn, source, settings=services.settings, now=services.clock()
            ):
                registered.append(
                    str(source.document.get("id") or source.document.get("key"))
                )
    publishing.publish_due(services)
    return Response(status=202, body={"registered": registered})


def start_instance(services: Services, request: Request) -> Response:
    """`POST /{workflowId}`: start an instance and answer once it settled (or the budget ran out).

    415 for a body not declared JSON (SonataFlow); 200 for a retried start (`starting`).
    """
    workflow_id = request.params["workflow_id"]
    if request.body.strip() and not request.is_json():
        return _unsupported_media_type(request)
    body = request.json(empty=None)
    data, variables = split_body(body)
    initiator = request.identity.subject if request.identity else None
    if initiator is not None and "initiatorEntity" not in variables:
        variables["initiatorEntity"] = initiator
    json_limits.check_data(data, limits=request.json_limits, what="the workflow data")
    started = starting.start(
        services,
        starting.StartRequest(
            workflow_id=workflow_id,
            data=data,
            variables=variables,
            headers=kept_headers(request.headers),
            tokens=tokens.forwarded(request.headers),
            initiator=initiator,
            business_key=request.query.get("businessKey"),
            version=request.query.get("version"),
            idempotency_key=request.headers.get("idempotency-key"),
        ),
    )
    row = started.row
    view = starting.settle(services, row, services.settings.sync_budget)
    location = {"location": f"/{workflow_id}/{row.id}"}
    if view.status is InstanceStatus.ERROR:
        return dataclasses.replace(_failed(services, row.id, view), headers=location)
    status = 200 if started.replayed else 201
    body = _instance_body(row.id, view.data)
    return Response(status=status, headers=location, body=body)


def list_instances(services: Services, request: Request) -> Response:
    """`GET /{workflowId}`: the active instances `[{id, workflowdata}]`."""
    workflow_id = request.params["workflow_id"]
    with db.transaction(services.pool) as conn:
        catalog.load(conn, services.definitions, workflow_id)
        active = instances.list_active(conn, workflow_id)
    return Response(
        body=[_instance_body(instance_id, data) for instance_id, data in active]
    )


def get_instance(services: Services, request: Request) -> Response:
    """`GET /{workflowId}/{instanceId}`: 200 while active or queued, 404 once ended (as SonataFlow)."""
    with db.transaction(services.pool) as conn:
        row = management.find_instance(
            conn, request.params["workflow_id"], request.params["instance_id"]
        )
    if row.status not in (InstanceStatus.ACTIVE, InstanceStatus.PENDING):
        raise NotFoundError(
            f"instance '{row.id}' is {row.status}; ended instances are in the Data Index"
        )
    return Response(body=_instance_body(row.id, row.data))


def split_body(body: Any) -> tuple[Any, dict[str, Any]]:
    """Split a start body: `{"workflowdata": {...}, ...others}` or the data itself.

    Raises:
        InputError: the body is JSON but not an object.
    """
    if body is None:
        return {}, {}
    if not isinstance(body, dict):
        raise InputError(
            'the request body must be a JSON object (the workflow data, or {"workflowdata": ...})'
        )
    if "workflowdata" in body:
        others = {k: v for k, v in body.items() if k != "workflowdata"}
        data = body["workflowdata"] if body["workflowdata"] is not None else {}
        return data, others
    return body, {}


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers kept for the instance (`$WORKFLOW.headers`): never credentials.

    `X-Authorization-*` tokens are sealed apart (`tokens.keep`), never kept here.
    """
    return {
        k: v
        for k, v in headers.items()
        if k.lower() not in PRIVATE_HEADERS
        and not k.lower().startswith(tokens.FORWARDED_PREFIX)
    }


def _settled(services: Services, row: InstanceRow) -> Response:
    """Answer once the instance settled: its data, or its error as Kogito's 500 carries it."""
    view = starting.settle(services, row, services.settings.sync_budget)
    if view.status is InstanceStatus.ERROR:
        return _failed(services, row.id, view)
    return Response(body=_instance_body(row.id, view.data))


def _failed(services: Services, instance_id: str, view: StatusView) -> Response:
    """The failed instance as Kogito answers it (its failed node read if the database answers)."""
    failed = starting.reachable_row(services, instance_id)
    status = 400 if failed is not None and _failed_by_error_message(failed) else 500
    return Response(
        status=status,
        body={
            "id": instance_id,
            "failedNodeId": failed.error_node if failed else None,
            "failedNodeName": view.error_state,
            "message": view.error_message,
        },
    )


def _instance_params(request: Request) -> tuple[str, str]:
    return request.params["workflow_id"], request.params["instance_id"]


def _unsupported_media_type(request: Request) -> Response:
    declared = request.headers.get("content-type") or "none"
    message = (
        f"the start request body must be JSON: send it with content-type"
        f" application/json (it was declared '{declared}')"
    )
    return Response(status=415, body={"message": message})


def _configmap(data: Any) -> dict[str, Any]:
    """The ConfigMap an ApiServerSource event carries, checked where it is read.

    Raises:
        InputError: the data is not a ConfigMap object.
    """
    if not isinstance(data, dict):
        raise InputError("a definitions event must carry a ConfigMap JSON object")
    for key in ("metadata", "data"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise InputError(f"the ConfigMap's '{key}' must be a JSON object")
    metadata = data.get("metadata") or {}
    if metadata.get("labels") is not None and not isinstance(metadata["labels"], dict):
        raise InputError("the ConfigMap's 'metadata.labels' must be a JSON object")
    return data


def _instance_body(instance_id: str, data: Any) -> dict[str, Any]:
    return {"id": instance_id, "workflowdata": data}


def _failed_by_error_message(row: InstanceRow) -> bool:
    """Tell whether the instance failed on its own data, which SonataFlow answers 400.

    That is a state's `errorMessage` metadata, a failing expression (a division by zero
    in RetriggerIT) or output violating `workflow-output-schema`; a failed service call
    stays a 500.
    """
    main = Execution.from_json(row.execution, workflow_data=row.data).threads.get(MAIN)
    if not row.error_message or main is None or main.error is None:
        return False
    return Failure.from_json(main.error).kind in DATA_FAILURES


DATA_FAILURES: Final = frozenset(
    {ERROR_MESSAGE_FAILURE, "ExpressionError", OUTPUT_KIND}
)
"""Failure kinds caused by the instance's data (answered 400 when a start fails)."""
