"""start-workflow's management use cases, in process, with the Data Index fed from the outbox."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from knflow.events import codec
from knflow.runtime.data_index import ingest
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import management, registration
from knflow.store import db, index
from knflow.store.index import NodeRow
from tests.conftest import TEST_DATA
from tests.peers import HttpPeer, Reply
from tests.runtime import runs

STATE_NODE = "CompositeContextNode"


@pytest.fixture
def managed(services: Services, http_peer: HttpPeer, tmp_path: Path) -> Services:
    """Services whose `greet` function is the peer, with greetrest registered."""
    settings = dataclasses.replace(
        services.settings, function_urls={"greet": http_peer.url}
    )
    shutil.copy(TEST_DATA / "workflows" / "greet-rest.sw.json", tmp_path)
    with_peer = dataclasses.replace(services, settings=settings)
    registration.register_folder(with_peer, tmp_path)
    return with_peer


def indexed_nodes(services: Services, instance_id: str) -> list[NodeRow]:
    """Feed every queued event to the Data Index and return the instance's nodes."""
    with services.pool.connection() as conn:
        raw = conn.execute("SELECT event FROM outbox ORDER BY id").fetchall()
    for (event,) in raw:
        ingest.handle_event(services, codec.from_dict(event))
    with db.transaction(services.pool) as conn:
        return index.nodes_of(conn, [instance_id])


def test_a_retrigger_closes_the_failed_attempts_nodes_and_keeps_them_listed(
    managed: Services, http_peer: HttpPeer
) -> None:
    http_peer.queue("POST", "/greet/en", Reply(status=500, body={}))
    http_peer.route("POST", "/greet/en", Reply(body={"greeting": "Hi"}))
    instance_id = runs.start(managed, "greetrest", {"language": "en"})

    management.retrigger(managed, "greetrest", instance_id)
    runs.finish(managed, instance_id)

    nodes = indexed_nodes(managed, instance_id)
    assert [n.name for n in nodes] == ["greet"] * 4  # two attempts: state and action
    assert [n for n in nodes if n.exit is None] == []
    [failed] = [n for n in nodes if n.error_message]
    assert failed.type == STATE_NODE
    states = [n for n in nodes if n.type == STATE_NODE]
    assert [bool(n.retrigger) for n in states] == [False, True]
