"""The whole stack in production mode: required tokens, Eventing OIDC, tokens that survive waits.

One `knflow dev` stack with `KNFLOW_AUTH_MODE=required` and `KNFLOW_EVENTING_OIDC=required`
(the development broker signs every delivery and checks every publisher). A workflow started
with a Backstage user token and a GitHub token sleeps, then calls a GitHub stand-in that
accepts only that token.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import psycopg
import pytest

from tests import issuer as issuers
from tests.conftest import TEST_DATA
from tests.issuer import TEST_TOKEN_KEY, Issuer, backstage_token
from tests.peers import HttpPeer, Recorded, Reply, started_peer
from tests.stack import DevStack
from tests.waiting import eventually

GITHUB_TOKEN = "ghp_e2e_s3cret"
T = TypeVar("T")


def _github(request: Recorded) -> Reply:
    if request.headers.get("authorization") != f"Bearer {GITHUB_TOKEN}":
        return Reply(status=401, body={"message": "Bad credentials"})
    return Reply(body={"name": "knflow", "private": False})


@dataclass(frozen=True)
class Running:
    """The module's stack, its database, the Backstage issuer and the GitHub stand-in."""

    stack: DevStack
    database_url: str
    backstage: Issuer
    github: HttpPeer


@pytest.fixture(scope="module")
def running(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    with contextlib.ExitStack() as cleanup:
        github = cleanup.enter_context(_generated(started_peer()))
        backstage = cleanup.enter_context(_generated(issuers.backstage()))
        github.route("GET", "/repos/*", _github)
        github.route("POST", "/audit", Reply(body={"ok": True}))
        folder = tmp_path_factory.mktemp("workflows")
        shutil.copy(TEST_DATA / "workflows" / "github-after-sleep.sw.json", folder)
        stack = DevStack.start(
            workflows_dir=folder,
            database_url=module_database_url,
            work_dir=tmp_path_factory.mktemp("stack"),
            env={
                "KNFLOW_AUTH_MODE": "required",
                "KNFLOW_BACKSTAGE_ISSUER": backstage.issuer,
                "KNFLOW_BACKSTAGE_JWKS_URL": backstage.jwks_url,
                "KNFLOW_EVENTING_OIDC": "required",
                "KNFLOW_TOKEN_KEY": TEST_TOKEN_KEY,
                "KNFLOW_FUNCTION_URL_getRepo": github.url,
                "KNFLOW_FUNCTION_URL_audit": github.url,
            },
        )
        cleanup.callback(stack.stop)
        yield Running(
            stack=stack,
            database_url=module_database_url,
            backstage=backstage,
            github=github,
        )


@contextlib.contextmanager
def _generated(fixture: Iterator[T]) -> Iterator[T]:
    """Use a fixture generator (`started_peer`, `issuers.backstage`) as a context manager."""
    value = next(fixture)
    try:
        yield value
    finally:
        next(fixture, None)


def _start(stack: DevStack, backstage: Issuer, github_token: str) -> httpx.Response:
    return httpx.post(
        f"{stack.url('start-workflow')}/githubaftersleep",
        json={"repo": "knflow"},
        headers={
            "X-Authorization-Backstage": backstage_token(backstage),
            "X-Authorization-Github": github_token,
        },
        timeout=30,
    )


def _row(database_url: str, instance_id: str) -> tuple[str, Any, str, int]:
    with psycopg.connect(database_url) as conn:
        status, data, text = conn.execute(
            "SELECT status, data, i::text FROM instances AS i WHERE id = %s",
            (instance_id,),
        ).fetchone()
        kept = conn.execute(
            "SELECT count(*) FROM instance_tokens WHERE instance_id = %s"
            " AND position(%s::bytea IN ciphertext) = 0",
            (instance_id, GITHUB_TOKEN.encode()),
        ).fetchone()[0]
    return str(status), data, str(text), int(kept)


def test_github_token_reaches_the_service_after_a_sleep_and_is_gone_at_the_end(
    running: Running,
) -> None:
    database_url = running.database_url
    answer = _start(running.stack, running.backstage, GITHUB_TOKEN)
    assert answer.status_code == 201, answer.text
    instance_id = answer.json()["id"]
    status, _, text, sealed_rows = _row(database_url, instance_id)
    assert (status, sealed_rows) == ("ACTIVE", 1)  # asleep, its token sealed
    assert GITHUB_TOKEN not in text
    status, data, text, sealed_rows = eventually(
        lambda: _row(database_url, instance_id),
        lambda row: row[0] != "ACTIVE",
        timeout=60,
    )
    assert status == "COMPLETED"
    assert data["repository"] == {"name": "knflow", "private": False}
    assert not any(name.startswith("x-authorization") for name in data["headerNames"])
    assert sealed_rows == 0
    audit = running.github.received("POST", "/audit")[0].headers
    assert "authorization" not in audit
    assert not any(name.startswith("x-authorization") for name in audit)


def test_refused_token_after_a_sleep_is_handled_by_on_errors(
    running: Running,
) -> None:
    answer = _start(running.stack, running.backstage, "ghp_expired")
    instance_id = answer.json()["id"]
    status, data, _, _ = eventually(
        lambda: _row(running.database_url, instance_id),
        lambda row: row[0] != "ACTIVE",
        timeout=60,
    )
    assert (status, data["outcome"]) == ("COMPLETED", "token refused")


def test_start_without_a_token_is_refused_and_reads_stay_open(
    running: Running,
) -> None:
    stack = running.stack
    refused = httpx.post(
        f"{stack.url('start-workflow')}/githubaftersleep", json={}, timeout=30
    )
    assert refused.status_code == 401
    definitions = eventually(
        lambda: httpx.post(
            f"{stack.url('data-index-sink')}/graphql",
            json={"query": "{ ProcessDefinitions { id } }"},
            timeout=30,
        ).json()["data"]["ProcessDefinitions"],
        bool,
        timeout=30,
    )
    assert definitions == [{"id": "githubaftersleep"}]


def test_an_event_without_a_delivery_token_is_refused(running: Running) -> None:
    answer = httpx.post(
        running.stack.url("step-executor"),
        headers={
            "ce-specversion": "1.0",
            "ce-id": "x-1",
            "ce-source": "tests",
            "ce-type": "knflow.step.ready",
        },
        json={},
        timeout=30,
    )
    assert answer.status_code == 401
