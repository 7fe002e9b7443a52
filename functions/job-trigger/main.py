"""job-trigger: fire timers and scheduled starts, serve the Kogito Job Service v2 API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from knflow import serving

if TYPE_CHECKING:
    from knflow.serving.endpoints import Endpoints


def endpoints() -> Endpoints:
    """The firing handler and the Job Service API; imported once readiness was answered."""
    from knflow.runtime.job_trigger import firing, jobs_api
    from knflow.serving.endpoints import Endpoints

    return Endpoints(routes=jobs_api.ROUTES, on_event=firing.Trigger().handle_event)


handle = serving.function(endpoints)
