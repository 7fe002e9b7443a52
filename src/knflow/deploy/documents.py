"""Kubernetes manifests as text: multi-document YAML read from and written to files.

The one module of `knflow.deploy` that imports `yaml`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from knflow.errors import InputError


def render(objects: Iterable[Mapping[str, Any]]) -> str:
    """Return the objects as multi-document YAML, keys in their given order."""
    return "".join(
        f"---\n{yaml.safe_dump(dict(obj), sort_keys=False, allow_unicode=True)}"
        for obj in objects
    )


def parse(text: str, *, name: str) -> list[dict[str, Any]]:
    """Return the non-empty documents of a YAML text.

    Raises:
        InputError: the text is not YAML, or a document is not a mapping.
    """
    try:
        loaded = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        raise InputError(f"{name} is not valid YAML: {error}") from error
    documents = []
    for index, document in enumerate(loaded):
        if document is None:
            continue
        if not isinstance(document, dict):
            raise InputError(f"{name}: document {index} is not a mapping")
        documents.append(document)
    return documents


def read(path: Path) -> list[dict[str, Any]]:
    """Return the documents of one YAML file.

    Raises:
        InputError: the file cannot be read or parsed.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from error
    return parse(text, name=str(path))
