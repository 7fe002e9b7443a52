"""Fixtures for the edge tests: the whole system running as `knflow dev` runs it, per module.

Each module of `tests/edges/` sends hostile and careless input to one edge of the running
processes; a module-scoped stack keeps that affordable (one start per module).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.conftest import TEST_DATA
from tests.stack import DevStack

ROOT_WORKFLOWS = TEST_DATA.parent.parent / "workflows"
EDGE_WORKFLOWS = (
    ROOT_WORKFLOWS / "hello.sw.json",
    TEST_DATA / "workflows" / "waiter.sw.json",
)


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """Extra environment of the module's stack; a module overrides it to set limits."""
    return {}


@pytest.fixture(scope="module")
def stack(
    module_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    stack_env: dict[str, str],
) -> Iterator[DevStack]:
    """Every function and the broker, with `hello` and `waiter` registered."""
    folder = tmp_path_factory.mktemp("workflows")
    for path in EDGE_WORKFLOWS:
        shutil.copy(path, folder / path.name)
    running = DevStack.start(
        workflows_dir=folder,
        database_url=module_database_url,
        work_dir=tmp_path_factory.mktemp("stack"),
        env=stack_env,
    )
    yield running
    running.stop()
