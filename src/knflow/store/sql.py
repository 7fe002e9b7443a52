"""Named SQL blocks: each `store/sql/<module>.sql` file loaded once into name -> statement.

A block starts with `-- name: <name>`; the comment lines after it document the statement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Final, LiteralString

_NAME_LINE: Final = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


@cache
def queries(module: str) -> Mapping[str, LiteralString]:
    """Return the named statements of `store/sql/<module>.sql`, read once per process."""
    text = (
        resources.files("knflow.store")
        .joinpath("sql", f"{module}.sql")
        .read_text("utf-8")
    )
    return MappingProxyType(parse_blocks(text))


def parse_blocks(text: str) -> dict[str, LiteralString]:
    """Split a file of `-- name:` blocks into a mapping; a repeated name is an error."""
    blocks: dict[str, LiteralString] = {}
    matches = list(_NAME_LINE.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        name = match.group(1)
        if name in blocks:
            raise ValueError(f"sql block '{name}' is defined twice")
        body = text[match.end() : end].strip()
        blocks[name] = (
            body  # mypy reads LiteralString as str; the text is the package's own
        )
    return blocks
