"""What a function serves past the health probes, as its `main.py` hands it to `serving`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knflow.events.codec import Event
    from knflow.runtime.services import Services
    from knflow.runtime.web import Route

EventHandler = Callable[["Services", "Event"], "Event | None"]
"""A CloudEvent use case: the services and the event in, an optional reply event out."""


@dataclass(frozen=True, slots=True)
class Endpoints:
    """A function's routes and, for an event function, the handler of CloudEvents at `/`."""

    routes: Sequence[Route] = ()
    """Matched in order before the CloudEvent handler."""
    on_event: EventHandler | None = None
    """None: a plain HTTP function, whose unmatched requests answer a JSON 404."""


Loader = Callable[[], Endpoints]
"""Imports a function's use cases and returns its endpoints; `serving` calls it once."""
