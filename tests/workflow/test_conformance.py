"""Conformance: our validator against the 0.8 JSON schema on every reference definition.

For each definition file under the reference folders, strict mode must give the schema's
verdict (the schema is loaded here, in the test only, with `jsonschema` and a
`referencing` registry), lenient mode must accept every SonataFlow example, and the
reference problems must be exactly the known defects listed below.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Final

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from knflow.errors import DefinitionError
from knflow.workflow import loading, structure, validation
from knflow.workflow.loading import WorkflowSource
from knflow.workflow.model import Json
from tests.conftest import REFERENCE_DATA

SPEC = REFERENCE_DATA / "serverless-workflow-0.8"
SONATAFLOW = REFERENCE_DATA / "sonataflow-examples"
FILES: Final = sorted(
    path
    for folder in (SPEC / "examples", SONATAFLOW)
    for suffix in loading.WORKFLOW_SUFFIXES
    for path in folder.rglob(f"*{suffix}")
)
UNPARSEABLE: Final = {
    "08-eventbasedswitchstate.sw.yaml": "mapping values are not allowed here",
    "20-patientonboarding-retries.sw.yaml": "expected <block end>, but found",
}
SCHEMA_INVALID: Final = {
    "08-eventbasedswitchstate.sw.json",
    "expression-function.simpleadd.sw.json",
    *(
        path.name
        for path in SONATAFLOW.rglob("*.sw.*")
        if path.parent.name
        not in (
            "serverless-workflow-hello-world",
            "serverless-workflow-foreach-quarkus",
            "serverless-workflow-parallel-execution",
            "serverless-workflow-subflows-event",
        )
    ),
}
NOT_LOADED = "is not loaded (see the first function using it)"
# Every problem `validation.check` finds in lenient mode, by file stem (the JSON and
# YAML variants agree). Missing OpenAPI/AsyncAPI documents are there because the spec
# examples never ship them; the rest are the "Known defects" of the examples index,
# plus example 24's transition to a state it never defines.
KNOWN_PROBLEMS: Final = {
    "02-greeting": [
        ("/functions/0/operation", "file 'myapis/greetingapis.json' does not exist"),
    ],
    "03-eventbasedgreeting": [
        ("/functions/0/operation", "file 'myapis/greetingapis.json' does not exist"),
    ],
    "06-sendcustomeremail-async-function": [
        ("/functions/0/operation", "file 'myapis/emailapis.json' does not exist"),
    ],
    "15-customercreditcheck": [
        (
            "/states/0/action/functionRef/refName",
            "function 'callCreditCheckMicroservice' is not defined",
        ),
    ],
    "19-paymentconfirmation-reuse-defs": [
        ("/functions/0/operation", "file 'myapis/billingapis.json' does not exist"),
        ("/functions/1/operation", "file 'myapis/emailapis.json' does not exist"),
        (
            "/functions/2/operation",
            f"document 'file://myapis/emailapis.json' {NOT_LOADED}",
        ),
    ],
    "20-patientonboarding-retries": [
        ("/functions/0/operation", "file 'api/services.json' does not exist"),
        ("/functions/1/operation", f"document 'api/services.json' {NOT_LOADED}"),
        ("/functions/2/operation", f"document 'api/services.json' {NOT_LOADED}"),
        ("/states/0/onEvents/0/eventRefs/0", "event 'NewPatientEvent' is not defined"),
        (
            "/states/0/onEvents/0/actions/0/functionRef",
            "function 'StorePatient' is not defined",
        ),
    ],
    "21-purchaseorder-deadline": [
        (
            "/functions/0/operation",
            "file 'http.myorg.io/ordersservices.json' does not exist",
        ),
        *(
            (
                f"/functions/{i}/operation",
                f"document 'http.myorg.io/ordersservices.json' {NOT_LOADED}",
            )
            for i in (1, 2, 3)
        ),
    ],
    "22-roomreadings-keepactive": [
        (
            "/functions/0/operation",
            "file 'http.myorg.io/ordersservices.json' does not exist",
        ),
        (
            "/functions/1/operation",
            f"document 'http.myorg.io/ordersservices.json' {NOT_LOADED}",
        ),
    ],
    "23-checkcarvitals.vitalscheck": [
        ("/functions/0/operation", "file 'mycarservices.json' does not exist"),
        *(
            (f"/functions/{i}/operation", f"document 'mycarservices.json' {NOT_LOADED}")
            for i in (1, 2, 3)
        ),
        (
            "/states/0/end/produceEvents/0/eventRef",
            "event 'DisplayChecksOnDashboard' is not defined",
        ),
        *(
            (f"/states/0/actions/{i}/functionRef", f"function '{name}' is not defined")
            for i, name in enumerate(
                (
                    "Check Tire Pressure",
                    "Check Oil Pressure",
                    "Check Coolant Level",
                    "Check Battery",
                )
            )
        ),
    ],
    "24-booklending": [
        ("/functions", "file 'books/lending/functions.json' does not exist"),
        ("/events", "file 'books/lending/events.json' does not exist"),
        (
            "/states/4/eventConditions/1/transition",
            "state 'Cancel Request' is not defined",
        ),
    ],
    "26-foodorder.deliverorderworkflow": [
        (
            "/states/0/actions/0/functionRef",
            "function 'Dispatch Courrier Function' is not defined",
        ),
        (
            "/states/1/onEvents/0/eventRefs/0",
            "event 'Order Picked Up Event' is not defined",
        ),
        (
            "/states/1/onEvents/0/actions/0/functionRef",
            "function 'Deliver Order Function' is not defined",
        ),
        (
            "/states/2/onEvents/0/eventRefs/0",
            "event 'Order Delievered Event' is not defined",
        ),
    ],
    "26-foodorder.placeorderworkflow": [
        ("/states/0/onEvents/0/eventRefs/0", "event 'Food Order Event' is not defined"),
        (
            "/states/0/onEvents/0/actions/0/functionRef/refName",
            "function 'Submit Order Function' is not defined",
        ),
        (
            "/states/0/onEvents/0/actions/1/functionRef/refName",
            "function 'Get Order ETA Function' is not defined",
        ),
    ],
    "28-bankingtransactions-foreach-condition": [
        ("/functions/0/operation", "file 'banking.yaml' does not exist"),
        ("/functions/1/operation", f"document 'banking.yaml' {NOT_LOADED}"),
        (
            "/states/0/actions/1/functionRef",
            "function 'Banking Service - Smaller Tx' is not defined",
        ),
    ],
    "expression-function.simpleadd": [
        (
            "/states/1/actions/0/actionFilter",
            "property 'actionFilter' is not allowed in an action",
        ),
        ("", "a workflow needs the property 'id' (or 'key')"),
    ],
    "foreach.sendConfirmWorkflow": [
        ("/functions/0/operation", "file 'confirmationapi.json' does not exist"),
    ],
    "fahrenheit-to-celsius": [
        ("/functions/0/operation", "file 'specs/multiplication.yaml' does not exist"),
        ("/functions/1/operation", "file 'specs/subtraction.yaml' does not exist"),
    ],
}


@pytest.fixture(scope="module")
def schema() -> Draft7Validator:
    """The reference 0.8 schema, its `$ref`s resolved from the reference files only."""
    registry: Registry = Registry()
    for path in (SPEC / "schema").glob("*.json"):
        contents = json.loads(path.read_text())
        registry = registry.with_resource(
            contents["$id"], Resource.from_contents(contents)
        )
    workflow = json.loads((SPEC / "schema" / "workflow.json").read_text())
    return Draft7Validator(workflow, registry=registry)


def load(path: Path, folder: Path) -> WorkflowSource:
    """Load a reference file; spec examples get their companion files under their own
    names (`19-x.functiondefs.json` becomes `functiondefs.json`), as the text names them."""
    if path.is_relative_to(SONATAFLOW):
        return loading.load_file(path)
    prefix = path.name.split(".")[0]
    for companion in path.parent.glob(f"{prefix}.*"):
        if not companion.name.endswith(loading.WORKFLOW_SUFFIXES):
            shutil.copy(companion, folder / companion.name.split(".", 1)[1])
    shutil.copy(path, folder / path.name)
    return loading.load_file(folder / path.name)


def stem(path: Path) -> str:
    return path.name.rsplit(".sw.", 1)[0]


PARSEABLE: Final = [path for path in FILES if path.name not in UNPARSEABLE]
IDS: Final = [path.relative_to(REFERENCE_DATA).as_posix() for path in PARSEABLE]


def test_every_reference_definition_is_covered() -> None:
    assert len(FILES) == 92
    assert {path.name for path in FILES} >= set(UNPARSEABLE)
    assert set(KNOWN_PROBLEMS) <= {stem(path) for path in FILES}


@pytest.mark.parametrize("name", sorted(UNPARSEABLE))
def test_the_unparseable_yaml_examples_give_a_parse_problem(
    name: str, tmp_path: Path
) -> None:
    path = SPEC / "examples" / name
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(path.read_text())

    with pytest.raises(DefinitionError) as raised:
        load(path, tmp_path)

    [problem] = raised.value.problems
    assert problem.pointer == ""
    assert problem.reason.startswith("the text does not parse as YAML: ")
    assert UNPARSEABLE[name] in problem.reason
    assert " at line " in problem.reason


@pytest.mark.parametrize("path", PARSEABLE, ids=IDS)
def test_strict_mode_gives_the_schema_verdict(
    path: Path, tmp_path: Path, schema: Draft7Validator
) -> None:
    source = load(path, tmp_path)
    raw = loading.parse_text(source.text, name=path.name)

    for document in (source.document, raw):
        problems = structure.find_structure_problems(document, strict=True)
        assert (not problems) == schema.is_valid(document), problems
    assert schema.is_valid(source.document) == (path.name not in SCHEMA_INVALID)


@pytest.mark.parametrize(
    "path",
    [path for path in PARSEABLE if path.is_relative_to(SONATAFLOW)],
    ids=[i for i in IDS if i.startswith("sonataflow-examples")],
)
def test_lenient_mode_accepts_every_sonataflow_example(
    path: Path, tmp_path: Path
) -> None:
    source = load(path, tmp_path)

    assert structure.find_structure_problems(source.document, strict=False) == []


@pytest.mark.parametrize("path", PARSEABLE, ids=IDS)
def test_reference_problems_are_exactly_the_known_defects(
    path: Path, tmp_path: Path
) -> None:
    source = load(path, tmp_path)

    found = checked(source)

    assert found == KNOWN_PROBLEMS.get(stem(path), [])


def checked(source: WorkflowSource) -> list[tuple[str, str]]:
    try:
        validation.check(source)
    except DefinitionError as error:
        return [(problem.pointer, problem.reason) for problem in error.problems]
    return []


# A valid document touching the parts no reference example uses (auth, secrets, retries
# with numbers, a start schedule object, state timeouts...), for the mutation test.
EVERYTHING: Final = {
    "id": "everything",
    "specVersion": "0.8",
    "annotations": ["a"],
    "dataInputSchema": {"schema": "input.json", "failOnValidationErrors": False},
    "secrets": ["TOKEN"],
    "constants": {"x": 1},
    "start": {"stateName": "wait", "schedule": {"cron": {"expression": "0 * * * *"}}},
    "timeouts": {
        "workflowExecTimeout": {
            "duration": "PT1H",
            "interrupt": True,
            "runBefore": "nap",
        },
        "stateExecTimeout": {"single": "PT1M", "total": "PT2M"},
    },
    "errors": [{"name": "oops", "code": "500"}],
    "retries": [{"name": "r", "maxAttempts": 3, "multiplier": 1.5, "jitter": 0.1}],
    "auth": [
        {"name": "basic", "properties": {"username": "u", "password": "p"}},
        {"name": "bearer", "scheme": "bearer", "properties": {"token": "t"}},
        {
            "name": "oauth",
            "scheme": "oauth2",
            "properties": {"grantType": "password", "clientId": "c"},
        },
    ],
    "functions": [
        {
            "name": "f",
            "operation": "api.json#op",
            "authRef": "basic",
            "metadata": {"m": "v"},
        }
    ],
    "events": [
        {
            "name": "in",
            "source": "s",
            "type": "t",
            "correlation": [{"contextAttributeName": "c"}],
        },
        {"name": "out", "type": "t2", "kind": "produced"},
    ],
    "states": [
        {
            "name": "wait",
            "type": "sleep",
            "duration": "PT1S",
            "timeouts": {"stateExecTimeout": "PT1M"},
            "transition": {
                "nextState": "work",
                "produceEvents": [{"eventRef": "out", "data": {}}],
            },
        },
        {
            "name": "work",
            "type": "operation",
            "actions": [
                {
                    "functionRef": {"refName": "f", "arguments": {}, "invoke": "async"},
                    "sleep": {"before": "PT1S"},
                    "retryRef": "r",
                    "retryableErrors": ["oops"],
                }
            ],
            "onErrors": [{"errorRefs": ["oops"], "end": {"terminate": True}}],
            "compensatedBy": "nap",
            "end": {"continueAs": {"workflowId": "everything", "data": "${ . }"}},
        },
        {"name": "nap", "type": "inject", "data": {}, "usedForCompensation": True},
    ],
}
MUTATED: Final = {
    "everything": EVERYTHING,
    **{
        stem(path): path
        for path in PARSEABLE
        if path.suffix == ".json"
        and path.name.split("-")[0]
        in ("05", "07", "08", "10", "13", "15", "18", "21", "27", "28")
    },
    "compensation": SONATAFLOW
    / "serverless-workflow-compensation-quarkus"
    / "compensation.sw.json",
    "parallel": SONATAFLOW
    / "serverless-workflow-parallel-execution"
    / "parallel.sw.json",
}
REPLACEMENTS: Final = (
    1,
    "",
    "x",
    True,
    None,
    [],
    {},
    [{}],
    -1,
    0.5,
    ["x", "x"],
    {"x": 1},
)


def mutations(document: Json) -> list[Json]:
    """Copies of `document` with one value replaced, removed, or given an extra key."""
    found = []
    for number, path in enumerate(json_paths(document)):
        parent, key = path[:-1], path[-1]
        for offset in range(3):
            value = REPLACEMENTS[(number + offset) % len(REPLACEMENTS)]
            found.append(
                changed(
                    document,
                    parent,
                    lambda node, k=key, v=value: node.__setitem__(k, v),
                )
            )
        found.append(changed(document, parent, lambda node, k=key: node.__delitem__(k)))
        found.append(
            changed(
                document,
                path,
                lambda node: isinstance(node, dict) and node.update(zz=1),
            )
        )
    return found


def json_paths(
    node: Json, path: tuple[str | int, ...] = ()
) -> list[tuple[str | int, ...]]:
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    found = [path] if path else []
    for key, child in items:
        found += json_paths(child, (*path, key))
    return found


def changed(
    document: Json, path: tuple[str | int, ...], change: Callable[[Json], object]
) -> Json:
    copy = json.loads(json.dumps(document))
    node = copy
    for key in path:
        node = node[key]
    change(node)
    return copy


@pytest.mark.parametrize("name", sorted(MUTATED))
def test_strict_mode_gives_the_schema_verdict_on_mutated_documents(
    name: str, tmp_path: Path, schema: Draft7Validator
) -> None:
    original = MUTATED[name]
    document = (
        load(original, tmp_path).document if isinstance(original, Path) else original
    )
    assert schema.is_valid(EVERYTHING)
    assert validation.find_problems(EVERYTHING, strict=True) == []
    disagreements = []

    for mutated in mutations(document):
        strict = structure.find_structure_problems(mutated, strict=True)
        if (not strict) != schema.is_valid(mutated):
            disagreements.append((mutated, strict))
        if not strict:
            assert structure.find_structure_problems(mutated, strict=False) == []

    assert disagreements == []
