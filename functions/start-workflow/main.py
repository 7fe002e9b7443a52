"""start-workflow: the SonataFlow-compatible REST API — start instances, manage them, describe workflows."""

from knflow import serving


def endpoints() -> serving.Endpoints:
    """The REST API; imported once readiness was answered, not at the process start."""
    from knflow.runtime.start_workflow import rest_api

    return serving.Endpoints(routes=rest_api.ROUTES)


handle = serving.function(endpoints)
