"""Posting encoded CloudEvents to the broker (`K_SINK`)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from knflow.errors import UnavailableError
from knflow.outbound.http import HttpClient


def post(client: HttpClient, url: str, headers: Mapping[str, str], body: bytes) -> None:
    """POST one encoded CloudEvent; only a 2xx answer counts as delivered.

    Raises:
        UnavailableError: the sink could not be reached or did not answer 2xx.
    """
    try:
        response = client.post(url, headers=dict(headers), content=body, timeout=10.0)
    except httpx.HTTPError as error:
        raise UnavailableError(f"event sink {url} is unreachable: {error}") from error
    if not 200 <= response.status_code < 300:
        raise UnavailableError(
            f"event sink {url} answered {response.status_code}: {response.text[:200]}"
        )
