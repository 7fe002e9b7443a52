"""Fetching the public documents token validation needs: OIDC discovery and JSON Web Key Sets."""

from __future__ import annotations

from typing import Any, Final

import httpx

from knflow.errors import UnavailableError
from knflow.outbound.http import HttpClient

FETCH_TIMEOUT_SECONDS: Final = 5.0
MAX_DOCUMENT_BYTES: Final = 1_000_000


def fetch_document(client: HttpClient, url: str) -> dict[str, Any]:
    """GET a JSON object (a discovery document or a JWKS).

    Raises:
        UnavailableError: the issuer could not be reached, did not answer 200, or its answer
            is not a JSON object; a request that needs the keys answers 503 and can be retried.
    """
    try:
        response = client.get(
            url,
            headers={"accept": "application/json"},
            timeout=FETCH_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as error:
        raise UnavailableError(f"key issuer {url} is unreachable: {error}") from error
    if response.status_code != 200:
        raise UnavailableError(f"key issuer {url} answered {response.status_code}")
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise UnavailableError(f"key issuer {url} answered more than 1 MB")
    try:
        document = response.json()
    except ValueError as error:
        raise UnavailableError(f"key issuer {url} did not answer JSON") from error
    if not isinstance(document, dict):
        raise UnavailableError(f"key issuer {url} did not answer a JSON object")
    return document
