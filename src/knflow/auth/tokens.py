"""Validating one JWT against one trust: allow-listed algorithm, signature, `iss`, `aud`, time.

PyJWT does the cryptography. This module adds what it leaves to its caller: the algorithm
allow-list (asymmetric algorithms only, so neither `none` nor an HMAC keyed with a public key
can pass), the key chosen by `kid` from the issuer's own JWKS, and the mapping of claims to an
`Identity`. Messages say why a token was refused and never repeat it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import jwt

from knflow.auth.identity import Identity, TokenKind
from knflow.auth.keys import KeySet
from knflow.errors import AuthenticationError

ALGORITHMS: Final = frozenset(
    {
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES256",
        "ES384",
        "ES512",
        "EdDSA",
    }
)
"""The signature algorithms accepted: asymmetric only (never `none`, never HS*)."""
MAX_TOKEN_CHARS: Final = 32_768
"""Backstage's own cap on the user tokens it issues."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Trust:
    """An issuer whose tokens are accepted, and what its tokens must say."""

    kind: TokenKind
    """Which trust this is (names the identity it yields)."""
    issuer: str
    """The exact `iss`."""
    audiences: tuple[str, ...]
    """Accepted `aud` values; a token must carry one of them."""
    keys: KeySet
    """The issuer's signing keys."""
    leeway: timedelta
    """Clock skew allowed on `exp`, `nbf` and `iat`."""


def verify(trust: Trust, token: str) -> Identity:
    """Validate `token` against `trust` and return who it names.

    Raises:
        AuthenticationError: the token is malformed, signed with a refused algorithm or an
            unknown key, has a bad signature, another issuer or audience, or is not valid now.
        UnavailableError: the issuer's keys could not be fetched.
    """
    claims = _claims(trust, token)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthenticationError("the token names no subject ('sub')")
    return Identity(
        subject=subject,
        kind=trust.kind,
        principals=frozenset({subject, *principals_of(claims)}),
    )


def principals_of(claims: Mapping[str, Any]) -> set[str]:
    """The names a policy can grant to, besides `sub`: `ent` refs, Keycloak roles, groups."""
    names = {str(ref) for ref in _strings(claims.get("ent"))}
    realm = claims.get("realm_access")
    if isinstance(realm, Mapping):
        names.update(f"role:{role}" for role in _strings(realm.get("roles")))
    clients = claims.get("resource_access")
    if isinstance(clients, Mapping):
        for client, access in clients.items():
            if isinstance(access, Mapping):
                roles = _strings(access.get("roles"))
                names.update(f"role:{client}/{role}" for role in roles)
    names.update(
        f"group:{group.lstrip('/')}" for group in _strings(claims.get("groups"))
    )
    return names


def _claims(trust: Trust, token: str) -> dict[str, Any]:
    if len(token) > MAX_TOKEN_CHARS:
        raise AuthenticationError("the token is longer than 32768 characters")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise AuthenticationError("the token is not a well-formed JWT") from error
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise AuthenticationError(
            f"the token's algorithm {str(algorithm)[:20]!r} is not accepted; "
            f"use one of {', '.join(sorted(ALGORITHMS))}"
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise AuthenticationError("the token names no signing key ('kid')")
    key = trust.keys.key(kid)
    try:
        return jwt.decode(
            token,
            key=key,
            algorithms=[str(algorithm)],
            audience=list(trust.audiences) or None,
            issuer=trust.issuer,
            leeway=trust.leeway,
            options={
                "require": ["exp", "iss", "sub"],
                "verify_aud": bool(trust.audiences),
            },
        )
    except jwt.ExpiredSignatureError as error:
        raise AuthenticationError("the token has expired") from error
    except jwt.ImmatureSignatureError as error:
        raise AuthenticationError("the token is not valid yet ('nbf')") from error
    except jwt.InvalidIssuerError as error:
        raise AuthenticationError(
            f"the token was not issued by {trust.issuer}"
        ) from error
    except jwt.InvalidAudienceError as error:
        raise AuthenticationError(
            f"the token is not meant for this service; its 'aud' must be one of "
            f"{', '.join(trust.audiences)}"
        ) from error
    except jwt.MissingRequiredClaimError as error:
        raise AuthenticationError(
            f"the token lacks the '{error.claim}' claim"
        ) from error
    except jwt.PyJWTError as error:
        raise AuthenticationError(
            "the token's signature or claims are invalid"
        ) from error


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []
