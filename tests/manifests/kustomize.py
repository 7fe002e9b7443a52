"""A small kustomize for the tests: resources, namespace and targeted patches.

Implements exactly the parts `eventing/` and `knative/` use (file resources,
`namespace`, `patches` with `path` and a `target` by kind, name or `key=value` label
selector, applied as strategic merges of mappings), so the overlays can be checked
without the kustomize binary. Checked by hand against `kubectl kustomize` (the same
objects for eventing/kafka).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from knflow.deploy import documents


def build(folder: Path) -> list[dict[str, Any]]:
    """Return the objects the kustomization in `folder` produces."""
    kustomization = documents.read(folder / "kustomization.yaml")[0]
    built = []
    for resource in kustomization.get("resources", []):
        built.extend(documents.read(folder / resource))
    for patch in kustomization.get("patches", []):
        change = documents.read(folder / patch["path"])[0]
        for obj in built:
            if matches(obj, patch.get("target", {})):
                merge_into(obj, {k: v for k, v in change.items() if k != "metadata"})
                merge_into(obj, {"metadata": _without_name(change.get("metadata", {}))})
    if "namespace" in kustomization:
        for obj in built:
            obj.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
    return built


def patch_files(folder: Path) -> set[Path]:
    """Return the files the kustomization in `folder` uses as patches."""
    kustomization = documents.read(folder / "kustomization.yaml")[0]
    return {
        (folder / patch["path"]).resolve() for patch in kustomization.get("patches", [])
    }


def resource_files(folder: Path) -> set[Path]:
    """Return the files the kustomization in `folder` lists as resources."""
    kustomization = documents.read(folder / "kustomization.yaml")[0]
    return {(folder / name).resolve() for name in kustomization.get("resources", [])}


def matches(obj: Mapping[str, Any], target: Mapping[str, str]) -> bool:
    """Tell whether an object is a patch target (kind, name, `key=value` selector)."""
    metadata = obj.get("metadata", {})
    if "kind" in target and obj.get("kind") != target["kind"]:
        return False
    if "name" in target and metadata.get("name") != target["name"]:
        return False
    labels = metadata.get("labels", {})
    for requirement in filter(None, target.get("labelSelector", "").split(",")):
        key, _, value = requirement.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


def merge_into(target: dict[str, Any], change: Mapping[str, Any]) -> None:
    """Merge mappings recursively; other values replace (strategic merge of maps)."""
    for key, value in change.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            merge_into(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _without_name(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in metadata.items() if key != "name"}
