"""Where the SonataFlow test resources are, and how a conformance case runs `knflow run`.

The workflows are SonataFlow's own test data (tests/data/sonataflow-conformance/NOTICE); the
inputs and the asserted outputs restate what SonataFlow's Java tests send and check.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Final

import pytest

from knflow import cli
from knflow.workflow.loading import WORKFLOW_SUFFIXES
from tests.conftest import TEST_DATA

DATA: Final = TEST_DATA / "sonataflow-conformance"
INTEGRATION: Final = DATA / "integration-tests"
BUILDER: Final = DATA / "builder"
EXECUTOR: Final = DATA / "executor"
OPENAPI_PARSER: Final = DATA / "openapi-parser"
INVALID_EXAMPLE: Final = EXECUTOR / "wrong.sw.json"
"""SonataFlow's own invalid definition (its executor's `testValidationError`)."""


def copy_case(folder: Path, workflows: list[str], target: Path) -> Path:
    """Copy the named workflows and every other resource beside them; return the first.

    A case runs in a folder of its own so that `knflow run` registers only its workflows.
    """
    for path in folder.iterdir():
        if path.is_dir():
            shutil.copytree(path, target / path.name, dirs_exist_ok=True)
        elif path.name in workflows or not path.name.endswith(WORKFLOW_SUFFIXES):
            shutil.copy(path, target / path.name)
    return target / workflows[0]


def knflow_run(
    capsys: pytest.CaptureFixture[str], workflow: Path, data: Any
) -> tuple[int, Any, str]:
    """Run `knflow run` in this process; return the exit code, the output and stderr."""
    code = cli.main(["run", str(workflow), "--input", json.dumps(data)])
    captured = capsys.readouterr()
    output = json.loads(captured.out) if code == 0 else None
    return code, output, captured.err
