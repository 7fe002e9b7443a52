"""A development token issuer standing in for the cluster's service-account issuer.

Under Knative Eventing's OIDC mode, the broker sends each delivery with a token for the
subscriber's audience, and each source or publisher sends the broker its projected
service-account token. `knflow dev` plays the cluster: this issuer signs those tokens with a
fresh ES256 key and publishes discovery and JWKS documents, so the functions validate them
through the same path as on a cluster.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ALGORITHM: Final = "ES256"
DISCOVERY_PATH: Final = "/.well-known/openid-configuration"
JWKS_PATH: Final = "/openid/v1/jwks"


class DevIssuer:
    """An in-process issuer at `issuer` (a URL whose server serves `documents`)."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer.rstrip("/")
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._kid = uuid.uuid4().hex[:16]

    def documents(self) -> dict[str, dict[str, Any]]:
        """The discovery and JWKS documents by path under the issuer URL."""
        public = json.loads(ECAlgorithm.to_jwk(self._key.public_key()))
        return {
            DISCOVERY_PATH: {
                "issuer": self.issuer,
                "jwks_uri": f"{self.issuer}{JWKS_PATH}",
                "id_token_signing_alg_values_supported": [ALGORITHM],
            },
            JWKS_PATH: {
                "keys": [{**public, "kid": self._kid, "alg": ALGORITHM, "use": "sig"}]
            },
        }

    def mint(self, audience: str, *, subject: str, lifetime_seconds: int = 3600) -> str:
        """Sign a token for `audience` naming `subject` (a service account)."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": [audience],
            "iat": now,
            "nbf": now,
            "exp": now + lifetime_seconds,
        }
        return jwt.encode(
            claims, self._key, algorithm=ALGORITHM, headers={"kid": self._kid}
        )

    def accepts(self, token: str, audience: str) -> bool:
        """Whether `token` is one of ours, valid now, for `audience`."""
        try:
            jwt.decode(
                token,
                self._key.public_key(),
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError:
            return False
        return True
