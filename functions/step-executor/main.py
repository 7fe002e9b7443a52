"""step-executor: continue workflow instances — step events, and the events workflows consume."""

from knflow import serving


def endpoints() -> serving.Endpoints:
    """The step handler; imported once readiness was answered, not at the process start."""
    from knflow.runtime.step_executor import inbox

    return serving.Endpoints(on_event=inbox.handle_event)


handle = serving.function(endpoints)
