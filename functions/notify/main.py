"""notify: deliver notification requests and instance endings to Backstage."""

from knflow import serving


def endpoints() -> serving.Endpoints:
    """The delivery handler; imported once readiness was answered, not at the process start."""
    from knflow.runtime.notify import delivery

    return serving.Endpoints(on_event=delivery.handle_event)


handle = serving.function(endpoints)
