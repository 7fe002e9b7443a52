"""The outbox publisher: a broker outage delays events but loses none, and sends none twice."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from knflow.runtime.instances import publishing
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import starting
from knflow.store import outbox
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
