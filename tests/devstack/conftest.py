"""Fixtures for the development broker tests: manifests as dicts, a running broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from knflow.devstack import manifests
from knflow.devstack.broker import DevBroker
from tests.peers import HttpPeer

StartBroker = Callable[..., DevBroker]


def broker_manifest(name: str = "default", **spec: Any) -> dict[str, Any]:
    """A Broker object as it would be written in `eventing/`."""
    return {
        "apiVersion": manifests.EVENTING_API,
        "kind": "Broker",
        "metadata": {"name": name},
        "spec": spec,
    }


def trigger_manifest(
    name: str, *, subscriber: Mapping[str, Any] | None = None, **spec: Any
) -> dict[str, Any]:
    """A Trigger on broker `default` whose subscriber is the Service `peer` by default."""
    target = (
        subscriber
        if subscriber is not None
        else {
            "ref": {
                "apiVersion": manifests.SERVING_API,
                "kind": "Service",
                "name": "peer",
            }
        }
    )
    return {
        "apiVersion": manifests.EVENTING_API,
        "kind": "Trigger",
        "metadata": {"name": name},
        "spec": {"broker": "default", "subscriber": target, **spec},
    }


def ping_manifest(name: str, **spec: Any) -> dict[str, Any]:
    """A PingSource object."""
    return {
        "apiVersion": manifests.SOURCES_API,
        "kind": "PingSource",
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest.fixture
def start_broker(http_peer: HttpPeer) -> Iterator[StartBroker]:
    """Start a broker on a free port for the given manifests; `peer` is the http_peer."""
    started: list[DevBroker] = []

    def start(*documents: Mapping[str, Any], backoff_count_from: int = 0) -> DevBroker:
        routing = manifests.parse_routing(documents)
        broker = DevBroker(
            routing,
            subscribers={"peer": http_peer.url},
            backoff_count_from=backoff_count_from,
        )
        started.append(broker.start())
        return broker

    yield start
    for broker in started:
        broker.stop()
