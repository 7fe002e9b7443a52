"""Applying a plan through the real `kubernetes` client, against a local HTTP server that
answers as the Kubernetes API would (the cluster is the process edge)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes.client
import pytest

from knflow.deploy.cluster import Cluster
from knflow.deploy.plan import plan_changes
from knflow.errors import InputError
from tests.peers import HttpPeer, Recorded, Reply

MAPS = "/api/v1/namespaces/shop/configmaps"
TRIGGERS = "/apis/eventing.knative.dev/v1/namespaces/shop/triggers"
KAFKA_SOURCES = "/apis/sources.knative.dev/v1beta1/namespaces/shop/kafkasources"
GENERATED = {"knflow.dev/generated": "true"}


def _object(kind: str, name: str, **fields: Any) -> dict[str, Any]:
    api = "v1" if kind == "ConfigMap" else "eventing.knative.dev/v1"
    metadata = {"name": name, "namespace": "shop", "labels": GENERATED}
    return {"apiVersion": api, "kind": kind, "metadata": metadata, **fields}


def _served(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = {**obj["metadata"], "resourceVersion": "41"}
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")} | {
        "metadata": metadata
    }


def _echo(recorded: Recorded) -> Reply:
    return Reply(status=201 if recorded.method == "POST" else 200, body=recorded.json())


@pytest.fixture
def cluster(http_peer: HttpPeer) -> Iterator[Cluster]:
    configuration = kubernetes.client.Configuration(host=http_peer.url)
    with kubernetes.client.ApiClient(configuration) as api_client:
        yield Cluster(api_client, "shop")


def _serve(
    peer: HttpPeer, maps: list[dict[str, Any]], triggers: list[dict[str, Any]]
) -> None:
    peer.route("GET", MAPS, Reply(body={"kind": "ConfigMapList", "items": maps}))
    peer.route("GET", TRIGGERS, Reply(body={"kind": "TriggerList", "items": triggers}))
    for path in (MAPS, TRIGGERS):
        peer.route("POST", path, _echo)
        peer.route("PUT", f"{path}/*", _echo)
        peer.route(
            "DELETE", f"{path}/*", Reply(body={"kind": "Status", "status": "Success"})
        )


def test_generated_objects_are_listed_by_label(
    http_peer: HttpPeer, cluster: Cluster
) -> None:
    stale = _object("ConfigMap", "workflow-old", data={"old.sw.json": "{}"})
    _serve(http_peer, [_served(stale)], [])

    listed = cluster.list_generated()

    assert [(o["kind"], o["metadata"]["name"]) for o in listed] == [
        ("ConfigMap", "workflow-old")
    ]
    selectors = [
        parse_qs(urlsplit(request.path).query)["labelSelector"]
        for request in http_peer.received("GET")
    ]
    assert selectors == [["knflow.dev/generated=true"]] * 3  # maps, triggers, sources


def test_kafka_sources_are_listed_and_none_exist_without_their_crd(
    http_peer: HttpPeer, cluster: Cluster
) -> None:
    _serve(http_peer, [], [])
    assert cluster.list_generated() == []  # the peer answers 404 for kafkasources
    source = _object("KafkaSource", "kafka-start-x", spec={"topics": ["x"]})
    source["apiVersion"] = "sources.knative.dev/v1beta1"
    http_peer.route("GET", KAFKA_SOURCES, Reply(body={"items": [_served(source)]}))

    listed = cluster.list_generated()

    assert [(o["apiVersion"], o["kind"]) for o in listed] == [
        ("sources.knative.dev/v1beta1", "KafkaSource")
    ]


def test_plan_creates_replaces_with_resource_version_and_deletes(
    http_peer: HttpPeer, cluster: Cluster
) -> None:
    stale = _object("ConfigMap", "workflow-old", data={"old.sw.json": "{}"})
    trigger = _object("Trigger", "t1", spec={"broker": "default"})
    _serve(http_peer, [_served(stale)], [_served(trigger)])
    wanted = [
        _object("ConfigMap", "workflow-new", data={"new.sw.json": "{}"}),
        _object("Trigger", "t1", spec={"broker": "other"}),
    ]
    existing = cluster.list_generated()

    cluster.apply(plan_changes(wanted, existing), existing)

    [created] = http_peer.received("POST", MAPS)
    [replaced] = http_peer.received("PUT", f"{TRIGGERS}/t1")
    assert created.json()["metadata"]["name"] == "workflow-new"
    assert replaced.json()["spec"] == {"broker": "other"}
    assert replaced.json()["metadata"]["resourceVersion"] == "41"
    assert len(http_peer.received("DELETE", f"{MAPS}/workflow-old")) == 1


def test_refusal_by_the_api_names_the_object(
    http_peer: HttpPeer, cluster: Cluster
) -> None:
    http_peer.route("POST", MAPS, Reply(status=403, body={"message": "forbidden here"}))
    wanted = [_object("ConfigMap", "workflow-new", data={})]

    with pytest.raises(
        InputError, match="create ConfigMap/workflow-new: 403 forbidden here"
    ):
        cluster.apply(plan_changes(wanted, []), [])
