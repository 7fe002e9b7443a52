"""Token validation against local OIDC and Backstage issuers: what passes, what is refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import jwt
import pytest

from knflow.auth.gate import Gate
from knflow.auth.identity import TokenKind
from knflow.auth.policy import Permission
from knflow.errors import AuthenticationError
from tests.auth.conftest import SteppedClock
from tests.issuer import Issuer, backstage_token

GateFactory = Callable[..., Gate]


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _admit(gate: Gate, headers: dict[str, str], query: dict[str, str] | None = None):
    return gate.admit(
        headers, query or {}, permission=Permission.EXECUTE, workflow_id="hello"
    )


def test_valid_rs256_bearer_token_names_its_subject_and_roles(
    make_gate: GateFactory, keycloak: Issuer
) -> None:
    token = keycloak.token(sub="f3a1", realm_access={"roles": ["operator"]})
    identity = _admit(make_gate(), _bearer(token))
    assert identity is not None
    assert identity.subject == "f3a1"
    assert identity.kind is TokenKind.OIDC
    assert "role:operator" in identity.principals


def test_valid_es256_backstage_token_names_the_user_and_ownership_refs(
    make_gate: GateFactory, backstage: Issuer
) -> None:
    token = backstage_token(backstage, ent=["user:default/ada", "group:default/team"])
    identity = _admit(make_gate(), {"x-authorization-backstage": token})
    assert identity is not None
    assert identity.subject == "user:default/ada"
    assert identity.principals >= {"user:default/ada", "group:default/team"}


def test_es256_bearer_token_of_a_rotated_in_key_passes(
    make_gate: GateFactory, keycloak: Issuer
) -> None:
    key = keycloak.add_key("ES256")
    assert _admit(make_gate(), _bearer(keycloak.token(key=key))) is not None


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"expires_in": -120}, "expired"),
        ({"not_before": 120}, "not valid yet"),
        ({"issuer": "http://127.0.0.1:1/realms/other"}, "not issued by"),
        ({"audience": "someone-else"}, "not meant for this service"),
    ],
    ids=["expired", "not-yet-valid", "wrong-issuer", "wrong-audience"],
)
def test_token_with_bad_claims_is_refused(
    make_gate: GateFactory, keycloak: Issuer, claims: dict, reason: str
) -> None:
    token = keycloak.token(**claims)
    with pytest.raises(AuthenticationError, match=reason):
        _admit(make_gate(), _bearer(token))


def test_alg_none_is_refused(make_gate: GateFactory, keycloak: Issuer) -> None:
    token = jwt.encode(
        {"iss": keycloak.issuer, "sub": "x", "aud": "knflow", "exp": 4102444800},
        None,
        algorithm="none",
        headers={"kid": keycloak.keys[0].kid},
    )
    with pytest.raises(AuthenticationError, match="algorithm 'none' is not accepted"):
        _admit(make_gate(), _bearer(token))


def test_hs256_signed_with_the_public_key_is_refused(
    make_gate: GateFactory, keycloak: Issuer
) -> None:
    public_pem = keycloak.keys[0].public_pem()
    header = {"alg": "HS256", "kid": keycloak.keys[0].kid, "typ": "JWT"}
    payload = {"iss": keycloak.issuer, "sub": "x", "aud": "knflow", "exp": 4102444800}
    token = _hmac_token(header, payload, public_pem)
    with pytest.raises(AuthenticationError, match="algorithm 'HS256' is not accepted"):
        _admit(make_gate(), _bearer(token))


def test_unknown_kid_is_refused(make_gate: GateFactory, keycloak: Issuer) -> None:
    stranger = Issuer(path="/x", jwks_path="/x/certs")
    try:
        token = stranger.token(issuer=keycloak.issuer)
    finally:
        stranger.close()
    with pytest.raises(AuthenticationError, match="key the issuer does not publish"):
        _admit(make_gate(), _bearer(token))


def test_tampered_payload_is_refused(make_gate: GateFactory, keycloak: Issuer) -> None:
    header, payload, signature = keycloak.token(sub="user:default/ada").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "user:default/admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    token = f"{header}.{forged.decode()}.{signature}"
    with pytest.raises(AuthenticationError, match="signature or claims are invalid"):
        _admit(make_gate(), _bearer(token))


def test_token_in_the_query_string_is_refused(
    make_gate: GateFactory, keycloak: Issuer
) -> None:
    with pytest.raises(AuthenticationError, match="query string"):
        _admit(make_gate(), {}, {"access_token": keycloak.token()})


def test_revoked_key_is_refused_once_the_cached_keys_expire(
    make_gate: GateFactory, keycloak: Issuer, clock: SteppedClock
) -> None:
    old = keycloak.keys[0]
    gate = make_gate(KNFLOW_JWKS_MAX_AGE_SECONDS="300")
    assert _admit(gate, _bearer(keycloak.token(key=old))) is not None
    keycloak.add_key()
    keycloak.revoke(old)
    clock.advance(301)
    with pytest.raises(AuthenticationError, match="key the issuer does not publish"):
        _admit(gate, _bearer(keycloak.token(key=old)))


def test_new_kid_after_rotation_is_fetched_and_accepted(
    make_gate: GateFactory, keycloak: Issuer, clock: SteppedClock
) -> None:
    gate = make_gate(KNFLOW_JWKS_MIN_REFRESH_SECONDS="30")
    assert _admit(gate, _bearer(keycloak.token())) is not None
    new = keycloak.add_key()
    clock.advance(31)
    assert _admit(gate, _bearer(keycloak.token(key=new))) is not None
    assert keycloak.jwks_fetches == 2


def test_unknown_kids_refetch_the_keys_at_most_once_per_interval(
    make_gate: GateFactory, keycloak: Issuer, clock: SteppedClock
) -> None:
    gate = make_gate(KNFLOW_JWKS_MIN_REFRESH_SECONDS="30")
    _admit(gate, _bearer(keycloak.token()))
    clock.advance(31)
    for attempt in range(5):
        forged = keycloak.token(kid=f"made-up-{attempt}")
        with pytest.raises(AuthenticationError, match="does not publish"):
            _admit(gate, _bearer(forged))
    assert keycloak.jwks_fetches == 2


def test_request_without_a_token_is_refused_on_a_write_path(
    make_gate: GateFactory,
) -> None:
    with pytest.raises(AuthenticationError, match="needs a token"):
        _admit(make_gate(), {})


def test_request_without_a_token_is_admitted_for_anonymous_reads(
    make_gate: GateFactory,
) -> None:
    gate = make_gate()
    assert gate.admit({}, {}, permission=Permission.READ, workflow_id="*") is None


def test_invalid_token_is_refused_even_where_none_is_needed(
    make_gate: GateFactory, keycloak: Issuer
) -> None:
    gate = make_gate()
    with pytest.raises(AuthenticationError, match="expired"):
        gate.admit(
            _bearer(keycloak.token(expires_in=-120)),
            {},
            permission=Permission.READ,
            workflow_id="*",
        )


def test_backstage_token_signed_by_the_oidc_issuer_is_refused(
    make_gate: GateFactory, keycloak: Issuer
) -> None:
    token = keycloak.token(audience="backstage")
    with pytest.raises(AuthenticationError):
        _admit(make_gate(), {"x-authorization-backstage": token})


def _hmac_token(header: dict, payload: dict, secret: bytes) -> str:
    import hashlib
    import hmac

    def part(value: dict) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{part(header)}.{part(payload)}"
    digest = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"
