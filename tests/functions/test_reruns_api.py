"""start-workflow's rerun and bulk retrigger routes in `required` mode: permissions, answers."""

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
    principals: ["group:default/greeters"]
    allow: [execute]
  - workflows: ["greet*"]
    principals: ["group:default/operators"]
    allow: [retrigger]
"""
BULK = "/management/processes/greetrest/instances/retrigger"


@pytest.fixture
def api(guarded_start_workflow: GuardedStartWorkflow, backstage: Issuer) -> FlaskClient:
    return guarded_start_workflow(POLICY, backstage_settings(backstage))


def _as(backstage: Issuer, user: str, group: str) -> dict[str, str]:
    token = backstage_token(backstage, sub=user, ent=[user, group])
    return {"X-Authorization-Backstage": token}


def _failed(api: FlaskClient, backstage: Issuer, http_peer: HttpPeer) -> str:
    """A greetrest instance ada started with her GitHub token; its call failed once."""
    http_peer.queue("POST", "/greet/en", Reply(status=500, body={"error": "down"}))
    http_peer.route("POST", "/greet/en", Reply(body={"greeting": "Hi"}))
    headers = {
        **_as(backstage, "user:default/ada", "group:default/greeters"),
        "X-Authorization-Github": "ghp_ada",
    }
    started = api.post("/greetrest", json={"language": "en"}, headers=headers)
    assert started.status_code == 500
    return str(started.get_json()["id"])


def test_a_rerun_answers_like_a_start_and_names_the_original(
    api: FlaskClient, backstage: Issuer, http_peer: HttpPeer
) -> None:
    failed_id = _failed(api, backstage, http_peer)

    answer = api.post(
        f"/management/processes/greetrest/instances/{failed_id}/rerun",
        headers=_as(backstage, "user:default/ada", "group:default/greeters"),
    )

    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["rerunOf"] == failed_id
    assert body["workflowdata"] == {"language": "en", "greeting": "Hi"}
    assert answer.headers["location"] == f"/greetrest/{body['id']}"
    last = http_peer.received("POST", "/greet/en")[-1]
    assert last.headers["x-authorization-github"] == "ghp_ada"


def test_a_rerun_by_someone_else_runs_without_the_originals_tokens(
    api: FlaskClient, backstage: Issuer, http_peer: HttpPeer, database_url: str
) -> None:
    failed_id = _failed(api, backstage, http_peer)

    answer = api.post(
        f"/management/processes/greetrest/instances/{failed_id}/rerun",
        headers=_as(backstage, "user:default/bob", "group:default/greeters"),
    )

    assert answer.status_code == 201, answer.get_json()
    last = http_peer.received("POST", "/greet/en")[-1]
    assert "x-authorization-github" not in last.headers
    with psycopg.connect(database_url) as conn:
        found = conn.execute(
            "SELECT initiator, variables->>'initiatorEntity' FROM instances"
            " WHERE id = %s",
            (answer.get_json()["id"],),
        ).fetchone()
    assert found == ("user:default/bob", "user:default/bob")


def test_a_rerun_of_a_waiting_instance_answers_409(
    api: FlaskClient, backstage: Issuer
) -> None:
    greeter = _as(backstage, "user:default/ada", "group:default/greeters")
    waiting = api.post("/waiter", json={}, headers=greeter).get_json()["id"]

    answer = api.post(
        f"/management/processes/waiter/instances/{waiting}/rerun", headers=greeter
    )

    assert answer.status_code == 409
    assert "is ACTIVE; only an instance that ended" in answer.get_json()["message"]


def test_a_bulk_retrigger_needs_the_retrigger_permission(
    api: FlaskClient, backstage: Issuer, http_peer: HttpPeer
) -> None:
    _failed(api, backstage, http_peer)
    greeter = _as(backstage, "user:default/ada", "group:default/greeters")

    answer = api.post(BULK, json={}, headers=greeter)

    assert answer.status_code == 403
    assert "lacks permission 'retrigger'" in answer.get_json()["message"]


def test_an_operator_retriggers_the_failed_instances_with_their_own_tokens(
    api: FlaskClient, backstage: Issuer, http_peer: HttpPeer
) -> None:
    failed_id = _failed(api, backstage, http_peer)
    operator = _as(backstage, "user:default/ops", "group:default/operators")

    answer = api.post(BULK, json={"limit": 5}, headers=operator)

    assert answer.status_code == 200, answer.get_json()
    report = answer.get_json()
    assert report["remaining"] == 0
    assert report["instances"] == [
        {
            "id": failed_id,
            "outcome": "RETRIGGERED",
            "state": "COMPLETED",
            "attempt": 2,
            "message": None,
        }
    ]
    last = http_peer.received("POST", "/greet/en")[-1]
    assert last.headers["x-authorization-github"] == "ghp_ada"


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (BULK, {"failedAfter": "soon"}, 400, "'failedAfter' must be an ISO 8601"),
        (BULK, {"limit": -1}, 400, "'limit' must be a positive whole number"),
        ("/management/processes/greetnone/instances/retrigger", {}, 404, "greetnone"),
    ],
    ids=["bad-date", "bad-limit", "unknown-workflow"],
)
def test_a_bad_bulk_retrigger_is_refused_naming_why(
    api: FlaskClient,
    backstage: Issuer,
    path: str,
    body: object,
    status: int,
    message: str,
) -> None:
    operator = _as(backstage, "user:default/ops", "group:default/operators")

    answer = api.post(path, json=body, headers=operator)

    assert answer.status_code == status
    assert message in answer.get_json()["message"]
