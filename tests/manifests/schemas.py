"""The reference schemas manifests are checked against, loaded once per test process.

The Knative CRDs and knative/func's func.yaml schema are upstream data files copied into
`tests/data/reference/knative/` (sources in tests/data/NOTICE.md); this module reads them there.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from knflow.deploy import admission, documents, validation
from knflow.deploy.plan import describe
from tests.conftest import REFERENCE_DATA

KNATIVE_REFERENCE = REFERENCE_DATA / "knative"


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """Return the strict schemas of every reference CRD."""
    found = []
    for path in sorted((KNATIVE_REFERENCE / "crds").glob("*.yaml")):
        found.extend(documents.read(path))
    return validation.crd_schemas(found)


@functools.cache
def func_yaml_schema() -> dict[str, Any]:
    """Return knative/func's func.yaml JSON schema (draft-04)."""
    text = (KNATIVE_REFERENCE / "func_yaml-schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def object_problems(obj: dict[str, Any]) -> list[str]:
    """Return `Kind/name: pointer: reason` for each schema or admission problem."""
    found = validation.find_schema_problems(obj, crd_schemas())
    found += admission.find_admission_problems(obj)
    return [f"{describe(obj)}: {problem}" for problem in found]


def file_problems(path: Path) -> list[str]:
    """Return `file: Kind/name: pointer: reason` for each problem of a manifest file."""
    return [
        f"{path}: {problem}"
        for obj in documents.read(path)
        for problem in object_problems(obj)
    ]
