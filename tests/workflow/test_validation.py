"""`find_problems` and `check`: every problem at once, loader problems first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knflow.errors import DefinitionError, Problem
from knflow.workflow import loading, validation
from knflow.workflow.model import Json

VALID: dict[str, Json] = {
    "id": "w",
    "specVersion": "0.8",
    "states": [{"name": "a", "type": "inject", "data": {}, "end": True}],
}


def write(folder: Path, document: Json, name: str = "w.sw.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(document))
    return path


def test_a_valid_source_passes(tmp_path: Path) -> None:
    source = loading.load_file(write(tmp_path, VALID))

    validation.check(source)
    validation.check(source, strict=True)


def test_structure_and_reference_problems_come_together() -> None:
    document = {
        "id": "w",
        "states": [{"name": "a", "type": "inject", "transition": "b"}],
    }

    problems = validation.find_problems(document, strict=True)

    assert problems == [
        Problem("", "a workflow needs the property 'specVersion'"),
        Problem("/states/0", "an inject state needs the property 'data'"),
        Problem("/states/0/transition", "state 'b' is not defined"),
    ]


def test_lenient_is_the_default() -> None:
    document = {key: value for key, value in VALID.items() if key != "specVersion"}

    assert validation.find_problems(document) == []
    assert validation.find_problems(document, strict=True) != []


def test_check_raises_every_problem_naming_the_file(tmp_path: Path) -> None:
    states = [
        {"name": "a", "type": "inject", "data": {}, "transition": "x"},
        {"name": "a", "type": "inject", "data": {}, "end": True},
    ]
    path = write(tmp_path, {**VALID, "states": states})

    with pytest.raises(DefinitionError) as raised:
        validation.check(loading.load_file(path))

    assert raised.value.source == str(path)
    assert raised.value.problems == [
        Problem("/states/1/name", "state name 'a' is already taken by /states/0"),
        Problem("/states/0/transition", "state 'x' is not defined"),
    ]


def test_loader_problems_come_first_and_are_not_repeated(tmp_path: Path) -> None:
    functions = [{"name": "f", "operation": "api.json#op"}]
    document = {**VALID, "functions": functions, "events": "events.json"}
    source = loading.load_file(write(tmp_path, document))

    with pytest.raises(DefinitionError) as raised:
        validation.check(source)

    assert raised.value.problems == [
        Problem("/events", "file 'events.json' does not exist"),
        Problem("/functions/0/operation", "file 'api.json' does not exist"),
    ]


def test_an_operation_missing_from_its_document_is_reported(tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text("paths: {}\n")
    functions = [{"name": "f", "operation": "api.yaml#op"}]
    source = loading.load_file(write(tmp_path, {**VALID, "functions": functions}))

    with pytest.raises(DefinitionError) as raised:
        validation.check(source)

    assert raised.value.problems == [
        Problem("/functions/0/operation", "document 'api.yaml' has no operation 'op'")
    ]


def test_an_input_schema_that_is_no_schema_is_reported(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integr"}}}
    document = {**VALID, "dataInputSchema": {"schema": schema}}
    source = loading.load_file(write(tmp_path, document))

    with pytest.raises(DefinitionError) as raised:
        validation.check(source)

    [problem] = raised.value.problems
    assert problem.pointer == "/dataInputSchema"
    assert problem.reason.startswith(
        "the input schema is not a valid JSON schema at /properties/n/type: "
    )


def test_a_source_from_text_is_named_by_its_id() -> None:
    source = loading.load_text(json.dumps({**VALID, "start": "z"}), name="posted")

    with pytest.raises(DefinitionError) as raised:
        validation.check(source)

    assert raised.value.source == "w"
    assert str(raised.value) == (
        "w: invalid workflow definition: /start: start state 'z' is not defined"
    )
