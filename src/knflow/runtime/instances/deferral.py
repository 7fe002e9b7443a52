"""What an HTTP request holds back until its answer is sent: the Data Index's events.

Apart from `publishing` so that `serving` can open the block around every request without
importing the publisher (the sink's HTTP client, the Kogito event builders): a request that
publishes nothing, a read, does not load them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from knflow.events.codec import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class Outgoing:
    """An event written to the outbox, to publish after its commit."""

    row_id: int
    """Its outbox row."""
    event: Event
    """The event itself (published from memory, never read back)."""


@dataclass(slots=True)
class Deferred:
    """What one HTTP request publishes, sent once its answer is on its way."""

    outgoing: list[Outgoing] = field(default_factory=list)
    """Events waiting for the answer."""


_DEFERRED: ContextVar[Deferred | None] = ContextVar("knflow_deferred", default=None)


@contextmanager
def deferring() -> Iterator[Deferred]:
    """Collect what is published inside the block instead of sending it (`publishing.send` it later)."""
    deferred = Deferred()
    token = _DEFERRED.set(deferred)
    try:
        yield deferred
    finally:
        _DEFERRED.reset(token)


def current() -> Deferred | None:
    """The block this request opened, None outside one (publish at once)."""
    return _DEFERRED.get()
