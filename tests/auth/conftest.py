"""Fixtures for the auth tests: local token issuers and a gate that trusts them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from knflow.auth.gate import Gate
from knflow.config import Settings
from knflow.outbound.http import new_client
from tests.issuer import Issuer


@dataclass
class SteppedClock:
    """A clock the test moves forward."""

    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()


@pytest.fixture
def make_gate(
    keycloak: Issuer, backstage: Issuer, clock: SteppedClock
) -> Iterator[Callable[..., Gate]]:
    """`make_gate(**env)`: a required-mode gate trusting both issuers, plus `env` settings."""
    http = new_client(timedelta(seconds=5))

    def make(**env: str) -> Gate:
        settings = Settings.from_environment(
            {
                "KNFLOW_AUTH_MODE": "required",
                "KNFLOW_OIDC_ISSUER": keycloak.issuer,
                "KNFLOW_OIDC_AUDIENCE": "knflow",
                "KNFLOW_BACKSTAGE_ISSUER": backstage.issuer,
                "KNFLOW_BACKSTAGE_JWKS_URL": backstage.jwks_url,
                **env,
            }
        )
        return Gate.from_settings(settings, http, clock)

    yield make
    http.close()
