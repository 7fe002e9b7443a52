"""start-workflow: the SonataFlow-compatible REST API — start instances, manage them, describe workflows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from knflow import serving

if TYPE_CHECKING:
    from knflow.serving.endpoints import Endpoints


def endpoints() -> Endpoints:
    """The REST API; imported once readiness was answered, not at the process start."""
    from knflow.runtime.start_workflow import rest_api
    from knflow.serving.endpoints import Endpoints

    return Endpoints(routes=rest_api.ROUTES)


handle = serving.function(endpoints)
