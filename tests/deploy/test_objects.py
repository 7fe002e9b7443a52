"""The objects generated for a folder of workflows: one ConfigMap per definition, one
Trigger per consumed event type, all valid for the cluster."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from knflow.deploy import objects
from knflow.errors import InputError
from tests.manifests.schemas import object_problems


@dataclass(frozen=True)
class Source:
    """A loaded definition, as `knflow.workflow.loading` returns it."""

    path: Path | None
    text: str
    document: Mapping[str, Any]
    resources: Mapping[str, Any] = field(default_factory=dict)


def _source(workflow_id: str, *events: tuple[str, str], version: str = "1.0") -> Source:
    document = {
        "id": workflow_id,
        "version": version,
        "events": [
            {"name": f"e{i}", "type": event_type, "kind": kind}
            for i, (event_type, kind) in enumerate(events)
        ],
    }
    return Source(
        Path(f"/defs/{workflow_id}.sw.json"), f"text of {workflow_id}", document
    )


def test_each_definition_becomes_a_labelled_config_map_holding_its_text() -> None:
    [config_map] = objects.cluster_objects([_source("order")], namespace="shop")

    assert config_map["metadata"]["name"] == "workflow-order"
    assert config_map["metadata"]["namespace"] == "shop"
    assert config_map["metadata"]["labels"]["knflow.dev/workflow"] == "order"
    assert config_map["metadata"]["labels"]["knflow.dev/generated"] == "true"
    assert config_map["metadata"]["annotations"]["knflow.dev/workflow-version"] == "1.0"
    assert config_map["data"] == {"order.sw.json": "text of order"}


def test_each_consumed_event_type_gets_one_trigger_to_step_executor() -> None:
    sources = [
        _source(
            "order", ("org.shop.paid", "consumed"), ("org.shop.shipped", "produced")
        ),
        _source("refund", ("org.shop.paid", "consumed")),
    ]

    triggers = objects.consumed_event_triggers(sources, namespace="shop")

    [trigger] = triggers
    assert trigger["spec"]["filter"] == {"attributes": {"type": "org.shop.paid"}}
    assert trigger["spec"]["subscriber"]["ref"]["name"] == "step-executor"
    assert (
        trigger["metadata"]["annotations"]["knflow.dev/consumed-by"] == "order,refund"
    )
    assert trigger["metadata"]["labels"]["knflow.dev/generated"] == "true"


def test_events_without_a_kind_are_consumed() -> None:
    document = {"id": "w", "events": [{"name": "e", "type": "org.x.happened"}]}

    assert objects.consumed_types(document) == ["org.x.happened"]


def test_trigger_names_are_dns_labels_distinct_per_type() -> None:
    long_type = "com.example." + "very-long-segment." * 6 + "Happened"

    names = {objects.trigger_name(t) for t in ("a.b", "A.B", "a-b", long_type)}

    assert len(names) == 4
    assert all(len(name) <= 63 and name == name.lower() for name in names)


def test_generated_objects_pass_the_crd_schemas_and_webhook_rules() -> None:
    sources = [
        _source("order", ("org.shop.paid", "consumed")),
        _source("Mixed_Case.v2"),
    ]

    generated = objects.cluster_objects(sources, namespace="shop", broker="default")

    assert [problem for obj in generated for problem in object_problems(obj)] == []
    assert len(generated) == 3


def test_two_files_with_one_workflow_id_are_refused() -> None:
    twice = [_source("order"), Source(Path("/defs/copy.sw.json"), "", {"id": "order"})]

    with pytest.raises(InputError, match="workflow id 'order' is defined twice"):
        objects.cluster_objects(twice, namespace="shop")


def test_workflow_id_that_cannot_be_a_label_value_is_refused() -> None:
    with pytest.raises(InputError, match="is not a valid label value"):
        objects.cluster_objects([_source("has spaces")], namespace="shop")
