"""What applying generated objects changes: which to create, update and delete.

Objects are matched by kind, namespace and name. Only objects labelled
`knflow.dev/generated: "true"` are ever deleted, so hand-written ones are never touched.
Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from knflow.deploy.objects import GENERATED_LABEL

Key = tuple[str, str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The changes that make a namespace hold exactly the desired generated objects."""

    create: tuple[dict[str, Any], ...] = ()
    """Desired objects that do not exist yet."""
    update: tuple[dict[str, Any], ...] = ()
    """Desired objects whose existing version differs."""
    delete: tuple[dict[str, Any], ...] = ()
    """Existing generated objects that are no longer desired."""
    unchanged: tuple[dict[str, Any], ...] = ()
    """Desired objects that already exist as desired."""


def plan_changes(
    desired: Iterable[Mapping[str, Any]], existing: Iterable[Mapping[str, Any]]
) -> Plan:
    """Compare desired objects with the existing ones.

    An existing object is up to date when it holds every desired field with the desired
    value; fields the server adds (status, defaults, resource versions) are ignored.
    """
    found = {object_key(obj): obj for obj in existing}
    create, update, unchanged = [], [], []
    wanted = set()
    for obj in desired:
        key = object_key(obj)
        wanted.add(key)
        if key not in found:
            create.append(dict(obj))
        elif is_subset(obj, found[key]):
            unchanged.append(dict(obj))
        else:
            update.append(dict(obj))
    delete = [
        dict(obj)
        for key, obj in found.items()
        if key not in wanted and is_generated(obj)
    ]
    return Plan(
        create=tuple(create),
        update=tuple(update),
        delete=tuple(delete),
        unchanged=tuple(unchanged),
    )


def object_key(obj: Mapping[str, Any]) -> Key:
    """Return (kind, namespace, name) of an object."""
    metadata = obj.get("metadata") or {}
    return (
        str(obj.get("kind", "")),
        str(metadata.get("namespace", "")),
        str(metadata.get("name", "")),
    )


def describe(obj: Mapping[str, Any]) -> str:
    """Return `Kind/name`, how kubectl names an object."""
    kind, _namespace, name = object_key(obj)
    return f"{kind}/{name}"


def is_generated(obj: Mapping[str, Any]) -> bool:
    """Tell whether knflow generated the object (and may delete it)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(GENERATED_LABEL) == "true"


def is_subset(part: Any, whole: Any) -> bool:
    """Tell whether every mapping entry of `part` is in `whole` with an equal value."""
    if isinstance(part, Mapping):
        return isinstance(whole, Mapping) and all(
            key in whole and is_subset(value, whole[key]) for key, value in part.items()
        )
    if isinstance(part, list):
        return (
            isinstance(whole, list)
            and len(part) == len(whole)
            and all(is_subset(p, w) for p, w in zip(part, whole, strict=True))
        )
    return bool(part == whole)
