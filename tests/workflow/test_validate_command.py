"""`knflow validate`: exit codes and one `FILE: POINTER: REASON` line per problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knflow import cli
from tests.conftest import REFERENCE_DATA, TEST_DATA

INVALID = TEST_DATA / "workflows" / "invalid"
HELLO = (
    REFERENCE_DATA / "serverless-workflow-0.8" / "examples" / "01-helloworld.sw.json"
)


def validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["validate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_valid_files_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = validate(capsys, str(HELLO), "--strict")

    assert code == 0
    assert out == f"{HELLO}: valid\n"
    assert err == ""


def test_every_problem_is_printed_with_file_pointer_and_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = INVALID / "broken-references.sw.yaml"

    code, _, err = validate(capsys, str(path))

    assert code == 1
    assert err.splitlines() == [
        f"{path}: /states/2/name: state name 'Greet' is already taken by /states/0",
        f"{path}: /states/0/onErrors/0/errorRef: error 'timeout' is not defined",
        f"{path}: /states/0/actions/0/functionRef: function 'greetings' is not defined",
        f"{path}: /states/1/transition: state 'Finish' is not defined",
        f"{path}: /states/1/onEvents/0/eventRefs/0: event 'rejected' is not defined",
    ]


def test_a_file_that_does_not_parse_gives_the_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = INVALID / "unparseable.sw.json"

    code, _, err = validate(capsys, str(path))

    assert code == 1
    assert err == (
        f"{path}: /: the text does not parse as JSON: "
        "expecting value at line 6, column 3\n"
    )


def test_sonataflow_dialect_passes_unless_strict(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = INVALID / "sonataflow-dialect.sw.json"

    lenient_code, _, _ = validate(capsys, str(path))
    strict_code, _, err = validate(capsys, "--strict", str(path))

    assert lenient_code == 0
    assert strict_code == 1
    assert err.splitlines() == [
        f"{path}: /: a workflow needs the property 'specVersion'",
        f"{path}: /states/0: a data-based switch state needs the property "
        "'defaultCondition'",
        f"{path}: /states/1/actions/0/functionRef/arguments: expected an object, "
        "got a string",
    ]


def test_one_bad_file_fails_the_run_but_all_are_checked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = INVALID / "unparseable.sw.json"

    code, out, err = validate(capsys, str(bad), str(HELLO))

    assert code == 1
    assert out == f"{HELLO}: valid\n"
    assert err.startswith(f"{bad}: /: ")


def test_a_folder_stands_for_its_workflow_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shutil.copy(HELLO, tmp_path / "a.sw.json")
    shutil.copy(INVALID / "unparseable.sw.json", tmp_path / "b.sw.json")
    (tmp_path / "notes.txt").write_text("not a workflow")

    code, out, err = validate(capsys, str(tmp_path))

    assert code == 1
    assert out == f"{tmp_path / 'a.sw.json'}: valid\n"
    assert err.startswith(f"{tmp_path / 'b.sw.json'}: /: the text does not parse")


def test_an_empty_folder_or_a_missing_file_is_a_failure(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "absent.sw.yaml"

    code, _, err = validate(capsys, str(tmp_path), str(missing))

    assert code == 1
    assert err.splitlines() == [
        f"{tmp_path}: /: this folder holds no workflow files",
        f"{missing}: /: file '{missing}' does not exist",
    ]
