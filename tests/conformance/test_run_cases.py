"""SonataFlow's integration and executor tests that need no REST call: through `knflow run`.

Each case names the SonataFlow test it restates (class and method); the README of this
folder lists every case and the ones that cannot run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conformance.sonataflow import (
    BUILDER,
    EXECUTOR,
    INTEGRATION,
    copy_case,
    knflow_run,
)

GREETINGS = {
    "English": "Hello from JSON Workflow,",
    "Spanish": "Saludos desde JSON Workflow,",
}


@pytest.fixture(autouse=True)
def _database(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)


# (case id, folder, workflow files, input, expected subset of the output)
OUTPUT_CASES: list[tuple[str, Path, list[str], Any, dict[str, Any]]] = [
    (
        "HelloWorldIT",
        INTEGRATION,
        ["helloworld.sw.json"],
        {},
        {"result": "Hello World!"},
    ),
    *(
        (
            f"GreetRestIT-{file}-{language}",
            INTEGRATION,
            [file],
            {"name": "John", "language": language},
            {"greeting": greeting},
        )
        for file in ("greet.sw.json", ".greet-hidden.sw.json", "greetUnknown.sw.json")
        for language, greeting in GREETINGS.items()
    ),
    (
        "GreetRestIT-greet-Unknown",
        INTEGRATION,
        ["greet.sw.json"],
        {"name": "John", "language": "Unknown"},
        {"greeting": GREETINGS["English"]},
    ),
    (
        "GreetRestIT-greethidden-Unknown",
        INTEGRATION,
        [".greet-hidden.sw.json"],
        {"name": "John", "language": "Unknown"},
        {"greeting": GREETINGS["English"]},
    ),
    (
        "GreetRestIT-greetUnknown-Unknown",
        INTEGRATION,
        ["greetUnknown.sw.json"],
        {"name": "John", "language": "Unknown"},
        {"greeting": "I'm not familiar with your language,"},
    ),
    (
        "ParallelStateIT-all",
        INTEGRATION,
        ["parallel.sw.json"],
        {"numCompleted": 3},
        {"firstPart": "A", "secondPart": "B", "thirdPart": "C"},
    ),
    (
        "CompensationRestIT-not-compensated",
        INTEGRATION,
        ["compensation.sw.json"],
        {"shouldCompensate": False},
        {"compensated": False},
    ),
    (
        "ForEachRestIT-subflow",
        INTEGRATION,
        ["foreach_parent.sw.json", "foreach_child.sw.json"],
        {"numbers": [1, 2, 3, 4, 5], "constant": 2},
        {"products": [2, 4, 6, 8, 10]},
    ),
    (
        "ErrorRestIT-errorWithMetadata-even",
        INTEGRATION,
        ["errorWithMetadata.sw.json"],
        {"number": 12342},
        {"number": 12342},
    ),
    *(
        (
            f"StaticWorkflowApplicationTest-switch-{one}-{two}",
            EXECUTOR,
            ["switch.sw.yaml"],
            {"condition1": one, "condition2": two},
            {"output": "branch1" if one or two else "default"},
        )
        for one in (False, True)
        for two in (False, True)
    ),
    *(
        (
            f"SwitchStateDataConditionBasedIT-transition-{age}",
            BUILDER,
            ["switch-state-data-condition-transition.sw.json"],
            {"age": age},
            {"decision": "Approved" if age >= 18 else "Denied"},
        )
        for age in (20, 10, -20)
    ),
    *(
        (
            f"SwitchStateDataConditionBasedIT-end-{age}",
            BUILDER,
            ["switch-state-data-condition-end.sw.json"],
            {"age": age},
            {"decision": "EndDecision"},
        )
        for age in (20, 10, -20)
    ),
]


@pytest.mark.parametrize(
    ("folder", "files", "data", "expected"),
    [case[1:] for case in OUTPUT_CASES],
    ids=[case[0] for case in OUTPUT_CASES],
)
def test_sonataflow_case_gives_the_asserted_output(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    folder: Path,
    files: list[str],
    data: Any,
    expected: dict[str, Any],
) -> None:
    workflow = copy_case(folder, files, tmp_path)

    code, output, err = knflow_run(capsys, workflow, data)

    assert code == 0, err
    assert {key: output.get(key) for key in expected} == expected


def test_partial_parallel_completes_with_the_first_branches(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """ParallelStateIT.testPartialParallelRest: two of three branches, three keys."""
    workflow = copy_case(INTEGRATION, ["parallel.sw.json"], tmp_path)

    code, output, err = knflow_run(capsys, workflow, {"numCompleted": 2})

    assert code == 0, err
    assert len(output) == 3


def test_error_message_metadata_fails_an_odd_number(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """ErrorRestIT.testErrorWithMetadata: the state's `errorMessage` puts it in ERROR."""
    workflow = copy_case(INTEGRATION, ["errorWithMetadata.sw.json"], tmp_path)

    code, _, err = knflow_run(capsys, workflow, {"number": 12341})

    assert code == 1
    assert "Is Odd number!!!!" in err


@pytest.mark.parametrize("file", ["interpolation.sw.json", "interpolation.sw.yml"])
def test_sysout_interpolates_the_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, file: str
) -> None:
    """StaticWorkflowApplicationTest.interpolationFile: the sysout message is shown."""
    workflow = copy_case(EXECUTOR, [file], tmp_path)

    code, _, err = knflow_run(capsys, workflow, {})

    assert code == 0, err
    assert "knflow.sysout: Model is {}" in err


def test_division_by_zero_fails_the_instance(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """RetriggerIT.testRetrigger, first step: dividing by zero is an error."""
    workflow = copy_case(INTEGRATION, ["division.sw.json"], tmp_path)

    code, _, err = knflow_run(capsys, workflow, {"number1": 2, "number2": 0})

    assert code == 1
    assert "failed in state 'divide'" in err
