"""start-workflow's management use cases, in process, with the Data Index fed from the outbox."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from knflow.errors import ConflictError, NotFoundError
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import management, registration
from knflow.store import db, index, instances
from knflow.store.index import IndexedNode
from knflow.store.instances import InstanceRow
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


def indexed_nodes(services: Services, instance_id: str) -> list[IndexedNode]:
    """Feed every queued event to the Data Index and return the instance's nodes."""
    runs.index_outbox(services)
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


def _failed_run(managed: Services, http_peer: HttpPeer) -> str:
    """A greetrest instance in ERROR: its service failed once and answers from then on."""
    http_peer.queue("POST", "/greet/en", Reply(status=500, body={}))
    http_peer.route("POST", "/greet/en", Reply(body={"greeting": "Hi"}))
    return runs.start(managed, "greetrest", {"language": "en"})


def _row(services: Services, instance_id: str) -> InstanceRow:
    with services.pool.connection() as conn:
        row = instances.get(conn, instance_id)
    assert row is not None
    return row


def test_triggering_a_state_of_a_failed_instance_resolves_its_error(
    managed: Services, http_peer: HttpPeer
) -> None:
    instance_id = _failed_run(managed, http_peer)

    management.trigger_node(managed, "greetrest", instance_id, "unknownLanguage")

    row = _row(managed, instance_id)
    assert (row.status, row.error_message) == ("COMPLETED", None)
    assert row.data["greeting"] == "unknown language"
    assert len(http_peer.received("POST", "/greet/en")) == 1


def test_retriggering_the_failed_action_calls_the_service_again(
    managed: Services, http_peer: HttpPeer
) -> None:
    instance_id = _failed_run(managed, http_peer)
    [failed] = [
        n for n in indexed_nodes(managed, instance_id) if n.type == "ActionNode"
    ]

    management.retrigger_node(managed, "greetrest", instance_id, failed.id)
    runs.finish(managed, instance_id)

    assert _row(managed, instance_id).status == "COMPLETED"
    assert len(http_peer.received("POST", "/greet/en")) == 2


def test_a_node_of_a_failed_instance_cannot_be_cancelled(
    managed: Services, http_peer: HttpPeer
) -> None:
    instance_id = _failed_run(managed, http_peer)
    node = _row(managed, instance_id).error_node
    assert node is not None

    with pytest.raises(ConflictError, match="is ERROR; this needs ACTIVE"):
        management.cancel_node(managed, "greetrest", instance_id, node)


def test_an_unknown_node_is_refused_and_changes_nothing(
    managed: Services, http_peer: HttpPeer
) -> None:
    instance_id = _failed_run(managed, http_peer)
    before = _row(managed, instance_id)

    with pytest.raises(NotFoundError, match="node 'nope' is not a node"):
        management.trigger_node(managed, "greetrest", instance_id, "nope")

    assert _row(managed, instance_id) == before


def test_a_retrigger_starts_from_the_replaced_data(
    managed: Services, http_peer: HttpPeer
) -> None:
    instance_id = _failed_run(managed, http_peer)
    http_peer.route("POST", "/greet/fr", Reply(body={"greeting": "Salut"}))

    management.update_data(
        managed, "greetrest", instance_id, data={"language": "fr"}, variables={}
    )
    management.retrigger(managed, "greetrest", instance_id)
    runs.finish(managed, instance_id)

    assert _row(managed, instance_id).data == {"language": "fr", "greeting": "Salut"}


def test_the_data_of_an_ended_instance_cannot_be_replaced(
    managed: Services, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/greet/en", Reply(body={"greeting": "Hi"}))
    instance_id = runs.start(managed, "greetrest", {"language": "en"})

    with pytest.raises(NotFoundError, match="is COMPLETED; ended instances"):
        management.update_data(managed, "greetrest", instance_id, data={}, variables={})
