"""`Issuer`: a local OIDC issuer stand-in that mints tokens, and a Backstage-shaped one.

A real HTTP server publishes `/.well-known/openid-configuration` (OIDC) and the JWKS, at the
path a Keycloak realm (`/protocol/openid-connect/certs`) or the Backstage auth backend
(`/api/auth/.well-known/jwks.json`) uses. Keys rotate on demand; every fetch is counted.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

TEST_TOKEN_KEY = base64.b64encode(bytes(range(32))).decode()
"""A fixed sealing key for tests (KNFLOW_TOKEN_KEY)."""


class SigningKey:
    """One key pair of the issuer."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.kid = uuid.uuid4().hex[:12]
        if algorithm.startswith("RS"):
            self.private = rsa.generate_private_key(
                public_exponent=65537, key_size=2048
            )
            public = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            public = json.loads(ECAlgorithm.to_jwk(self.private.public_key()))
        self.jwk: dict[str, Any] = {
            **public,
            "kid": self.kid,
            "alg": algorithm,
            "use": "sig",
        }

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class Issuer:
    """A token issuer on 127.0.0.1 with a JWKS and (for OIDC) discovery."""

    def __init__(self, *, path: str, jwks_path: str, algorithm: str = "RS256") -> None:
        self.path = path
        self.jwks_path = jwks_path
        self.keys = [SigningKey(algorithm)]
        self.jwks_fetches = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def issuer(self) -> str:
        return f"{self.base}{self.path}"

    @property
    def jwks_url(self) -> str:
        return f"{self.base}{self.jwks_path}"

    def add_key(self, algorithm: str = "RS256") -> SigningKey:
        key = SigningKey(algorithm)
        with self._lock:
            self.keys.append(key)
        return key

    def revoke(self, key: SigningKey) -> None:
        with self._lock:
            self.keys.remove(key)

    def token(
        self,
        *,
        sub: str = "user:default/ada",
        audience: str | list[str] = "knflow",
        key: SigningKey | None = None,
        expires_in: float = 300,
        not_before: float | None = None,
        issuer: str | None = None,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        key = key or self.keys[0]
        now = time.time()
        payload = {
            "iss": issuer or self.issuer,
            "sub": sub,
            "aud": audience,
            "iat": int(now),
            "exp": int(now + expires_in),
            **claims,
        }
        if not_before is not None:
            payload["nbf"] = int(now + not_before)
        return jwt.encode(
            payload,
            key.private,
            algorithm=key.algorithm,
            headers={"kid": kid or key.kid},
        )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == f"{issuer.path}/.well-known/openid-configuration":
                    self._json({"issuer": issuer.issuer, "jwks_uri": issuer.jwks_url})
                elif self.path == issuer.jwks_path:
                    with issuer._lock:
                        issuer.jwks_fetches += 1
                        keys = [key.jwk for key in issuer.keys]
                    self._json({"keys": keys})
                else:
                    self.send_response(404)
                    self.end_headers()

            def _json(self, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def keycloak() -> Iterator[Issuer]:
    """A Keycloak-realm-shaped OIDC issuer (RS256 keys)."""
    issuer = Issuer(
        path="/realms/knflow",
        jwks_path="/realms/knflow/protocol/openid-connect/certs",
    )
    yield issuer
    issuer.close()


def backstage() -> Iterator[Issuer]:
    """A Backstage auth backend (ES256 keys, JWKS at `/api/auth/.well-known/jwks.json`)."""
    issuer = Issuer(
        path="/api/auth",
        jwks_path="/api/auth/.well-known/jwks.json",
        algorithm="ES256",
    )
    yield issuer
    issuer.close()


def backstage_token(
    issuer: Issuer,
    *,
    sub: str = "user:default/ada",
    ent: list[str] | None = None,
    **claims: Any,
) -> str:
    """A Backstage user token: `aud: backstage`, `typ` and `ent` as the auth backend issues."""
    return issuer.token(
        sub=sub,
        audience="backstage",
        ent=ent if ent is not None else [sub],
        typ="vnd.backstage.user",
        **claims,
    )
