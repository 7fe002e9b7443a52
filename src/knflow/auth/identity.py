"""The identity a validated token proves: who, from which issuer, and the names policies match."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TokenKind(StrEnum):
    """Which trust a token was validated against."""

    OIDC = "oidc"
    """A bearer token of the OIDC issuer (a Keycloak realm)."""
    BACKSTAGE = "backstage"
    """A Backstage user token (`X-Authorization-Backstage`)."""
    EVENTING = "eventing"
    """A Knative Eventing delivery token (a projected service-account token)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """A caller whose token was valid."""

    subject: str
    """`sub`: a Backstage entity ref (`user:default/ada`) or the issuer's user id."""
    kind: TokenKind
    """Which trust accepted the token."""
    principals: frozenset[str]
    """The names a policy rule can grant to: the subject, Backstage ownership refs (`ent`),
    Keycloak roles as `role:<realm role>` and `role:<client>/<client role>`, groups as
    `group:<name>`."""
