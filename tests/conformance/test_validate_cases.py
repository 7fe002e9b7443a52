"""`knflow validate` on SonataFlow's test resources: lenient mode accepts what SonataFlow does.

Every workflow file SonataFlow's tests load must pass lenient validation; SonataFlow's own
invalid example (`wrong.sw.json`) must still be refused, and strict mode keeps meaning the
0.8 schema's rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest

from knflow import cli
from knflow.errors import DefinitionError
from knflow.workflow import loading, validation
from tests.conformance.sonataflow import BUILDER, DATA, INVALID_EXAMPLE

VALID_FILES: Final = sorted(
    path
    for suffix in loading.WORKFLOW_SUFFIXES
    for path in DATA.rglob(f"*{suffix}")
    if path != INVALID_EXAMPLE
)


@pytest.mark.parametrize(
    "path", VALID_FILES, ids=[str(p.relative_to(DATA)) for p in VALID_FILES]
)
def test_lenient_validation_accepts_what_sonataflow_accepts(path: Path) -> None:
    validation.check(loading.load_file(path))


def test_validate_command_accepts_every_sonataflow_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main(["validate", *(str(path) for path in VALID_FILES)])

    assert code == 0, capsys.readouterr().err


def test_sonataflow_invalid_example_is_still_refused() -> None:
    """StaticWorkflowApplicationTest.testValidationError: at least five problems."""
    with pytest.raises(DefinitionError) as refused:
        validation.check(loading.load_file(INVALID_EXAMPLE))

    reasons = " ".join(problem.reason for problem in refused.value.problems)
    assert len(refused.value.problems) >= 5
    assert "is defined twice" in reasons
    assert "state 'push_host_data' is not defined" in reasons
    assert "error 'notAvailable' is not defined" in reasons


def test_strict_validation_still_refuses_string_booleans() -> None:
    source = loading.load_file(BUILDER / "single-inject-state.sw.json")

    with pytest.raises(DefinitionError) as refused:
        validation.check(source, strict=True)

    problems = [(p.pointer, p.reason) for p in refused.value.problems]
    assert ("/states/0/end/terminate", "expected a boolean, got a string") in problems
