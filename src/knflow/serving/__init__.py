"""HTTP glue for the functions: startup, health, CloudEvent decoding and error-to-status mapping.

A function's `main.py` hands `function` a loader of its endpoints (its routes and, for an
event function, its CloudEvent handler); functions-framework serves the result with the
`http` signature, so that knflow controls every answer (a CloudEvent handler must answer 2xx
with an empty body or a CloudEvent; the framework's own `200 "OK"` counts as a failed delivery
to both Knative brokers).

Cold starts: this module answers the health probes with the settings, the pool and the
migration check alone. The rest — `dispatch` (CloudEvents, routes, authentication, metrics),
the function's use cases and the `Services` they receive — loads once, right after readiness
was first answered, on a thread of its own, or in the first other request if that comes
sooner. Scale-from-zero still pays it before its first answer: see bench P3's rows for both.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Final

import flask

from knflow.errors import KnflowError
from knflow.serving import collector

if TYPE_CHECKING:
    from knflow.runtime.web import Route
    from knflow.serving.endpoints import Endpoints, EventHandler, Loader

# psycopg and its pool: most of what a process start imports past flask.
with collector.loading():
    from knflow.serving.process import ProcessServices
    from knflow.store import db, ledger

logger = logging.getLogger(__name__)

FlaskFunction = Callable[[flask.Request], flask.Response]
HEALTH_PATHS: Final = ("/health/liveness", "/health/readiness")
if TYPE_CHECKING:
    Serve = Callable[[ProcessServices, Endpoints, flask.Request], flask.Response]


def function(load: Loader) -> FlaskFunction:
    """Serve the endpoints `load` returns, plus the health endpoints and `/metrics`.

    `load` runs once, after the first readiness answer or at the first other request.
    """
    served = _Function(load)

    def handle(request: flask.Request) -> flask.Response:
        # A plain function: functions-framework refuses a bound method as its target.
        return served.handle(request)

    return handle


def event_function(
    handler: EventHandler, *, routes: Sequence[Route] = ()
) -> FlaskFunction:
    """Serve CloudEvents at `/` with `handler`, plus `routes` and the health endpoints."""
    return function(partial(_endpoints, tuple(routes), handler))


def http_function(routes: Sequence[Route]) -> FlaskFunction:
    """Serve `routes` and the health endpoints; anything else is a JSON 404."""
    return function(partial(_endpoints, tuple(routes), None))


def _endpoints(routes: tuple[Route, ...], on_event: EventHandler | None) -> Endpoints:
    """Build the endpoints when they load: readiness never imports `serving.endpoints`."""
    from knflow.serving.endpoints import Endpoints

    return Endpoints(routes=routes, on_event=on_event)


class _Function:
    """One function of this process: its services, its endpoints once loaded, its warm-up."""

    def __init__(self, load: Loader) -> None:
        self._state = ProcessServices()
        self._load = load
        self._lock = threading.Lock()
        self._loaded: tuple[Serve, Endpoints] | None = None
        self._warming_lock = threading.Lock()
        self._warming = False

    def handle(self, request: flask.Request) -> flask.Response:
        """Answer one request: health here, everything else through `dispatch`."""
        if request.path in HEALTH_PATHS:
            return self._health(request.path)
        serve, endpoints = self._loaded_endpoints()
        return serve(self._state, endpoints, request)

    def _loaded_endpoints(self) -> tuple[Serve, Endpoints]:
        """Import `dispatch` and the function's use cases, once.

        One lock around every deferred import: the warm-up thread and a request never
        import knflow's modules concurrently.
        """
        with self._lock:
            if self._loaded is None:
                with collector.loading():
                    from knflow.serving import dispatch

                    self._loaded = (dispatch.serve, self._load())
            return self._loaded

    def _health(self, path: str) -> flask.Response:
        if path.endswith("liveness"):
            return _json(200, {"status": "UP"})
        try:
            with db.autocommit(self._state.open()) as conn:
                pending = ledger.pending_versions(conn)
        except KnflowError as error:
            return _json(503, {"status": "DOWN", "reason": str(error)})
        if pending:
            reason = f"database schema is behind: {len(pending)} migration(s) pending; run 'knflow migrate'"
            return _json(503, {"status": "DOWN", "reason": reason})
        response = _json(200, {"status": "UP"})
        response.call_on_close(self._warm_up)
        return response

    def _warm_up(self) -> None:
        """Once ready, load the rest on a thread of its own, once the answer was sent.

        This also starts the sweeper soon after the process started, whether or not a
        request ever comes (a pod restarted after a crash, a minimum scale above zero).
        """
        # Not the loading lock: a probe's answer never waits for the loading.
        with self._warming_lock:
            if self._warming:
                return
            self._warming = True
        threading.Thread(target=self._warm, name="knflow-warm-up", daemon=True).start()

    def _warm(self) -> None:
        self._loaded_endpoints()
        try:
            self._state.get()
        except KnflowError as error:
            logger.warning(
                "warm-up left the services unbuilt", extra={"reason": str(error)}
            )


def _json(status: int, body: dict[str, str]) -> flask.Response:
    return flask.Response(
        json.dumps(body), status=status, headers={"content-type": "application/json"}
    )
