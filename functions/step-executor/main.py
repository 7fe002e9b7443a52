"""step-executor: continue workflow instances — step events, and the events workflows consume."""

from __future__ import annotations

from typing import TYPE_CHECKING

from knflow import serving

if TYPE_CHECKING:
    from knflow.serving.endpoints import Endpoints


def endpoints() -> Endpoints:
    """The step handler; imported once readiness was answered, not at the process start."""
    from knflow.runtime.step_executor import inbox
    from knflow.serving.endpoints import Endpoints

    return Endpoints(on_event=inbox.handle_event)


handle = serving.function(endpoints)
