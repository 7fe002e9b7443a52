"""notify: deliver notification requests and instance endings to Backstage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from knflow import serving

if TYPE_CHECKING:
    from knflow.serving.endpoints import Endpoints


def endpoints() -> Endpoints:
    """The delivery handler; imported once readiness was answered, not at the process start."""
    from knflow.runtime.notify import delivery
    from knflow.serving.endpoints import Endpoints

    return Endpoints(on_event=delivery.handle_event)


handle = serving.function(endpoints)
