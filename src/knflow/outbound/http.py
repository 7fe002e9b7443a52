"""The shared HTTP client: one per process, with knflow's timeouts and user agent."""

from __future__ import annotations

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
    )
