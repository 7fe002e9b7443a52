"""job-trigger: fire timers and scheduled starts, serve the Kogito Job Service v2 API."""

from knflow import serving


def endpoints() -> serving.Endpoints:
    """The firing handler and the Job Service API; imported once readiness was answered."""
    from knflow.runtime.job_trigger import firing, jobs_api

    return serving.Endpoints(
        routes=jobs_api.ROUTES, on_event=firing.Trigger().handle_event
    )


handle = serving.function(endpoints)
