"""Every manifest in eventing/ and knative/ passes the CRD schemas and webhook rules.

The objects also agree with each other, with the functions and with the event contract.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from knflow.deploy import documents
from knflow.devstack import manifests as dev_manifests
from knflow.events import types
from tests.conftest import ROOT
from tests.manifests import kustomize
from tests.manifests.schemas import file_problems, object_problems

EVENTING = ROOT / "eventing"
KNATIVE = ROOT / "knative"
KAFKA = EVENTING / "kafka"
PATCHES = kustomize.patch_files(KAFKA)
MANIFEST_FILES = sorted(
    path
    for path in [*EVENTING.rglob("*.yaml"), *KNATIVE.rglob("*.yaml")]
    if path.resolve() not in PATCHES
)
FUNCTION_NAMES = sorted(p.name for p in (ROOT / "functions").iterdir() if p.is_dir())


def _objects(folder: Path) -> list[dict[str, Any]]:
    return [
        obj
        for path in sorted(folder.glob("*.yaml"))
        for obj in documents.read(path)
        if obj.get("kind") != "Kustomization"
    ]


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [obj for obj in _objects(EVENTING) if obj["kind"] == kind]


@pytest.mark.parametrize(
    "path", MANIFEST_FILES, ids=[str(p.relative_to(ROOT)) for p in MANIFEST_FILES]
)
def test_manifest_passes_the_crd_schemas_and_webhook_rules(path: Path) -> None:
    assert file_problems(path) == []


def test_kafka_variant_builds_into_valid_objects() -> None:
    built = kustomize.build(KAFKA)

    problems = [problem for obj in built for problem in object_problems(obj)]

    assert problems == []


def test_kafka_variant_makes_every_broker_a_kafka_broker() -> None:
    brokers = [obj for obj in kustomize.build(KAFKA) if obj["kind"] == "Broker"]

    classes = {
        b["metadata"]["annotations"]["eventing.knative.dev/broker.class"]
        for b in brokers
    }

    assert len(brokers) == len(_of_kind("Broker"))
    assert classes == {"Kafka"}
    assert {b["spec"]["config"]["name"] for b in brokers} == {"kafka-broker-config"}


def test_kafka_variant_orders_step_job_data_index_and_definition_deliveries() -> None:
    triggers = [obj for obj in kustomize.build(KAFKA) if obj["kind"] == "Trigger"]

    ordered = {
        t["metadata"]["labels"]["app.kubernetes.io/component"]
        for t in triggers
        if (t["metadata"].get("annotations") or {}).get(
            "kafka.eventing.knative.dev/delivery.order"
        )
        == "ordered"
    }

    assert ordered == {
        "step-executor",
        "job-trigger",
        "data-index-sink",
        "start-workflow",
    }


@pytest.mark.parametrize(
    "folder", [EVENTING, KNATIVE, KAFKA], ids=["eventing", "knative", "kafka"]
)
def test_kustomization_lists_every_manifest_of_its_folder(folder: Path) -> None:
    base = EVENTING if folder == KAFKA else folder
    listed = kustomize.resource_files(folder)

    missing = [
        path.name
        for path in sorted(base.glob("*.yaml"))
        if path.name != "kustomization.yaml" and path.resolve() not in listed
    ]

    assert missing == []


def test_kustomizations_name_only_existing_files() -> None:
    named = [
        *kustomize.resource_files(EVENTING),
        *kustomize.resource_files(KNATIVE),
        *kustomize.resource_files(KAFKA),
        *PATCHES,
    ]

    assert [path for path in named if not path.is_file()] == []


@pytest.mark.parametrize(
    "path", MANIFEST_FILES, ids=[str(p.relative_to(ROOT)) for p in MANIFEST_FILES]
)
def test_manifest_file_holds_one_labelled_resource_named_after_it(path: Path) -> None:
    [obj] = documents.read(path)
    if obj["kind"] == "Kustomization":
        return

    labels = obj["metadata"].get("labels", {})

    assert path.name == f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
    assert labels.get("app.kubernetes.io/part-of") == "knflow"


def test_every_trigger_routes_to_an_existing_function() -> None:
    subscribers = {t["spec"]["subscriber"]["ref"]["name"] for t in _of_kind("Trigger")}

    assert subscribers <= set(FUNCTION_NAMES)
    assert {t["spec"]["subscriber"]["ref"]["kind"] for t in _of_kind("Trigger")} == {
        "Service"
    }


def test_every_trigger_and_sink_names_a_broker_that_exists() -> None:
    brokers = {b["metadata"]["name"] for b in _of_kind("Broker")}
    named = {t["spec"]["broker"] for t in _of_kind("Trigger")}
    named |= {ref["name"] for ref in _refs_of_kind("Broker")}

    assert named <= brokers


def test_every_filtered_event_type_is_known_to_knflow() -> None:
    known = _known_types()
    filtered = {
        t["metadata"]["name"]: list(_filtered_types(t["spec"]))
        for t in _of_kind("Trigger")
    }

    unknown = {
        name: [t for t in found if not _is_known(t, known)]
        for name, found in filtered.items()
        if any(not _is_known(t, known) for t in found)
    }

    assert unknown == {}
    assert all(filtered.values())


def test_every_function_gets_k_sink_from_a_sink_binding() -> None:
    bound = {s["spec"]["subject"]["name"] for s in _of_kind("SinkBinding")}

    assert bound == set(FUNCTION_NAMES)


def test_api_server_source_runs_as_a_service_account_allowed_to_watch_config_maps() -> (
    None
):
    [source] = _of_kind("ApiServerSource")
    account = source["spec"]["serviceAccountName"]
    [binding] = _of_kind("RoleBinding")
    [role] = [
        r
        for r in _of_kind("Role")
        if r["metadata"]["name"] == binding["roleRef"]["name"]
    ]

    verbs = {
        v
        for rule in role["rules"]
        if "configmaps" in rule["resources"]
        for v in rule["verbs"]
    }

    assert account in {a["metadata"]["name"] for a in _of_kind("ServiceAccount")}
    assert {"kind": "ServiceAccount", "name": account} in binding["subjects"]
    assert {"get", "list", "watch"} <= verbs
    assert source["spec"]["resources"][0]["kind"] == "ConfigMap"


def test_development_broker_reads_every_trigger_of_the_manifests() -> None:
    routing = dev_manifests.parse_routing(dev_manifests.read_folder(EVENTING))

    assert {t.name for t in routing.triggers} == {
        t["metadata"]["name"] for t in _of_kind("Trigger")
    }


def _known_types() -> set[str]:
    constants = {
        value
        for name, value in vars(types).items()
        if name.isupper() and isinstance(value, str)
    }
    return constants | _workflow_consumed_types()


def _workflow_consumed_types() -> set[str]:
    from knflow.deploy.objects import consumed_types

    consumed: set[str] = set()
    for path in sorted((ROOT / "workflows").glob("*.sw.*")):
        for document in documents.read(path):
            consumed.update(consumed_types(document))
    return consumed


def _is_known(event_type: tuple[str, str], known: set[str]) -> bool:
    dialect, value = event_type
    if dialect == "prefix":
        return any(k.startswith(value) for k in known)
    if dialect == "suffix":
        return any(k.endswith(value) for k in known)
    return value in known


def _filtered_types(spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    attributes = (spec.get("filter") or {}).get("attributes") or {}
    if "type" in attributes:
        yield ("exact", attributes["type"])
    for entry in spec.get("filters") or []:
        yield from _dialect_types(entry)


def _dialect_types(entry: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for dialect, value in entry.items():
        if dialect in ("exact", "prefix", "suffix") and "type" in value:
            yield (dialect, value["type"])
        elif dialect in ("all", "any"):
            for nested in value:
                yield from _dialect_types(nested)


def _refs_of_kind(kind: str) -> Iterator[Mapping[str, Any]]:
    for obj in _objects(EVENTING):
        spec = obj.get("spec") or {}
        destinations = [
            spec.get("sink"),
            (spec.get("delivery") or {}).get("deadLetterSink"),
        ]
        for destination in destinations:
            ref = (destination or {}).get("ref") or {}
            if ref.get("kind") == kind:
                yield ref
