"""Signing keys of one issuer: fetched from its JWKS, cached, re-fetched on an unknown `kid`.

A key set is trusted for `max_age`; a token naming a `kid` the cached set lacks re-fetches the
set at most once per `min_refresh`, so a stream of forged `kid`s cannot turn knflow into a
load generator against the issuer. A key the issuer withdrew stops being accepted when the
cached set expires.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import jwt

from knflow.errors import AuthenticationError, UnavailableError
from knflow.outbound import jwks
from knflow.outbound.http import HttpClient

logger = logging.getLogger(__name__)

SIGNING_KEY_TYPES: Final = frozenset({"RSA", "EC", "OKP"})
"""Asymmetric keys only: an `oct` (HMAC) key in a public JWKS is never used."""

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True, kw_only=True)
class Locator:
    """Where an issuer's keys are: a JWKS URL, or OIDC discovery under the issuer."""

    jwks_url: str = ""
    """The JWKS URL, when known."""
    discovery_issuer: str = ""
    """An issuer whose `/.well-known/openid-configuration` names the JWKS (`jwks_uri`)."""


class KeySet:
    """The cached signing keys of one issuer (thread-safe)."""

    def __init__(
        self,
        http: HttpClient,
        locator: Locator,
        *,
        clock: Clock,
        max_age: timedelta,
        min_refresh: timedelta,
    ) -> None:
        self._http = http
        self._locator = locator
        self._clock = clock
        self._max_age = max_age
        self._min_refresh = min_refresh
        self._lock = threading.Lock()
        self._jwks_url = locator.jwks_url
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: datetime | None = None

    def key(self, kid: str) -> jwt.PyJWK:
        """Return the key named `kid`, fetching the set when stale or when `kid` is new.

        Raises:
            AuthenticationError: no key of the issuer has that `kid`.
            UnavailableError: the keys could not be fetched.
        """
        with self._lock:
            now = self._clock()
            if self._fetched_at is None or now - self._fetched_at >= self._max_age:
                self._refresh(now)
            elif kid not in self._keys and now - self._fetched_at >= self._min_refresh:
                logger.info("unknown key id, refreshing signing keys")
                self._refresh(now)
            found = self._keys.get(kid)
        if found is None:
            raise AuthenticationError(
                "the token is signed with a key the issuer does not publish"
            )
        return found

    def _refresh(self, now: datetime) -> None:
        document = jwks.fetch_document(self._http, self._resolve_jwks_url())
        self._keys = _signing_keys(document)
        self._fetched_at = now

    def _resolve_jwks_url(self) -> str:
        if self._jwks_url:
            return self._jwks_url
        issuer = self._locator.discovery_issuer
        discovery = jwks.fetch_document(
            self._http, f"{issuer}/.well-known/openid-configuration"
        )
        if str(discovery.get("issuer", "")).rstrip("/") != issuer:
            raise UnavailableError(
                f"the OIDC discovery document of {issuer} names another issuer"
            )
        url = discovery.get("jwks_uri")
        if not isinstance(url, str) or not url:
            raise UnavailableError(f"the OIDC discovery of {issuer} names no jwks_uri")
        self._jwks_url = url
        return url


def _signing_keys(document: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    """The usable signing keys of a JWKS by `kid`; unusable or symmetric entries are skipped."""
    found: dict[str, jwt.PyJWK] = {}
    for entry in document.get("keys") or []:
        if not isinstance(entry, dict) or entry.get("kty") not in SIGNING_KEY_TYPES:
            continue
        if entry.get("use", "sig") != "sig" or not isinstance(entry.get("kid"), str):
            continue
        try:
            found[entry["kid"]] = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            logger.warning("unusable key skipped", extra={"kid": entry["kid"]})
    return found
