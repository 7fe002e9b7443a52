"""Self-contained JSON schemas: relative-file `$ref`s moved into the root's `definitions`.

A `dataInputSchema` may spread over several files (`{"$ref": "complex.json"}`). The
runtime validates input in processes that never see those files, so each referenced file
is copied under `definitions/<name>` of the root schema and every `$ref` is rewritten to
point there; intra-document refs (`#/...`) keep working. Files are read through the
caller's `read` function; this module does no I/O of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from knflow.errors import DefinitionError, Problem
from knflow.workflow.model import Json

ReadFile = Callable[[Path], Json]
"""Returns the parsed content of a file; raises `DefinitionError` when it cannot."""

LocateFile = Callable[[str, Path], Path | None]
"""Turns a reference written in a file of the given folder into a local path (or None
for a remote address, which is left alone)."""

_DEFINITIONS: Final = "definitions"


def inline_schema(
    schema: Json, origin: Path, *, read: ReadFile, locate: LocateFile
) -> Json:
    """Return `schema` (found at `origin`) with every local file it refers to inlined.

    Raises:
        DefinitionError: a referenced file cannot be read, or a `$ref` uses a plain-name
            fragment that cannot be rewritten.
    """
    if not isinstance(schema, dict):
        return schema
    inliner = _Inliner(read=read, locate=locate, taken=set(_definitions_of(schema)))
    inliner.prefixes[_identity(origin)] = ""
    root = inliner.rewrite(schema, origin, "")
    root.pop("$id", None)
    if inliner.definitions:
        root[_DEFINITIONS] = {**_definitions_of(root), **inliner.definitions}
    return root


class _Inliner:
    """Walks schemas, rewriting refs; remembers where each file went."""

    def __init__(self, *, read: ReadFile, locate: LocateFile, taken: set[str]) -> None:
        self.read = read
        self.locate = locate
        self.taken = taken
        self.prefixes: dict[Path, str] = {}
        self.definitions: dict[str, Json] = {}

    def rewrite(self, node: Json, origin: Path, prefix: str) -> Json:
        if isinstance(node, list):
            return [self.rewrite(element, origin, prefix) for element in node]
        if not isinstance(node, dict):
            return node
        copied = {
            key: self.rewrite(value, origin, prefix) for key, value in node.items()
        }
        if isinstance(node.get("$ref"), str):
            copied["$ref"] = self.rewrite_ref(node["$ref"], origin, prefix)
        return copied

    def rewrite_ref(self, ref: str, origin: Path, prefix: str) -> str:
        target, _, fragment = ref.partition("#")
        if fragment and not fragment.startswith("/"):
            raise DefinitionError(
                [Problem("", f"$ref '{ref}' uses a plain-name fragment; use a pointer")]
            )
        if not target:
            return f"#{prefix}{fragment}"
        path = self.locate(target, origin.parent)
        if path is None:
            return ref
        return f"#{self.include(path)}{fragment}"

    def include(self, path: Path) -> str:
        identity = _identity(path)
        if identity in self.prefixes:
            return self.prefixes[identity]
        name = self.fresh_name(path)
        prefix = f"/{_DEFINITIONS}/{_escape(name)}"
        self.prefixes[identity] = prefix
        content = self.read(path)
        if isinstance(content, dict):
            content = {k: v for k, v in content.items() if k not in ("$id", "$schema")}
        self.definitions[name] = self.rewrite(content, path, prefix)
        return prefix

    def fresh_name(self, path: Path) -> str:
        stem = path.name.split(".")[0] or "schema"
        name, counter = stem, 1
        while name in self.taken:
            counter += 1
            name = f"{stem}_{counter}"
        self.taken.add(name)
        return name


def _definitions_of(schema: dict[str, Json]) -> dict[str, Json]:
    existing = schema.get(_DEFINITIONS)
    return dict(existing) if isinstance(existing, dict) else {}


def _identity(path: Path) -> Path:
    return path.resolve()


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")
