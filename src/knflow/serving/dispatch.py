"""Everything a function answers past the health probes: CloudEvents, routes, `/metrics`.

Imported after the first readiness answer (see `knflow.serving`): decoding within the limits,
the authentication step, tracing, the mapping of errors to statuses, and publishing what a
request committed once its answer is sent.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from typing import Final

import flask

from knflow import logs
from knflow.auth.identity import Identity
from knflow.config import Settings
from knflow.errors import (
    AuthenticationError,
    ConflictError,
    DefinitionError,
    ForbiddenError,
    InputError,
    KnflowError,
    NotFoundError,
    UnavailableError,
)
from knflow.events import codec
from knflow.events.codec import Event
from knflow.metrics import CONTENT_TYPE
from knflow.runtime.instances import deferral
from knflow.runtime.services import Services
from knflow.runtime.web import Request, Response, Route
from knflow.serving.endpoints import Endpoints, EventHandler
from knflow.serving.process import ProcessServices
from knflow.store import db
from knflow.tracing import SpanKind

logger = logging.getLogger(__name__)

METRICS_PATH: Final = "/metrics"


def serve(
    state: ProcessServices, endpoints: Endpoints, request: flask.Request
) -> flask.Response:
    """Answer a request past the health probes: metrics, a refusal, a route, or the fallback.

    The fallback is the CloudEvent handler of an event function, a JSON 404 otherwise.
    """
    served = _serve_common(state, endpoints.routes, request)
    if isinstance(served, flask.Response):
        return served
    if endpoints.on_event is None:
        return _json_response(
            Response(
                status=404,
                body={"message": f"no endpoint {request.method} {request.path}"},
            )
        )
    if request.method != "POST":
        return _json_response(
            Response(status=405, body={"message": "send CloudEvents with POST"})
        )
    return _serve_event(state, endpoints.on_event, served)


def _note_outcome(services: Services, status: int, *, worked: bool) -> None:
    """Ask for a sweep after work, and for sweeps until the database is back after a 503."""
    if status == 503:
        services.sweeper.database_lost()
    elif worked:
        services.sweeper.soon()


def _serve_common(
    state: ProcessServices, routes: Sequence[Route], request: flask.Request
) -> flask.Response | Request:
    """Answer what every function serves alike: health, metrics, a refused body, a route.

    Returns the decoded request when none of those applies (the caller's own fallback).
    """
    if request.path == METRICS_PATH:
        return _metrics(state)
    decoded = _decode_request(request, state.settings())
    if isinstance(decoded, Response):
        return _json_response(decoded)
    for route in routes:
        params = route.match(decoded.method, decoded.path)
        if params is not None:
            return _serve_route(state, route, decoded, params)
    return decoded


def _serve_event(
    state: ProcessServices, handler: EventHandler, request: Request
) -> flask.Response:
    try:
        _authenticate_delivery(state, dict(request.headers))
        event = codec.from_http(
            request.headers, request.body, limits=request.json_limits
        )
    except (InputError, AuthenticationError, UnavailableError) as error:
        if isinstance(error, InputError):
            logger.warning("event refused", extra={"reason": str(error)})
        return _json_response(_error_response(error))
    services = state.get()
    with (
        logs.context(ce_id=event.id, ce_type=event.type),
        services.tracer.span(
            f"receive {event.type}",
            kind=SpanKind.CONSUMER,
            parent=event.extensions,
            attributes={
                "cloudevents.event_id": event.id,
                "cloudevents.event_type": event.type,
            },
        ),
    ):
        response = _handle_event(services, handler, event)
    services.metrics.events_received.labels(str(response.status_code)).inc()
    _note_outcome(services, response.status_code, worked=True)
    return response


def _handle_event(
    services: Services, handler: EventHandler, event: Event
) -> flask.Response:
    try:
        reply = handler(services, event)
    except KnflowError as error:
        return _event_error(error, event)
    except Exception as error:
        known = db.as_knflow_error(error)
        if known is not None:
            return _event_error(known, event)
        logger.exception("event handler failed")
        return _json_response(
            Response(
                status=500,
                body={"message": f"internal error handling event {event.id}"},
            )
        )
    if reply is None:
        return flask.Response(status=202)
    headers, body = codec.to_binary_http(reply)
    return flask.Response(body, status=200, headers=headers)


def _event_error(error: KnflowError, event: Event) -> flask.Response:
    """Retryable errors answer 503 so the broker retries; permanent ones 400/422, never retried."""
    if error.retryable:
        logger.warning("event handling deferred", extra={"reason": str(error)})
        return _json_response(Response(status=503, body={"message": str(error)}))
    logger.warning("event refused", extra={"reason": str(error)})
    status = 400 if isinstance(error, InputError) else 422
    return _json_response(
        Response(status=status, body={"message": str(error), "id": event.id})
    )


def _traced_route(
    state: ProcessServices, route: Route, request: Request, params: dict[str, str]
) -> flask.Response:
    """Answer inside a server span that continues the caller's `traceparent`."""
    try:
        tracer = state.get().tracer
    except KnflowError as error:
        return _json_response(_error_response(error))
    with tracer.span(
        f"{route.method} {route.pattern}",
        kind=SpanKind.SERVER,
        parent=request.headers,
        attributes={"http.request.method": route.method, "http.route": route.pattern},
    ):
        return _answer_route(state, route, request, params)


def _answer_route(
    state: ProcessServices, route: Route, request: Request, params: dict[str, str]
) -> flask.Response:
    try:
        identity = _authenticate(state.get(), route, request, params)
        request = dataclasses.replace(request, params=params, identity=identity)
        return _json_response(route.handler(state.get(), request))
    except KnflowError as error:
        return _json_response(_error_response(error))
    except Exception as error:
        known = db.as_knflow_error(error)
        if known is not None:
            return _json_response(_error_response(known))
        logger.exception("request handler failed")
        return _json_response(
            Response(
                status=500, body={"message": "internal error; see the function's log"}
            )
        )


def _serve_route(
    state: ProcessServices, route: Route, request: Request, params: dict[str, str]
) -> flask.Response:
    """Answer an HTTP request; the Data Index hears of what it did once the answer is sent.

    CloudEvent deliveries publish as they go instead: job-trigger keeps a delivery open for
    its whole watch window.
    """
    with deferral.deferring() as deferred:
        response = _traced_route(state, route, request, params)
    if state.is_started:
        _note_outcome(state.get(), response.status_code, worked=route.method != "GET")
    return _publish_after_answer(state, response, deferred)


def _publish_after_answer(
    state: ProcessServices, response: flask.Response, deferred: deferral.Deferred
) -> flask.Response:
    """Hand what the request committed to the publisher thread once the answer is sent.

    No caller waits for it: the answer's thread (and the caller's keep-alive connection)
    is free at once, and what several requests committed meanwhile goes out as one batch.
    Handed over when the server closes the answer, not before: a publisher woken earlier
    takes the interpreter while the answer is still being written, and the caller waits
    for it. Failed or unsent events stay in the outbox for the reconcile.
    """
    outgoing = deferred.outgoing
    if outgoing:
        response.call_on_close(lambda: state.publisher().submit(outgoing))
    return response


# --- the authentication step: which requests and deliveries may reach a handler ---


def _authenticate(
    services: Services, route: Route, request: Request, params: dict[str, str]
) -> Identity | None:
    """Admit a request to `route`, returning the identity its token proves.

    Raises:
        AuthenticationError: 401, a token is needed or invalid.
        ForbiddenError: 403, the policy does not grant the route's permission.
    """
    if route.delivery:
        return services.gate.admit_delivery(request.headers)
    if route.permission is None:
        return None
    return services.gate.admit(
        request.headers,
        request.query,
        permission=route.permission,
        workflow_id=params.get("workflow_id", "*"),
    )


def _authenticate_delivery(state: ProcessServices, headers: dict[str, str]) -> None:
    """Admit a CloudEvent delivery (an Eventing OIDC token when that is required)."""
    state.get().gate.admit_delivery({k.lower(): v for k, v in headers.items()})


def _challenge(error: AuthenticationError) -> dict[str, str]:
    """The `WWW-Authenticate` answer of a 401 (RFC 6750)."""
    reason = str(error).replace('"', "'")
    return {
        "www-authenticate": f'Bearer realm="knflow", error="invalid_token", '
        f'error_description="{reason}"'
    }


def _error_response(error: KnflowError) -> Response:
    body: dict[str, object] = {"message": str(error)}
    if isinstance(error, InputError) and error.details:
        body["details"] = error.details
    if isinstance(error, DefinitionError):
        body["details"] = [str(problem) for problem in error.problems]
    status = 500
    if isinstance(error, AuthenticationError):
        return Response(status=401, body=body, headers=_challenge(error))
    if isinstance(error, ForbiddenError):
        return Response(status=403, body=body)
    if isinstance(error, (InputError, DefinitionError)):
        status = 400
    elif isinstance(error, NotFoundError):
        status = 404
    elif isinstance(error, ConflictError):
        status = 409
    elif isinstance(error, UnavailableError):
        status = 503
    return Response(status=status, body=body)


def _decode_request(request: flask.Request, settings: Settings) -> Request | Response:
    """Decode a request within the limits, or answer the refusal.

    413 for a body over `max_body_bytes`; 404 for a path holding a NUL character (no
    stored id can hold one); 400 for a query parameter holding one.
    """
    if "\x00" in request.path:
        return _refusal(404, "no resource has a NUL character in its path")
    query = {key: request.args.getlist(key)[-1] for key in request.args}
    for key, value in query.items():
        if "\x00" in key or "\x00" in value:
            name = key.replace("\x00", "\\u0000")
            return _refusal(400, f"query parameter '{name}' holds a NUL character")
    body = _read_body(request, settings.max_body_bytes)
    if isinstance(body, Response):
        return body
    return Request(
        method=request.method.upper(),
        path=request.path,
        headers={key.lower(): value for key, value in request.headers.items()},
        query=query,
        body=body,
        json_limits=settings.json_limits,
    )


def _read_body(request: flask.Request, limit: int) -> bytes | Response:
    """Read at most `limit` bytes, whether the length is declared or the body is chunked."""
    declared = request.content_length
    if declared is not None and declared > limit:
        return _too_large(declared, limit)
    body: bytes = request.stream.read(limit + 1)
    if len(body) > limit:
        return _too_large(None, limit)
    return body


def _too_large(size: int | None, limit: int) -> Response:
    what = "the request body" if size is None else f"the request body of {size} bytes"
    return _refusal(
        413,
        f"{what} is larger than the limit of {limit} bytes (KNFLOW_MAX_BODY_BYTES)",
    )


def _refusal(status: int, message: str) -> Response:
    return Response(status=status, body={"message": message})


def _metrics(state: ProcessServices) -> flask.Response:
    """Serve the Prometheus series; the scrape goes to the pod, not through Knative's route."""
    # Imported at the first scrape: a cold start that serves an event does not pay for it.
    from knflow.runtime import scraping

    body = scraping.scrape(state.get())
    return flask.Response(body, status=200, headers={"content-type": CONTENT_TYPE})


def _json_response(response: Response) -> flask.Response:
    headers = dict(response.headers)
    if response.body is None:
        return flask.Response(status=response.status, headers=headers)
    if isinstance(response.body, bytes):
        return flask.Response(response.body, status=response.status, headers=headers)
    headers.setdefault("content-type", "application/json")
    return flask.Response(
        json.dumps(response.body), status=response.status, headers=headers
    )
