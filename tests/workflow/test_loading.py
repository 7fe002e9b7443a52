"""Loading workflow files: formats, inlined sections, resources, schemas, storage."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from jsonschema import Draft7Validator
from psycopg.types.json import Jsonb

from knflow.errors import DefinitionError, Problem
from knflow.workflow import loading
from knflow.workflow.model import Json
from tests.conftest import REFERENCE_DATA

SPEC_EXAMPLES = REFERENCE_DATA / "serverless-workflow-0.8" / "examples"
SONATAFLOW = REFERENCE_DATA / "sonataflow-examples"
MINIMAL = {
    "id": "w",
    "specVersion": "0.8",
    "states": [{"name": "s", "type": "inject", "data": {}, "end": True}],
}


def write(folder: Path, name: str, content: Json | str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else json.dumps(content)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_json_file_keeps_its_text_and_parses_to_the_document(tmp_path: Path) -> None:
    path = write(tmp_path, "w.sw.json", MINIMAL)

    source = loading.load_file(path)

    assert source.document == MINIMAL
    assert source.text == path.read_text()
    assert source.path == path
    assert source.problems == ()


def test_yaml_timestamps_stay_strings_and_keys_become_strings(tmp_path: Path) -> None:
    text = "id: w\nversion: '1'\nmetadata:\n  due: 2021-11-05T08:15:30Z\n  200: ok\n"
    path = write(tmp_path, "w.sw.yml", text)

    document = loading.load_file(path).document

    assert document["metadata"] == {"due": "2021-11-05T08:15:30Z", "200": "ok"}


def test_a_file_without_a_workflow_suffix_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "w.json", MINIMAL)

    with pytest.raises(DefinitionError) as raised:
        loading.load_file(path)

    assert raised.value.source == str(path)
    assert "ends in .sw.json, .sw.yaml or .sw.yml" in raised.value.problems[0].reason


def test_a_missing_file_is_a_definition_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="does not exist"):
        loading.load_file(tmp_path / "absent.sw.json")


def test_bad_json_names_the_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "w.sw.json", '{"id": "w",\n "states": [}')

    with pytest.raises(DefinitionError) as raised:
        loading.load_file(path)

    assert raised.value.problems == [
        Problem(
            "", "the text does not parse as JSON: expecting value at line 2, column 13"
        )
    ]


def test_bad_yaml_names_the_yaml_problem_and_line() -> None:
    path = SPEC_EXAMPLES / "08-eventbasedswitchstate.sw.yaml"

    with pytest.raises(DefinitionError) as raised:
        loading.load_file(path)

    reason = "the text does not parse as YAML: mapping values are not allowed here"
    assert raised.value.problems == [Problem("", f"{reason} at line 32, column 12")]
    assert raised.value.source == str(path)


def test_a_document_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "w.sw.yaml", "- just\n- a list\n")

    with pytest.raises(DefinitionError, match="must be an object"):
        loading.load_file(path)


def test_external_sections_are_inlined_from_json_and_yaml_files(tmp_path: Path) -> None:
    functions = [{"name": "f", "operation": ".a", "type": "expression"}]
    write(tmp_path, "defs/functions.json", {"functions": functions})
    write(tmp_path, "events.yml", "- name: e\n  type: t\n  source: s\n")
    write(tmp_path, "constants.json", {"functions": "not unwrapped", "x": 1})
    document = {
        **MINIMAL,
        "functions": "defs/functions.json",
        "events": "file://events.yml",
        "constants": "classpath:/constants.json",
    }

    source = loading.load_file(write(tmp_path, "w.sw.json", document))

    assert source.problems == ()
    assert source.document["functions"] == functions
    assert source.document["events"] == [{"name": "e", "type": "t", "source": "s"}]
    assert source.document["constants"] == {"functions": "not unwrapped", "x": 1}


def test_a_constants_file_may_wrap_its_object_under_constants(tmp_path: Path) -> None:
    write(tmp_path, "constants.json", {"constants": {"x": 1}})
    document = {**MINIMAL, "constants": "constants.json"}

    source = loading.load_file(write(tmp_path, "w.sw.json", document))

    assert source.document["constants"] == {"x": 1}


def test_a_missing_section_file_is_a_problem_and_stays_a_name(tmp_path: Path) -> None:
    document = {**MINIMAL, "errors": "errors.json", "retries": "https://x/r.json"}

    source = loading.load_file(write(tmp_path, "w.sw.json", document))

    assert source.document["errors"] == "errors.json"
    assert source.problems == (
        Problem("/errors", "file 'errors.json' does not exist"),
        Problem(
            "/retries",
            "'https://x/r.json' is a remote address; knflow reads local files only",
        ),
    )


def test_an_unparseable_section_file_is_a_problem(tmp_path: Path) -> None:
    write(tmp_path, "events.yaml", "a: [\n")
    document = {**MINIMAL, "events": "events.yaml"}

    source = loading.load_file(write(tmp_path, "w.sw.json", document))

    assert [p.pointer for p in source.problems] == ["/events"]
    assert source.problems[0].reason.startswith(
        "file 'events.yaml' does not parse as YAML: "
    )


def test_openapi_and_asyncapi_documents_are_loaded_as_resources(tmp_path: Path) -> None:
    write(
        tmp_path, "specs/api.yaml", "paths:\n  /x:\n    get:\n      operationId: getX\n"
    )
    write(tmp_path, "events.json", {"asyncapi": "2.0.0", "channels": {}})
    functions = [
        {"name": "a", "operation": "specs/api.yaml#getX"},
        {"name": "b", "operation": "classpath:specs/api.yaml#getX", "type": "rest"},
        {"name": "c", "operation": "events.json#pub", "type": "asyncapi"},
        {"name": "d", "operation": "https://remote/api.json#x"},
        {"name": "e", "operation": "rest:get:/x", "type": "custom"},
    ]
    document = {**MINIMAL, "functions": functions}

    source = loading.load_file(write(tmp_path, "w.sw.json", document))

    openapi = {"paths": {"/x": {"get": {"operationId": "getX"}}}}
    assert source.problems == ()
    assert source.resources == {
        "specs/api.yaml": openapi,
        "classpath:specs/api.yaml": openapi,
        "events.json": {"asyncapi": "2.0.0", "channels": {}},
    }


def test_a_missing_resource_is_a_problem_for_each_function(tmp_path: Path) -> None:
    functions = [
        {"name": "a", "operation": "api.json#one"},
        {"name": "b", "operation": "api.json#two"},
    ]
    document = {**MINIMAL, "functions": functions}

    source = loading.load_file(write(tmp_path, "w.sw.json", document))

    assert source.resources == {}
    assert source.problems == (
        Problem("/functions/0/operation", "file 'api.json' does not exist"),
        Problem(
            "/functions/1/operation",
            "document 'api.json' is not loaded (see the first function using it)",
        ),
    )


def test_the_input_schema_is_self_contained(tmp_path: Path) -> None:
    write(
        tmp_path,
        "schema/item.json",
        {
            "$id": "x:item",
            "$ref": "#/definitions/n",
            "definitions": {"n": {"type": "number"}},
        },
    )
    write(
        tmp_path,
        "schema/input.json",
        {
            "$id": "classpath:/schema/input.json",
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": {"$ref": "item.json"}},
                "again": {"$ref": "#/properties/items"},
            },
            "required": ["items"],
        },
    )
    document = {**MINIMAL, "dataInputSchema": "schema/input.json"}

    source = loading.load_file(write(tmp_path, "w.sw.json", document))

    validator = Draft7Validator(source.input_schema)
    assert source.problems == ()
    assert source.fail_on_input_validation is True
    assert validator.is_valid({"items": [1, 2], "again": [3]})
    assert not validator.is_valid({"items": ["one"]})
    assert not validator.is_valid({"items": [], "again": ["x"]})
    assert "$id" not in json.dumps(source.input_schema)


def test_schema_files_that_refer_to_each_other_are_inlined_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        "node.json",
        {
            "type": "object",
            "properties": {
                "next": {"$ref": "node.json"},
                "tree": {"$ref": "tree.json"},
            },
        },
    )
    write(
        tmp_path,
        "tree.json",
        {"type": "object", "properties": {"root": {"$ref": "node.json"}}},
    )
    document = {**MINIMAL, "dataInputSchema": "tree.json"}

    schema = loading.load_file(write(tmp_path, "w.sw.json", document)).input_schema

    assert schema["properties"]["root"] == {"$ref": "#/definitions/node"}
    assert schema["definitions"]["node"]["properties"] == {
        "next": {"$ref": "#/definitions/node"},
        "tree": {"$ref": "#"},
    }
    validator = Draft7Validator(schema)
    assert validator.is_valid({"root": {"next": {"tree": {"root": {}}}}})
    assert not validator.is_valid({"root": {"next": {"tree": {"root": 5}}}})


def test_the_object_form_gives_the_flag_and_may_inline_the_schema(
    tmp_path: Path,
) -> None:
    write(tmp_path, "num.json", {"type": "number"})
    inline = {"type": "object", "properties": {"n": {"$ref": "num.json"}}}
    document = {
        **MINIMAL,
        "dataInputSchema": {"schema": inline, "failOnValidationErrors": False},
    }

    source = loading.load_file(write(tmp_path, "w.sw.json", document))

    assert source.fail_on_input_validation is False
    assert source.input_schema == {
        "type": "object",
        "properties": {"n": {"$ref": "#/definitions/num"}},
        "definitions": {"num": {"type": "number"}},
    }


def test_a_missing_schema_file_is_a_problem(tmp_path: Path) -> None:
    write(tmp_path, "input.json", {"$ref": "absent.json"})
    document = {**MINIMAL, "dataInputSchema": "input.json"}

    source = loading.load_file(write(tmp_path, "w.sw.json", document))

    assert source.input_schema is None
    assert source.problems == (
        Problem("/dataInputSchema", "file 'absent.json' does not exist"),
    )


def test_the_sonataflow_expression_example_gets_both_schemas() -> None:
    path = SONATAFLOW / "serverless-workflow-expression-quarkus" / "expression.sw.json"

    source = loading.load_file(path)

    validator = Draft7Validator(source.input_schema)
    assert source.problems == ()
    assert validator.is_valid({"numbers": [{"x": 2, "y": 1}]})
    assert not validator.is_valid({"numbers": [{"x": 2}]})
    assert source.output_schema is not None
    assert source.output_schema["required"] == ["result"]


def test_the_output_schema_object_form_gives_its_flag(tmp_path: Path) -> None:
    extension = {
        "extensionid": "workflow-output-schema",
        "outputSchema": {"schema": {"type": "object"}, "failOnValidationErrors": False},
    }
    document = {**MINIMAL, "extensions": [{"extensionid": "other"}, extension]}

    source = loading.load_file(write(tmp_path, "w.sw.json", document))

    assert source.output_schema == {"type": "object"}
    assert source.fail_on_output_validation is False


def test_text_without_a_folder_reports_every_file_reference() -> None:
    document = {**MINIMAL, "functions": "f.json", "dataInputSchema": {"schema": {}}}

    source = loading.load_text(json.dumps(document), name="w.sw.json")

    assert source.path is None
    assert source.input_schema == {}
    assert source.problems == (
        Problem(
            "/functions", "file 'f.json' cannot be read: the workflow has no folder"
        ),
    )


def test_parse_text_reads_yaml_or_json_by_name() -> None:
    assert loading.parse_text("a: 1", name="x.sw.yaml") == {"a": 1}
    assert loading.parse_text('{"a": 1}', name="x.sw.json") == {"a": 1}
    assert loading.parse_text('\t{"a": 1}', name="stored") == {"a": 1}
    assert loading.parse_text("[1]", name="x.yml") == [1]


def test_a_source_survives_a_round_trip_through_jsonb(database_url: str) -> None:
    path = SONATAFLOW / "serverless-workflow-expression-quarkus" / "expression.sw.json"
    source = loading.load_file(path)

    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT %s::jsonb", [Jsonb(loading.to_stored(source))])
        stored = row.fetchone()

    assert stored is not None
    assert loading.from_stored(stored[0]) == source


def test_problems_survive_storage(tmp_path: Path) -> None:
    source = loading.load_file(
        write(tmp_path, "w.sw.json", {**MINIMAL, "auth": "a.json"})
    )

    rebuilt = loading.from_stored(json.loads(json.dumps(loading.to_stored(source))))

    assert rebuilt.problems == (Problem("/auth", "file 'a.json' does not exist"),)


@pytest.mark.parametrize(
    "stored",
    [
        None,
        {"format": 2},
        {**loading.to_stored(loading.WorkflowSource(text="", document={})), "text": 5},
    ],
    ids=["not-an-object", "other-format", "wrong-type"],
)
def test_a_malformed_stored_source_is_refused(stored: Json) -> None:
    with pytest.raises(DefinitionError, match="stored workflow source is malformed"):
        loading.from_stored(stored)


def test_a_directory_gives_its_workflow_files_sorted_without_sub_folders(
    tmp_path: Path,
) -> None:
    write(tmp_path, "b.sw.yaml", "id: b\n")
    write(tmp_path, "a.sw.json", {"id": "a"})
    write(tmp_path, "c.sw.yml", "id: c\n")
    write(tmp_path, "notes.json", {"id": "no"})
    write(tmp_path, "invalid/d.sw.json", "{")

    sources = loading.load_directory(tmp_path)

    assert [s.document["id"] for s in sources] == ["a", "b", "c"]


def test_a_missing_directory_is_a_definition_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="not a folder"):
        loading.load_directory(tmp_path / "absent")
