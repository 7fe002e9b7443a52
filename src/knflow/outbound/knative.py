"""SonataFlow's `knative:` custom function: call a Knative service over HTTP.

Operation: `knative:services.v1.serving.knative.dev[/<namespace>]/<service>?path=/x`
`[&method=GET][&asCloudEvent=true]`, or the short `knative:<service>?path=/x`. POST
sends the arguments as JSON; GET sends them as the query (scalars only). With
`asCloudEvent=true` the arguments are the CloudEvent (`specversion`, `source`,
`type`, `data`, extensions) and are POSTed in structured mode; a missing `id` is derived
from the instance id and the event's content (stable across a repeated call), a missing
`specversion` is `1.0` and a missing `source` is `/knflow/<workflowId>`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl

from knflow.config import Settings
from knflow.outbound import function_errors, function_http
from knflow.outbound.function_http import Answer, FunctionRequest
from knflow.workflow.model import Json

if TYPE_CHECKING:
    from knflow.outbound.function_call import FunctionCall

SERVICE_RESOURCE: Final = "services.v1.serving.knative.dev"
CLOUD_EVENT_CONTENT_TYPE: Final = "application/cloudevents+json; charset=UTF-8"
CE_HEADER_PREFIX: Final = "ce-"
METHODS: Final = frozenset({"GET", "POST"})


@dataclass(frozen=True, slots=True, kw_only=True)
class KnativeOperation:
    """A parsed `knative:` operation."""

    service: str
    """The Knative service name."""
    namespace: str | None
    """Its namespace when the operation names one."""
    path: str
    """Path on the service, `/` by default."""
    method: str
    """`POST` (default) or `GET`."""
    as_cloud_event: bool
    """Send the arguments as a structured CloudEvent."""


def build_request(settings: Settings, call: FunctionCall) -> FunctionRequest:
    """Build the request of a `knative:` custom function call.

    Raises:
        ActionError: the operation is malformed, or the arguments do not fit the method
            (permanent).
    """
    operation = parse_operation(call.function_name, call.operation)
    url = (
        service_url(settings, operation, function_name=call.function_name)
        + operation.path
    )
    if operation.as_cloud_event:
        event = cloud_event(call)
        return FunctionRequest(
            method="POST",
            url=url,
            body=function_http.json_body(event),
            content_type=CLOUD_EVENT_CONTENT_TYPE,
        )
    if operation.method == "GET":
        return FunctionRequest(method="GET", url=url, query=_query(call))
    return FunctionRequest(
        method="POST",
        url=url,
        body=function_http.json_body({} if call.arguments is None else call.arguments),
        content_type=function_http.JSON_CONTENT_TYPE,
    )


def parse_operation(function_name: str, operation: str) -> KnativeOperation:
    """Parse a `knative:` operation string.

    Raises:
        ActionError: the service is missing, the method is not GET or POST, or a
            CloudEvent is to be sent with GET (permanent).
    """
    target, _, query_text = operation.partition(":")[2].partition("?")
    query = dict(parse_qsl(query_text, keep_blank_values=True))
    parts = [part for part in target.strip().split("/") if part]
    if parts and parts[0] == SERVICE_RESOURCE:
        parts = parts[1:]
    method = query.get("method", "POST").strip().upper()
    as_cloud_event = query.get("asCloudEvent", "").strip().lower() == "true"
    problem = _problem(parts, method, as_cloud_event)
    if problem:
        raise function_errors.invalid_call(
            function_name, f"operation '{operation}' {problem}"
        )
    path = query.get("path") or "/"
    return KnativeOperation(
        service=parts[-1],
        namespace=parts[0] if len(parts) == 2 else None,
        path=path if path.startswith("/") else f"/{path}",
        method=method,
        as_cloud_event=as_cloud_event,
    )


def service_url(
    settings: Settings, operation: KnativeOperation, *, function_name: str
) -> str:
    """Return the service's base URL: configured, else from the URL pattern."""
    configured = function_http.configured_url(
        settings, operation.service, function_name
    )
    url = configured or settings.knative_url_pattern.format(
        service=operation.service, namespace=operation.namespace or settings.namespace
    )
    return url.rstrip("/")


def cloud_event(call: FunctionCall) -> dict[str, Json]:
    """Return the structured CloudEvent the arguments describe, completed.

    Raises:
        ActionError: the arguments are not an object or lack `type` (permanent).
    """
    if not isinstance(call.arguments, dict) or not call.arguments.get("type"):
        raise function_errors.invalid_call(
            call.function_name,
            "with asCloudEvent=true the arguments must be a CloudEvent object "
            "with at least a 'type'",
        )
    event = dict(call.arguments)
    event.setdefault("specversion", "1.0")
    if not event.get("source"):
        event["source"] = f"/knflow/{call.workflow_id}"
    if not event.get("id"):
        canonical = json.dumps(event, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
        event["id"] = f"{call.instance_id}_{digest}"
    return event


def read_result(answer: Answer) -> Json:
    """Decode the answer; a binary-mode CloudEvent becomes its structured form."""
    if f"{CE_HEADER_PREFIX}specversion" not in answer.headers:
        return function_http.decode(answer)
    event: dict[str, Json] = {
        name[len(CE_HEADER_PREFIX) :]: value
        for name, value in answer.headers.items()
        if name.startswith(CE_HEADER_PREFIX)
    }
    if "content-type" in answer.headers:
        event["datacontenttype"] = answer.headers["content-type"]
    if answer.content.strip():
        event["data"] = function_http.decode(answer)
    return event


def _problem(parts: list[str], method: str, as_cloud_event: bool) -> str | None:
    if not parts or len(parts) > 2:
        return "does not name a service as '[<namespace>/]<service>'"
    if method not in METHODS:
        return f"uses method {method}; knative functions support GET and POST"
    if as_cloud_event and method != "POST":
        return "sends a CloudEvent, which needs POST"
    return None


def _query(call: FunctionCall) -> tuple[tuple[str, str], ...]:
    arguments = call.arguments if isinstance(call.arguments, dict) else {}
    pairs: list[tuple[str, str]] = []
    for name, value in arguments.items():
        if isinstance(value, dict | list):
            raise function_errors.invalid_call(
                call.function_name,
                f"a GET knative function takes only scalar arguments; '{name}' is not",
            )
        if value is not None:
            pairs.append((name, function_http.to_text(value)))
    return tuple(pairs)
