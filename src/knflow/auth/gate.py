"""The authentication step of every request and delivery: which token, which trust, which rule.

`serving` asks the gate before it runs a handler. In `off` mode the gate admits everyone and
looks at no token. In `required` mode a route's permission needs a valid token — an OIDC
bearer token (`Authorization: Bearer`) or a Backstage user token (`X-Authorization-Backstage`)
— and the policy's grant, except the permissions `KNFLOW_AUTH_ANONYMOUS` leaves open to callers
that send no token at all (the Orchestrator plugin's abort and reads, admitted by the network).
With Eventing OIDC on, CloudEvent deliveries need a token bound to the function's audience.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from knflow.auth import policy as policies
from knflow.auth.identity import Identity, TokenKind
from knflow.auth.policy import Permission, Policy
from knflow.config import AuthMode, Settings
from knflow.errors import AuthenticationError

if TYPE_CHECKING:  # PyJWT costs ~150 ms at each cold start; `off` mode never needs it
    from knflow.auth.keys import Locator
    from knflow.auth.tokens import Trust
    from knflow.outbound.http import HttpClient

logger = logging.getLogger(__name__)

BACKSTAGE_HEADER: Final = "x-authorization-backstage"
QUERY_TOKEN_NAMES: Final = frozenset({"access_token", "id_token", "token", "jwt"})
ASK_FOR_TOKEN: Final = (
    "this request needs a token: send 'Authorization: Bearer <OIDC token>' "
    "or 'X-Authorization-Backstage: <Backstage token>'"
)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True, kw_only=True)
class Gate:
    """What one process checks, built once from its settings."""

    mode: AuthMode
    """`off` admits everyone."""
    policy: Policy
    """Who may do what."""
    anonymous: frozenset[Permission]
    """Permissions a caller without any token holds in `required` mode."""
    oidc: Trust | None = None
    """Bearer tokens of the OIDC issuer, when configured."""
    backstage: Trust | None = None
    """Backstage user tokens, when configured."""
    eventing: Trust | None = None
    """Delivery tokens, when Eventing OIDC is required."""

    @classmethod
    def from_settings(cls, settings: Settings, http: HttpClient, clock: Clock) -> Gate:
        """Build the gate: the trusts the settings configure, and the policy file.

        Raises:
            InputError: the policy file cannot be read or understood.
        """
        required = settings.auth_mode is AuthMode.REQUIRED
        if not required and not settings.eventing_oidc:
            return cls(mode=settings.auth_mode, policy=Policy(), anonymous=frozenset())
        # Imported only when some token is checked: PyJWT and cryptography cost ~150 ms.
        from knflow.auth.keys import KeySet, Locator
        from knflow.auth.tokens import Trust

        def trust(
            kind: TokenKind, issuer: str, audiences: tuple[str, ...], locator: Locator
        ) -> Trust:
            keys = KeySet(
                http,
                locator,
                clock=clock,
                max_age=settings.jwks_max_age,
                min_refresh=settings.jwks_min_refresh,
            )
            return Trust(
                kind=kind,
                issuer=issuer,
                audiences=audiences,
                keys=keys,
                leeway=settings.auth_leeway,
            )

        return cls(
            mode=settings.auth_mode,
            policy=policies.load(settings.auth_policy) if required else Policy(),
            anonymous=frozenset(
                Permission(name)
                for name in settings.auth_anonymous
                if name in {p.value for p in Permission}
            ),
            oidc=trust(
                TokenKind.OIDC,
                settings.oidc_issuer,
                settings.oidc_audience,
                Locator(discovery_issuer=settings.oidc_issuer),
            )
            if required and settings.oidc_issuer
            else None,
            backstage=trust(
                TokenKind.BACKSTAGE,
                settings.backstage_issuer,
                settings.backstage_audience,
                Locator(
                    jwks_url=settings.backstage_jwks_url
                    or f"{settings.backstage_issuer}/.well-known/jwks.json"
                ),
            )
            if required and settings.backstage_issuer
            else None,
            eventing=trust(
                TokenKind.EVENTING,
                settings.eventing_issuer,
                (settings.eventing_audience,),
                Locator(discovery_issuer=settings.eventing_issuer),
            )
            if settings.eventing_oidc
            else None,
        )

    def admit(
        self,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        *,
        permission: Permission,
        workflow_id: str,
    ) -> Identity | None:
        """Return the caller's identity when the request may proceed (None: anonymous or `off`).

        `headers` have lower-case names. Every token a request carries must be valid, even
        where none is needed.

        Raises:
            AuthenticationError: a token is missing where needed, invalid, or in the query.
            ForbiddenError: the identity lacks `permission` on `workflow_id`.
            UnavailableError: an issuer's keys could not be fetched.
        """
        if self.mode is AuthMode.OFF:
            return None
        identity = self.authenticate(headers, query)
        if identity is None:
            if permission in self.anonymous:
                return None
            raise AuthenticationError(ASK_FOR_TOKEN)
        self.policy.require(identity, permission, workflow_id)
        return identity

    def authenticate(
        self, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> Identity | None:
        """Validate the request's tokens; return the identity they prove, None when none is sent.

        The bearer token names the caller when both are sent; the Backstage token must be
        valid too, since it is kept and forwarded.

        Raises:
            AuthenticationError: a token is invalid, of an unconfigured kind, or in the query.
            UnavailableError: an issuer's keys could not be fetched.
        """
        if QUERY_TOKEN_NAMES & {name.lower() for name in query}:
            raise AuthenticationError(
                "tokens in the query string are refused (URLs end up in logs); "
                "send the token in the 'Authorization' header"
            )
        backstage = self._backstage_identity(headers)
        bearer = _bearer(headers)
        if bearer is None:
            return backstage
        if self.oidc is None:
            raise AuthenticationError(
                "bearer tokens are not accepted here: no OIDC issuer is configured "
                "(KNFLOW_OIDC_ISSUER); send 'X-Authorization-Backstage' instead"
            )
        return _verify(self.oidc, bearer)

    def admit_delivery(self, headers: Mapping[str, str]) -> Identity | None:
        """Check a CloudEvent delivery's token when Eventing OIDC is required.

        Raises:
            AuthenticationError: the token is missing or not bound to this function's audience.
        """
        if self.eventing is None:
            return None
        token = _bearer(headers)
        if token is None:
            raise AuthenticationError(
                "event deliveries need a Knative Eventing OIDC token "
                "('Authorization: Bearer'); enable the authentication-oidc feature"
            )
        return _verify(self.eventing, token)

    def _backstage_identity(self, headers: Mapping[str, str]) -> Identity | None:
        raw = headers.get(BACKSTAGE_HEADER, "").strip()
        if not raw:
            return None
        if self.backstage is None:
            raise AuthenticationError(
                "Backstage tokens are not accepted here: set KNFLOW_BACKSTAGE_ISSUER "
                "(and KNFLOW_BACKSTAGE_JWKS_URL) to trust the Backstage auth backend"
            )
        token = (
            raw.split(" ", 1)[1].strip() if raw.lower().startswith("bearer ") else raw
        )
        return _verify(self.backstage, token)


def _verify(trust: Trust, token: str) -> Identity:
    from knflow.auth import tokens

    return tokens.verify(trust, token)


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "").strip()
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the 'Authorization' header must be 'Bearer <token>'")
    return token.strip()
