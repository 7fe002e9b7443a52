"""HTTP glue for the functions: startup, health, CloudEvent decoding and error-to-status mapping.

A function's `main.py` names its use case and hands it to `event_function` or `http_function`;
functions-framework serves the result with the `http` signature, so that knflow controls every
answer (a CloudEvent handler must answer 2xx with an empty body or a CloudEvent; the framework's
own `200 "OK"` counts as a failed delivery to both Knative brokers).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Final

import flask

from knflow import logs
from knflow.auth.gate import Gate
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
from knflow.outbound.http import new_client
from knflow.runtime.instances import publishing
from knflow.runtime.services import Services, system_clock
from knflow.runtime.web import Request, Response, Route
from knflow.store import db, migrate

logger = logging.getLogger(__name__)

EventHandler = Callable[[Services, Event], Event | None]
FlaskFunction = Callable[[flask.Request], flask.Response]
HEALTH_PATHS: Final = ("/health/liveness", "/health/readiness")


class ProcessServices:
    """Builds the process's `Services` on first use (never at import) and keeps them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._services: Services | None = None

    def get(self) -> Services:
        """Return the services, opening the pool and client the first time."""
        with self._lock:
            if self._services is None:
                settings = Settings.from_environment()
                logs.configure()
                http = new_client(settings.action_timeout)
                self._services = Services(
                    settings=settings,
                    pool=db.open_pool(settings.database_url),
                    http=http,
                    gate=Gate.from_settings(settings, http, system_clock),
                )
            return self._services


def event_function(
    handler: EventHandler, *, routes: Sequence[Route] = ()
) -> FlaskFunction:
    """Serve CloudEvents at `/` with `handler`, plus `routes` and the health endpoints."""
    state = ProcessServices()

    def handle(request: flask.Request) -> flask.Response:
        if request.path in HEALTH_PATHS:
            return _health(state, request.path)
        decoded = _decode_request(request)
        for route in routes:
            params = route.match(decoded.method, decoded.path)
            if params is not None:
                return _serve_route(state, route, decoded, params)
        if request.method != "POST":
            return _json_response(
                Response(status=405, body={"message": "send CloudEvents with POST"})
            )
        return _serve_event(state, handler, request)

    return handle


def http_function(routes: Sequence[Route]) -> FlaskFunction:
    """Serve `routes` and the health endpoints; anything else is a JSON 404."""
    state = ProcessServices()

    def handle(request: flask.Request) -> flask.Response:
        if request.path in HEALTH_PATHS:
            return _health(state, request.path)
        decoded = _decode_request(request)
        for route in routes:
            params = route.match(decoded.method, decoded.path)
            if params is not None:
                return _serve_route(state, route, decoded, params)
        return _json_response(
            Response(
                status=404,
                body={"message": f"no endpoint {request.method} {request.path}"},
            )
        )

    return handle


def _serve_event(
    state: ProcessServices, handler: EventHandler, request: flask.Request
) -> flask.Response:
    try:
        _authenticate_delivery(state, dict(request.headers))
        event = codec.from_http(dict(request.headers), request.get_data())
    except (InputError, AuthenticationError, UnavailableError) as error:
        return _json_response(_error_response(error))
    with logs.context(ce_id=event.id, ce_type=event.type):
        try:
            reply = handler(state.get(), event)
        except KnflowError as error:
            return _event_error(error, event)
        except Exception:
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


def _answer_route(
    state: ProcessServices, route: Route, request: Request, params: dict[str, str]
) -> flask.Response:
    try:
        identity = _authenticate(state.get(), route, request, params)
        request = Request(
            method=request.method,
            path=request.path,
            headers=request.headers,
            query=request.query,
            body=request.body,
            params=params,
            identity=identity,
        )
        return _json_response(route.handler(state.get(), request))
    except KnflowError as error:
        return _json_response(_error_response(error))
    except Exception:
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
    with publishing.deferring() as deferred:
        response = _answer_route(state, route, request, params)
    return _publish_after_answer(state, response, deferred)


def _publish_after_answer(
    state: ProcessServices, response: flask.Response, deferred: publishing.Deferred
) -> flask.Response:
    """Publish what the request committed once its answer is sent: no caller waits for it.

    Failed or unsent events stay in the outbox for the reconcile.
    """
    if deferred.outgoing:
        response.call_on_close(partial(_send, state.get(), deferred.outgoing))
    return response


def _send(services: Services, outgoing: list[publishing.Outgoing]) -> None:
    try:
        publishing.send(services, outgoing)
    except KnflowError as error:
        logger.warning(
            "publishing after the answer failed", extra={"reason": str(error)}
        )


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


def _decode_request(request: flask.Request) -> Request:
    return Request(
        method=request.method.upper(),
        path=request.path,
        headers={key.lower(): value for key, value in request.headers.items()},
        query={key: request.args.getlist(key)[-1] for key in request.args},
        body=request.get_data(),
    )


def _health(state: ProcessServices, path: str) -> flask.Response:
    if path.endswith("liveness"):
        return _json_response(Response(body={"status": "UP"}))
    try:
        services = state.get()
        with db.transaction(services.pool) as conn:
            pending = migrate.pending_migrations(conn)
    except KnflowError as error:
        return _json_response(
            Response(status=503, body={"status": "DOWN", "reason": str(error)})
        )
    if pending:
        reason = f"database schema is behind: {len(pending)} migration(s) pending; run 'knflow migrate'"
        return _json_response(
            Response(status=503, body={"status": "DOWN", "reason": reason})
        )
    return _json_response(Response(body={"status": "UP"}))


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
