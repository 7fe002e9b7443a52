"""Attempts of a retriggered instance, reruns of an ended one and bulk retriggers, in process."""

from __future__ import annotations

import dataclasses
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from knflow.errors import ConflictError, InputError
from knflow.runtime.job_trigger import reconcile
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import management, registration, reruns, starting
from knflow.runtime.start_workflow.reruns import RetriggerOutcome
from knflow.store import db, index, instances
from knflow.store.instances import InstanceRow
from tests.conftest import TEST_DATA
from tests.issuer import TEST_TOKEN_KEY
from tests.peers import HttpPeer, Reply
from tests.runtime import runs

GITHUB = {"x-authorization-github": "ghp_first"}
STATE_NODE = "CompositeContextNode"


@pytest.fixture
def managed(services: Services, http_peer: HttpPeer, tmp_path: Path) -> Services:
    """Services that seal tokens, whose `greet` function is the peer, greetrest registered."""
    settings = dataclasses.replace(
        services.settings,
        function_urls={"greet": http_peer.url},
        token_keys=(TEST_TOKEN_KEY,),
        bulk_retrigger_rate=1000.0,
    )
    shutil.copy(TEST_DATA / "workflows" / "greet-rest.sw.json", tmp_path)
    with_peer = dataclasses.replace(services, settings=settings)
    registration.register_folder(with_peer, tmp_path)
    return with_peer


def _failing(http_peer: HttpPeer, times: int = 1) -> None:
    """The greet service fails `times` times, then answers."""
    for _ in range(times):
        http_peer.queue("POST", "/greet/en", Reply(status=500, body={}))
    http_peer.route("POST", "/greet/en", Reply(body={"greeting": "Hi"}))


def _start(services: Services, **variables: str) -> str:
    request = starting.StartRequest(
        workflow_id="greetrest",
        data={"language": "en"},
        variables=variables,
        tokens=GITHUB,
    )
    return starting.start_instance(services, request).id


def _row(services: Services, instance_id: str) -> InstanceRow:
    with services.pool.connection() as conn:
        row = instances.get(conn, instance_id)
    assert row is not None
    return row


def test_each_retrigger_numbers_a_new_attempt_in_the_data_index(
    managed: Services, http_peer: HttpPeer
) -> None:
    _failing(http_peer, times=2)
    instance_id = _start(managed)

    management.retrigger(managed, "greetrest", instance_id)
    management.retrigger(managed, "greetrest", instance_id)
    runs.finish(managed, instance_id)

    assert _row(managed, instance_id).variables["attempt"] == 3
    runs.index_outbox(managed)
    with db.transaction(managed.pool) as conn:
        indexed = index.get_instance(conn, instance_id)
        nodes = index.nodes_of(conn, [instance_id])
    assert indexed is not None
    assert indexed.variables["attempt"] == 3
    states = sorted((n for n in nodes if n.type == STATE_NODE), key=lambda n: n.enter)
    assert [(bool(n.retrigger), n.cancel_type) for n in states] == [
        (False, "ERROR"),
        (True, "ERROR"),
        (True, None),
    ]
    assert all(n.exit is not None for n in states)


def test_a_skip_resolves_the_error_without_a_new_attempt(
    managed: Services, http_peer: HttpPeer
) -> None:
    _failing(http_peer)
    instance_id = _start(managed)

    management.skip(managed, "greetrest", instance_id)

    assert "attempt" not in _row(managed, instance_id).variables


def test_a_failed_instance_keeps_its_tokens_for_its_retrigger(
    managed: Services, http_peer: HttpPeer
) -> None:
    _failing(http_peer)
    instance_id = _start(managed)

    management.retrigger(managed, "greetrest", instance_id)
    runs.finish(managed, instance_id)

    calls = http_peer.received("POST", "/greet/en")
    assert [c.headers.get("x-authorization-github") for c in calls] == [
        "ghp_first",
        "ghp_first",
    ]
