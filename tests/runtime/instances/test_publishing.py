"""The outbox publisher: a broker outage delays events but loses none, and sends none twice."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from knflow.events import codec, types
from knflow.events.codec import Event
from knflow.runtime.instances import publishing
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import starting
from knflow.store import db, outbox
from tests.conftest import REFERENCE_DATA
from tests.peers import HttpPeer, Reply

HELLO = REFERENCE_DATA / "sonataflow-examples" / "serverless-workflow-hello-world"


def _unsent(services: Services) -> int:
    with services.pool.connection() as conn:
        return outbox.unsent_count(conn)


def test_events_stay_queued_while_the_sink_is_down_then_go_out_once(
    services: Services, register: Callable[[Path], list[str]], http_peer: HttpPeer
) -> None:
    register(HELLO)
    down = dataclasses.replace(
        services,
        settings=dataclasses.replace(services.settings, k_sink="http://127.0.0.1:9/x"),
    )
    starting.start_instance(
        down,
        starting.StartRequest(
            workflow_id="hello_world", data={}, variables={}, headers={}
        ),
    )
    queued = _unsent(services)
    assert queued > 0
    assert publishing.publish_due(down) == 0

    http_peer.route("POST", "/sink", Reply(status=202))
    up = dataclasses.replace(
        services,
        settings=dataclasses.replace(services.settings, k_sink=f"{http_peer.url}/sink"),
        clock=lambda: services.clock() + publishing.LONGEST_RETRY,
    )
    assert publishing.publish_due(up) == queued
    assert publishing.publish_due(up) == 0
    assert _unsent(services) == 0
    ids = [request.headers["ce-id"] for request in http_peer.received("POST", "/sink")]
    assert len(ids) == len(set(ids)) == queued


def test_a_sink_answering_5xx_is_retried_after_its_back_off(
    services: Services, register: Callable[[Path], list[str]], http_peer: HttpPeer
) -> None:
    http_peer.queue("POST", "/sink", Reply(status=503))
    http_peer.route("POST", "/sink", Reply(status=202))
    sink = dataclasses.replace(services.settings, k_sink=f"{http_peer.url}/sink")
    failing = dataclasses.replace(services, settings=sink)
    register(HELLO)
    assert (
        publishing.publish_due(failing) == 0
    )  # the first answer is a 503: nothing sent
    assert publishing.publish_due(failing) == 0  # not yet due again: no new attempt
    assert len(http_peer.received("POST", "/sink")) == 1
    later = dataclasses.replace(
        failing, clock=lambda: services.clock() + publishing.LONGEST_RETRY
    )
    assert publishing.publish_due(later) == 1
    assert _unsent(services) == 0


def _group(instance_id: str, commit: int, *, inner: int = 2) -> Event:
    """A grouped process event of one commit of an instance, with `inner` events."""
    events = [
        {"id": f"{instance_id}-{commit}-{n}", "type": types.PROCESS_INSTANCE_STATE}
        for n in range(inner)
    ]
    return Event(
        id=f"group-{instance_id}-{commit}",
        source="/test",
        type=types.PROCESS_INSTANCE_MULTIPLE,
        data=events,
        extensions={"kogitoprocinstanceid": instance_id, "kogitoprocist": str(commit)},
    )


def test_the_groups_one_instance_committed_go_out_as_one_delivery(
    services: Services, http_peer: HttpPeer
) -> None:
    http_peer.route("POST", "/sink", Reply(status=202))
    sink = dataclasses.replace(
        services,
        settings=dataclasses.replace(services.settings, k_sink=f"{http_peer.url}/sink"),
    )
    groups = [_group("i-1", 1), _group("i-2", 1), _group("i-1", 2), _group("i-1", 3)]
    with db.transaction(services.pool) as conn:
        outgoing = publishing.write_all(
            conn,
            [(group, group.extensions["kogitoprocinstanceid"]) for group in groups],
            now=services.clock(),
        )()

    assert publishing.send(sink, outgoing) == 4

    received = [
        codec.from_http(r.headers, r.body) for r in http_peer.received("POST", "/sink")
    ]
    assert [e.extensions["kogitoprocinstanceid"] for e in received] == ["i-1", "i-2"]
    assert [item["id"] for item in received[0].data] == [
        f"i-1-{commit}-{n}" for commit in (1, 2, 3) for n in (0, 1)
    ]
    assert received[0].extensions["kogitoprocist"] == "3"  # the state after the last
    assert _unsent(services) == 0


def test_a_merged_delivery_the_sink_refuses_leaves_each_of_its_rows_to_the_reconcile(
    services: Services,
) -> None:
    down = dataclasses.replace(
        services,
        settings=dataclasses.replace(services.settings, k_sink="http://127.0.0.1:9/x"),
    )
    groups = [_group("i-1", 1), _group("i-1", 2)]
    with db.transaction(services.pool) as conn:
        outgoing = publishing.write_all(
            conn, [(group, "i-1") for group in groups], now=services.clock()
        )()

    assert publishing.send(down, outgoing) == 0
    assert _unsent(services) == 2
    with services.pool.connection() as conn:
        attempts = conn.execute(
            "SELECT attempts FROM outbox WHERE event_id LIKE 'group-%' ORDER BY id"
        ).fetchall()
    assert attempts == [(1,), (1,)]
