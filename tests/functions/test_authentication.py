"""start-workflow in `required` mode: tokens, the policy, the recorded initiator, sealed tokens."""

from __future__ import annotations

import psycopg
import pytest
from flask.testing import FlaskClient

from tests.functions.conftest import GuardedStartWorkflow, backstage_settings
from tests.issuer import Issuer, backstage_token
from tests.peers import HttpPeer, Reply

POLICY = """
default: [read]
rules:
  - workflows: ["greet*", "waiter"]
    principals: ["group:default/greeters", "role:greeter"]
    allow: [execute, retrigger]
"""


@pytest.fixture
def api(
    guarded_start_workflow: GuardedStartWorkflow,
    http_peer: HttpPeer,
    keycloak: Issuer,
    backstage: Issuer,
) -> FlaskClient:
    client = guarded_start_workflow(
        POLICY,
        {
            "KNFLOW_OIDC_ISSUER": keycloak.issuer,
            "KNFLOW_OIDC_AUDIENCE": "knflow",
            **backstage_settings(backstage),
        },
    )
    http_peer.route("POST", "/greet/en", Reply(body={"greeting": "Hi"}))
    return client


def _greeter(backstage: Issuer) -> dict[str, str]:
    token = backstage_token(
        backstage, ent=["user:default/ada", "group:default/greeters"]
    )
    return {"X-Authorization-Backstage": token, "X-Authorization-Github": "ghp_s3cret"}


def test_start_without_a_token_answers_401_with_a_bearer_challenge(
    api: FlaskClient,
) -> None:
    answer = api.post("/greetrest", json={"language": "en"})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith('Bearer realm="knflow"')
    assert "X-Authorization-Backstage" in answer.get_json()["message"]


def test_start_with_an_expired_backstage_token_answers_401(
    api: FlaskClient, backstage: Issuer
) -> None:
    token = backstage_token(backstage, expires_in=-120)
    answer = api.post(
        "/greetrest", json={}, headers={"X-Authorization-Backstage": token}
    )
    assert answer.status_code == 401
    assert "expired" in answer.headers["www-authenticate"]


def test_start_with_a_token_in_the_query_string_answers_401(
    api: FlaskClient, backstage: Issuer
) -> None:
    answer = api.post(f"/greetrest?access_token={backstage_token(backstage)}", json={})
    assert answer.status_code == 401
    assert "query string" in answer.get_json()["message"]


def test_start_by_a_member_of_an_allowed_group_records_the_initiator(
    api: FlaskClient, backstage: Issuer, database_url: str
) -> None:
    answer = api.post(
        "/greetrest",
        json={"workflowdata": {"language": "en"}},
        headers=_greeter(backstage),
    )
    assert answer.status_code == 201
    with psycopg.connect(database_url) as conn:
        found = conn.execute(
            "SELECT initiator, variables->>'initiatorEntity' FROM instances WHERE id = %s",
            (answer.get_json()["id"],),
        ).fetchone()
    assert found == ("user:default/ada", "user:default/ada")


def test_start_keeps_the_initiator_entity_the_body_gives(
    api: FlaskClient, backstage: Issuer, database_url: str
) -> None:
    body = {"workflowdata": {"language": "en"}, "initiatorEntity": "user:default/bob"}
    answer = api.post("/greetrest", json=body, headers=_greeter(backstage))
    with psycopg.connect(database_url) as conn:
        found = conn.execute(
            "SELECT variables->>'initiatorEntity' FROM instances WHERE id = %s",
            (answer.get_json()["id"],),
        ).fetchone()
    assert found == ("user:default/bob",)


def test_start_by_a_caller_the_policy_does_not_name_answers_403(
    api: FlaskClient, backstage: Issuer
) -> None:
    token = backstage_token(backstage, sub="user:default/eve")
    answer = api.post(
        "/greetrest", json={}, headers={"X-Authorization-Backstage": token}
    )
    assert answer.status_code == 403
    assert answer.get_json()["message"] == (
        "'user:default/eve' lacks permission 'execute' on workflow 'greetrest'"
    )


