"""The shared HTTP client: one per process, with knflow's timeouts and user agent."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx

HttpClient = httpx.Client
"""The client type the runtime passes around; only `outbound/` calls its methods."""


def new_client(timeout: timedelta) -> HttpClient:
    """Create the process's HTTP client (connection pooling, no redirects followed)."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout.total_seconds(), connect=5.0),
        headers={"user-agent": "knflow"},
        follow_redirects=False,
        transport=TransportOnFirstUse(),
    )


class TransportOnFirstUse(httpx.BaseTransport):
    """httpx's default transport, built at the first request instead of with the client.

    Building it loads the CA bundle into an SSL context, ~80 ms of CPU that a function
    serving no outbound call (a read, an indexed event) would pay at its cold start.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._transport: httpx.HTTPTransport | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` through the transport, building it the first time."""
        return self._built().handle_request(request)

    def close(self) -> None:
        """Close the transport's connections, if it was ever built."""
        with self._lock:
            if self._transport is not None:
                self._transport.close()

    def _built(self) -> httpx.HTTPTransport:
        with self._lock:
            if self._transport is None:
                self._transport = httpx.HTTPTransport()
            return self._transport
