"""What one function process holds: its settings, its pool, and the services built from them.

Built in two steps so that a cold start answers readiness early: the health probe needs the
settings and the pool only; the `Services` a use case receives (HTTP client, gate, tracer,
metrics, definition cache, sweeper) are built at the first request past health, or by the
warm-up `serving` starts right after readiness was answered.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from knflow import logs
from knflow.config import AuthMode, Settings
from knflow.errors import KnflowError
from knflow.store import db

if TYPE_CHECKING:
    from knflow.runtime.handoff import Handoff
    from knflow.runtime.instances.deferral import Outgoing
    from knflow.runtime.services import Services
    from knflow.tracing import Tracer

logger = logging.getLogger(__name__)


class ProcessServices:
    """Builds the process's settings, pool and `Services` on first use (never at import)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings: Settings | None = None
        self._pool: db.Pool | None = None
        self._services: Services | None = None
        self._checked = False
        self._publisher: Handoff[Outgoing] | None = None

    def settings(self) -> Settings:
        """Return the settings, read from the environment the first time."""
        with self._lock:
            return self._read_settings()

    def open(self) -> db.Pool:
        """Return the pool, opened the first time: what the readiness probe needs.

        The first time also reads the policy file when authentication is required, so that a
        file that building the services would refuse keeps the process unready, as before
        the services were built after readiness.

        Raises:
            UnavailableError: the database did not answer.
            InputError: the policy file cannot be read or understood.
        """
        with self._lock:
            pool = self._open_pool()
            if not self._checked:
                _check_policy(self._read_settings())
                self._checked = True
            return pool

    def get(self) -> Services:
        """Return the services, opening the pool and building the rest the first time.

        Raises:
            UnavailableError: the database did not answer.
            InputError: the policy file cannot be read or understood.
        """
        with self._lock:
            if self._services is None:
                self._services = _build(self._read_settings(), self._open_pool())
                _start_sweeping(self._services)
            return self._services

    def publisher(self) -> Handoff[Outgoing]:
        """Return the thread that publishes what requests committed, after their answers."""
        from knflow.runtime.handoff import Handoff

        services = self.get()
        with self._lock:
            if self._publisher is None:
                self._publisher = Handoff(
                    partial(_publish, services), name="knflow-publisher"
                )
            return self._publisher

    @property
    def is_started(self) -> bool:
        """Tell whether the services were built (the database answered once)."""
        with self._lock:
            return self._services is not None

    def _read_settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_environment()
            logs.configure()
        return self._settings

    def _open_pool(self) -> db.Pool:
        if self._pool is None:
            self._pool = db.open_pool(self._read_settings().database_url)
        return self._pool


def _check_policy(settings: Settings) -> None:
    """Read the policy file as `Gate.from_settings` will (only `required` mode reads one)."""
    if settings.auth_mode is not AuthMode.REQUIRED:
        return
    from knflow.auth import policy

    policy.load(settings.auth_policy)


def _build(settings: Settings, pool: db.Pool) -> Services:
    """Build the services of a request; their modules load here, not at the process start."""
    from knflow.auth.gate import Gate
    from knflow.outbound.http import new_client
    from knflow.runtime.services import Services, system_clock

    http = new_client(settings.action_timeout)
    return Services(
        settings=settings,
        pool=pool,
        http=http,
        gate=Gate.from_settings(settings, http, system_clock),
        tracer=_tracer(settings),
    )


def _tracer(settings: Settings) -> Tracer:
    """Export spans when an OTLP endpoint is configured; otherwise trace nothing."""
    from knflow.tracing import Tracer

    if not settings.otlp_endpoint:
        return Tracer()
    return Tracer.exporting(service_name=settings.service_name)


def _start_sweeping(services: Services) -> None:
    """Look for stalled work soon after this process started (`runtime.sweeper`).

    Not without a sink: the events a sweep queues would reach nobody (a local process).
    """
    if not services.settings.k_sink:
        return
    services.sweeper.start(
        partial(_sweep, services), delay=services.settings.sweep_delay
    )
    services.sweeper.soon()


def _sweep(services: Services) -> timedelta | None:
    # Imported on the sweeper's thread at its first sweep: a cold start does not pay for it.
    from knflow.runtime.instances import recovery

    return recovery.sweep(services)


def _publish(services: Services, outgoing: list[Outgoing]) -> None:
    # Already loaded by the use case that wrote these events: imported here, a read
    # request never loads the publisher.
    from knflow.runtime.instances import publishing

    try:
        publishing.send(services, outgoing)
    except KnflowError as error:
        logger.warning(
            "publishing after the answer failed", extra={"reason": str(error)}
        )
