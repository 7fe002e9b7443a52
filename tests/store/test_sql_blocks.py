"""Every named SQL block is used by its repository, and every name a repository uses exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from knflow.store import sql

SOURCE = Path(sql.__file__).resolve().parent
MODULES = sorted(path.stem for path in (SOURCE / "sql").glob("*.sql"))


def _python_text() -> str:
    return "\n".join(path.read_text() for path in SOURCE.parent.rglob("*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_every_block_of_a_sql_file_is_used(module: str) -> None:
    text = _python_text()
    unused = [name for name in sql.queries(module) if f'"{name}"' not in text]
    assert unused == []


def test_every_block_a_repository_names_exists() -> None:
    defined = {name for module in MODULES for name in sql.queries(module)}
    referenced = set(re.findall(r'queries\("\w+"\)\["(\w+)"\]', _python_text()))
    referenced |= set(re.findall(r'\bq\["(\w+)"\]', _python_text()))
    assert referenced - defined == set()
