"""Schema inlining: refs to files move into `definitions`; other refs are kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from knflow.errors import DefinitionError
from knflow.workflow import schema_inlining
from knflow.workflow.model import Json

FILES: dict[str, Json] = {
    "/s/item.json": {"$schema": "x", "$id": "y", "type": "string"},
    "/s/sub/item.json": {"type": "number"},
}


def read(path: Path) -> Json:
    return FILES[str(path)]


def locate(reference: str, base: Path) -> Path | None:
    return None if reference.startswith("https://") else base / reference


def inline(schema: Json) -> Json:
    return schema_inlining.inline_schema(
        schema, Path("/s/root.json"), read=read, locate=locate
    )


def test_same_named_files_get_distinct_definitions() -> None:
    schema = {
        "definitions": {"item": {"type": "boolean"}},
        "properties": {"a": {"$ref": "item.json"}, "b": {"$ref": "sub/item.json"}},
    }

    result = inline(schema)

    assert result["properties"] == {
        "a": {"$ref": "#/definitions/item_2"},
        "b": {"$ref": "#/definitions/item_3"},
    }
    assert result["definitions"] == {
        "item": {"type": "boolean"},
        "item_2": {"type": "string"},
        "item_3": {"type": "number"},
    }


def test_remote_and_local_pointer_refs_are_kept() -> None:
    schema = {
        "$id": "classpath:/root.json",
        "properties": {
            "r": {"$ref": "https://example.com/s.json"},
            "l": {"$ref": "#/x"},
        },
    }

    assert inline(schema) == {
        "properties": {
            "r": {"$ref": "https://example.com/s.json"},
            "l": {"$ref": "#/x"},
        }
    }


def test_a_plain_name_fragment_is_refused() -> None:
    with pytest.raises(DefinitionError, match="plain-name fragment"):
        inline({"$ref": "item.json#anchor"})


def test_a_schema_that_is_not_an_object_is_returned_as_is() -> None:
    assert inline(True) is True
