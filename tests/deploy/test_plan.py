"""Planning a deployment: create what is missing, update what differs, delete what knflow
generated and no longer wants, and leave everything else alone."""

from __future__ import annotations

import copy
from typing import Any

from knflow.deploy.plan import plan_changes


def _map(name: str, text: str = "a", *, generated: bool = True) -> dict[str, Any]:
    labels = {"knflow.dev/generated": "true"} if generated else {}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "ns", "labels": labels},
        "data": {"w.sw.json": text},
    }


def _as_served(obj: dict[str, Any]) -> dict[str, Any]:
    served = copy.deepcopy(obj)
    served["metadata"].update(resourceVersion="7", uid="u-1")
    return served


def test_missing_objects_are_created() -> None:
    plan = plan_changes([_map("a")], [])

    assert [o["metadata"]["name"] for o in plan.create] == ["a"]


def test_fields_the_server_adds_do_not_make_an_update() -> None:
    plan = plan_changes([_map("a")], [_as_served(_map("a"))])

    assert plan.update == ()
    assert [o["metadata"]["name"] for o in plan.unchanged] == ["a"]


def test_changed_content_is_updated() -> None:
    plan = plan_changes([_map("a", "new")], [_as_served(_map("a", "old"))])

    assert [o["data"] for o in plan.update] == [{"w.sw.json": "new"}]


def test_generated_objects_no_longer_wanted_are_deleted_and_others_kept() -> None:
    existing = [_as_served(_map("gone")), _as_served(_map("handmade", generated=False))]

    plan = plan_changes([], existing)

    assert [o["metadata"]["name"] for o in plan.delete] == ["gone"]