def test_keycloak_role_grants_execute(api: FlaskClient, keycloak: Issuer) -> None:
    token = keycloak.token(sub="f3a1", realm_access={"roles": ["greeter"]})
    answer = api.post(
        "/greetrest",
        json={"language": "en"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201


def test_plugin_token_less_reads_and_abort_still_work(
    api: FlaskClient, backstage: Issuer
) -> None:
    started = api.post("/waiter", json={}, headers=_greeter(backstage))
    assert api.get("/management/processes/waiter").status_code == 200
    aborted = api.delete(
        f"/management/processes/waiter/instances/{started.get_json()['id']}"
    )
    assert aborted.status_code == 200


def test_abort_with_an_invalid_token_answers_401(
    api: FlaskClient, backstage: Issuer
) -> None:
    started = api.post("/waiter", json={}, headers=_greeter(backstage))
    aborted = api.delete(
        f"/management/processes/waiter/instances/{started.get_json()['id']}",
        headers={"X-Authorization-Backstage": "not-a-jwt"},
    )
    assert aborted.status_code == 401


def test_marked_function_receives_the_forwarded_token(
    api: FlaskClient, backstage: Issuer, http_peer: HttpPeer
) -> None:
    api.post("/greetrest", json={"language": "en"}, headers=_greeter(backstage))
    received = http_peer.received("POST", "/greet/en")[0].headers
    assert received["x-authorization-github"] == "ghp_s3cret"
    assert "x-authorization-backstage" not in received


def test_waiting_instance_keeps_its_tokens_sealed_until_it_ends(
    api: FlaskClient, backstage: Issuer, database_url: str
) -> None:
    started = api.post("/waiter", json={}, headers=_greeter(backstage)).get_json()
    with psycopg.connect(database_url) as conn:
        instance = conn.execute(
            "SELECT i::text FROM instances AS i WHERE id = %s", (started["id"],)
        ).fetchone()[0]
        sealed = conn.execute(
            "SELECT ciphertext FROM instance_tokens WHERE instance_id = %s",
            (started["id"],),
        ).fetchone()[0]
    assert "ghp_s3cret" not in instance
    assert b"ghp_s3cret" not in bytes(sealed)
    api.delete(f"/management/processes/waiter/instances/{started['id']}")
    with psycopg.connect(database_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM instance_tokens WHERE instance_id = %s",
            (started["id"],),
        ).fetchone()[0]
    assert left == 0


def test_retrigger_brings_fresh_tokens_to_the_failed_call(
    api: FlaskClient, backstage: Issuer, http_peer: HttpPeer
) -> None:
    http_peer.queue("POST", "/greet/en", Reply(status=500, body={"error": "down"}))
    started = api.post(
        "/greetrest", json={"language": "en"}, headers=_greeter(backstage)
    )
    assert started.status_code == 500
    fresh = {**_greeter(backstage), "X-Authorization-Github": "ghp_fresh"}
    instance_id = started.get_json()["id"]
    retriggered = api.post(
        f"/management/processes/greetrest/instances/{instance_id}/retrigger",
        headers=fresh,
    )
    assert retriggered.status_code == 200
    calls = http_peer.received("POST", "/greet/en")
    assert [c.headers["x-authorization-github"] for c in calls] == [
        "ghp_s3cret",
        "ghp_fresh",
    ]


def test_migrate_needs_the_migrate_permission_and_revisions_need_read(
    api: FlaskClient, backstage: Issuer
) -> None:
    started = api.post("/waiter", json={}, headers=_greeter(backstage)).get_json()
    migrated = api.post(
        f"/management/processes/waiter/instances/{started['id']}/migrate",
        json={},
        headers=_greeter(backstage),
    )
    listed = api.get(
        "/management/processes/waiter/revisions", headers=_greeter(backstage)
    )
    assert migrated.status_code == 403
    assert migrated.get_json()["message"] == (
        "'user:default/ada' lacks permission 'migrate' on workflow 'waiter'"
    )
    assert listed.status_code == 200
