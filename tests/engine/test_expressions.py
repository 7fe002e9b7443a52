"""Workflow expressions: jq and JSONPath evaluation, detection, paths, cache, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from knflow.engine.expressions import Evaluator, Scope, compile_cache_info
from knflow.errors import ExpressionError
from tests.conftest import REFERENCE_DATA

NO_SCOPE = Scope()
SCOPE = Scope(
    workflow={"id": "wf", "name": "Flow", "instanceId": "i-1", "prevActionResult": 3},
    constants={"limit": 5000, "names": {"first": "Ann"}},
    secrets={"token": "s3cret", "dot.name": "dotted"},
    variables={"item": 3, "completedorder": {"orderNumber": "1234"}},
)
APPLICANT = {
    "applicant": {
        "name": "John Doe",
        "age": 26,
        "email": "johndoe@something.com",
        "phoneNumbers": [
            {"type": "iPhone", "number": "0123-4567-8888"},
            {"type": "home", "number": "0123-4567-8910"},
        ],
    }
}
COUNTS = {"counts": {"current": 0, "max": 10}}
FUNCTIONS = {
    "isAdult": ".applicant | .age >= 18",
    "increment": ".count += 1 | .count",
    "double": "$WORKFLOW.prevActionResult*2",
    "max": "{max: .numbers | max_by(.x), min: .numbers | min_by(.y)}",
    "wrapped": "${ .count }",
    "viaOther": "fn:increment * 10",
    "Increment Count Function": ".count + 100",
}


@pytest.fixture
def evaluator() -> Evaluator:
    return Evaluator(functions=FUNCTIONS)


JQ_VECTORS = {
    "spec-workflow-expressions-applicant": (
        "${ .applicant | {applicant: .name, contactInfo: "
        "{ email: .email, phone: .phoneNumbers }} }",
        APPLICANT,
        {
            "applicant": "John Doe",
            "contactInfo": {
                "email": "johndoe@something.com",
                "phone": APPLICANT["applicant"]["phoneNumbers"],
            },
        },
    ),
    "dollar-braces": ("${ .a }", {"a": 1}, 1),
    "dollar-braces-no-spaces": ("  ${.a}  ", {"a": 1}, 1),
    "dollar-braces-trailing-space": (
        "${ .greetings } ",
        {"greetings": {"hello": "Hi"}},
        {"hello": "Hi"},
    ),
    "bare-path": (".a", {"a": 1}, 1),
    "sonataflow-object-shorthand": (
        "{result}",
        {"result": 2.0, "number": 4},
        {"result": 2.0},
    ),
    "sonataflow-string-concatenation": (
        ".greeting+.name",
        {"greeting": "Hello, ", "name": "John"},
        "Hello, John",
    ),
    "sonataflow-sqrt": (".number | sqrt", {"number": 4}, 2),
    "spec-expression-function-body": (".count += 1 | .count", {"count": 0}, 1),
    "sonataflow-sysout-interpolation": (
        '"\\"Workflow model is \\(.)\\""',
        {"a": 1},
        '"Workflow model is {"a":1}"',
    ),
    "first-of-several-outputs": ("${ .items[] }", {"items": [7, 8, 9]}, 7),
    "no-output-is-null": ("${ empty }", {"a": 1}, None),
    "missing-key-is-null": ("${ .missing }", {}, None),
    "local-definition": ("${ .a | def inc: . + 1; inc }", {"a": 1}, 2),
    "trailing-comment": ("${ .a # a trailing comment }", {"a": 1}, 1),
}


@pytest.mark.parametrize(
    ("expression", "data", "expected"), JQ_VECTORS.values(), ids=JQ_VECTORS.keys()
)
def test_evaluate_jq(evaluator, expression, data, expected):
    assert evaluator.evaluate(expression, data, NO_SCOPE) == expected


SCOPED = {
    "workflow-instance-id": ("${ $WORKFLOW.instanceId }", "i-1"),
    "workflow-id-and-name": ('$WORKFLOW.id + "/" + $WORKFLOW.name', "wf/Flow"),
    "workflow-prev-action-result": ("$WORKFLOW.prevActionResult*2", 6),
    "const": ("${ $CONST.limit }", 5000),
    "const-nested-bare": ("$CONST.names.first", "Ann"),
    "secret": ("${ $SECRET.token }", "s3cret"),
    "secrets-spec-spelling": ("${ $SECRETS.token }", "s3cret"),
    "secret-with-dot-in-name": ('${ $SECRET["dot.name"] }', "dotted"),
    "missing-secret-is-null": ("${ $SECRET.missing }", None),
    "iteration-variable": ("$item + 1", 4),
    "iteration-variable-object": ("${ $completedorder.orderNumber }", "1234"),
    "expression-binding-shadows-scope-variable": (
        "${ .x as $item | $item }",
        "shadowed",
    ),
    "process-environment-is-hidden": ("${ [env, $ENV] }", [{}, {}]),
}


@pytest.mark.parametrize(("expression", "expected"), SCOPED.values(), ids=SCOPED.keys())
def test_evaluate_sees_the_scope(evaluator: Evaluator, expression: str, expected):
    assert evaluator.evaluate(expression, {"x": "shadowed"}, SCOPE) == expected


FN_CALLS = {
    "spec-fn-condition": ("${ fn:isAdult }", APPLICANT, True),
    "bare-fn": ("fn:increment", {"count": 1}, 2),
    "fn-object": (
        "${ fn:max }",
        {"numbers": [{"x": 2, "y": 1}, {"x": 4, "y": 3}]},
        {"max": {"x": 4, "y": 3}, "min": {"x": 2, "y": 1}},
    ),
    "fn-inside-larger-expression": ("${ fn:wrapped + 1 }", {"count": 1}, 2),
    "fn-calling-fn": ("${ fn:viaOther }", {"count": 1}, 20),
    "fn-using-workflow-scope": ("${ fn:double }", {}, 6),
    "fn-followed-by-minus": ("${ fn:increment-1 }", {"count": 1}, 1),
    "fn-name-with-spaces": ("${ fn:Increment Count Function }", {"count": 1}, 101),
}


@pytest.mark.parametrize(
    ("expression", "data", "expected"), FN_CALLS.values(), ids=FN_CALLS.keys()
)
def test_fn_calls_expression_functions(evaluator, expression, data, expected):
    assert evaluator.evaluate(expression, data, SCOPE) == expected


TRUTHY = {
    "spec-25-condition": ("${ .counts.current < .counts.max }", COUNTS, True),
    "spec-25-bare-condition": (".counts.current >= .counts.max", COUNTS, False),
    "sonataflow-greeting": (
        '${ .language == "English" }',
        {"language": "English"},
        True,
    ),
    "spec-09-plural-typo-is-false": ("${ .applicants | .age >= 18 }", APPLICANT, False),
    "spec-09-plural-typo-takes-reject": (
        "${ .applicants | .age < 18 }",
        APPLICANT,
        True,
    ),
    "null-is-false": ("${ .missing }", {}, False),
    "false-is-false": ("${ false }", {}, False),
    "zero-is-true": ("${ 0 }", {}, True),
    "empty-string-is-true": ('${ "" }', {}, True),
    "empty-array-is-true": ("${ [] }", {}, True),
    "iteration-variable": ("${ $item > 2 }", {}, True),
}


@pytest.mark.parametrize(
    ("expression", "data", "expected"), TRUTHY.values(), ids=TRUTHY.keys()
)
def test_is_true_follows_jq_truthiness(evaluator, expression, data, expected):
    assert evaluator.is_true(expression, data, SCOPE) is expected


@pytest.mark.parametrize(
    ("text", "lenient", "expected"),
    [
        ("${ .a }", False, True),
        ("${ .a }", True, True),
        (".name", False, False),
        (".name", True, True),
        ("{result}", True, True),
        ("$WORKFLOW.prevActionResult*2", True, True),
        ("$item + 1", True, True),
        ("{max: .numbers | max_by(.x)}", True, True),
        (".count += 1 | .count", True, True),
        ("[.a, .b]", True, True),
        ("(.a)", True, True),
        ('"quoted"', True, True),
        ("fn:increment", True, True),
        ("{{ .a }}", True, True),
        ("Hello World", True, False),
        ("English", True, False),
        ("Hello World!", True, False),
        ("Hello from JSON Workflow, ", True, False),
        ("true", True, False),
        ("10", True, False),
        ("2024-01-01", True, False),
        ("-5", True, False),
        ("", True, False),
        ("a.b", True, False),
        ("user@example.com", True, False),
        ("http://example.com/x", True, False),
        ("fn:unknown", True, False),
        ("Price: $5", True, False),
    ],
    ids=lambda value: repr(value),
)
def test_is_expression_lenient_and_strict(text: str, lenient: bool, expected: bool):
    evaluator = Evaluator(functions=FUNCTIONS, lenient=lenient)

    assert evaluator.is_expression(text) is expected


TEMPLATES = {
    "sonataflow-arguments-as-jq-string": (
        "{ leftElement: .difference, rightElement: .multiplyValue }",
        {"leftElement": 68, "rightElement": 0.5556},
    ),
    "sonataflow-bare-argument": ({"leftElement": ".fahrenheit"}, {"leftElement": 100}),
    "nested-lists-and-objects": (
        {"nested": [{"v": "${ .difference }"}, "literal"]},
        {"nested": [{"v": 68}, "literal"]},
    ),
    "literals-stay": (
        {"message": "Hello World", "n": 3, "ok": True},
        {"message": "Hello World", "n": 3, "ok": True},
    ),
    "numbers-and-dates-stay-strings": (
        {"version": "1.0", "day": "2024-01-01"},
        {"version": "1.0", "day": "2024-01-01"},
    ),
    "iteration-variable": ({"next": "$item + 1"}, {"next": 4}),
    "spec-24-embedded-expression": (
        {"message": "Book ${ .title } is already on loan"},
        {"message": "Book Dune is already on loan"},
    ),
    "embedded-object-and-brace": ('a ${ .n } b ${ "}" }', 'a {"x":1} b }'),
    "two-embedded": ("${ .title } and ${ .n.x }", "Dune and 1"),
    "null": (None, None),
}


@pytest.mark.parametrize(
    ("template", "expected"), TEMPLATES.values(), ids=TEMPLATES.keys()
)
def test_resolve_evaluates_expressions_anywhere(evaluator, template, expected):
    data = {"fahrenheit": 100, "difference": 68, "multiplyValue": 0.5556}
    data |= {"title": "Dune", "n": {"x": 1}}

    assert evaluator.resolve(template, data, SCOPE) == expected


def test_resolve_in_strict_mode_keeps_bare_expressions_literal():
    evaluator = Evaluator(lenient=False)

    resolved = evaluator.resolve({"a": ".x", "b": "${ .x }"}, {"x": 1}, NO_SCOPE)

    assert resolved == {"a": ".x", "b": 1}


PATHS = {
    "spec-to-state-data": ("${ .itemsToBuyAtStore }", ["itemsToBuyAtStore"]),
    "nested": (".counts.current", ["counts", "current"]),
    "root": ("${ . }", []),
    "index": (".a[1].b", ["a", 1, "b"]),
    "quoted-key": ('.["odd key"]', ["odd key"]),
    "bare-word": ("result", ["result"]),
    "bare-dotted": ("customer.address", ["customer", "address"]),
}


@pytest.mark.parametrize(("expression", "expected"), PATHS.values(), ids=PATHS.keys())
def test_assign_path_gives_the_designated_path(evaluator, expression, expected):
    assert evaluator.assign_path(expression, {"a": []}, NO_SCOPE) == expected


def _scope(n: int) -> Scope:
    return Scope(variables={"item": n}, workflow={"k": n})


def test_compiled_programs_are_reused_across_data_and_scope_values():
    evaluator = Evaluator()
    expression = "${ .n + $item + $WORKFLOW.k + 7001 }"
    evaluator.evaluate(expression, {"n": 0}, _scope(0))
    before = compile_cache_info()

    results = [evaluator.evaluate(expression, {"n": n}, _scope(n)) for n in range(1, 6)]

    after = compile_cache_info()
    assert results == [7001 + 3 * n for n in range(1, 6)]
    assert after.misses == before.misses


def test_compiled_programs_are_shared_between_evaluators():
    expression = "${ .n * 7002 }"
    Evaluator().evaluate(expression, {"n": 1}, NO_SCOPE)
    before = compile_cache_info()

    result = Evaluator().evaluate(expression, {"n": 2}, NO_SCOPE)

    assert result == 14004
    assert compile_cache_info().misses == before.misses


FAILURES = {
    "compile": ("${ .a + }", {}, "syntax error, unexpected end of file"),
    "runtime": ("${ .a.b }", {"a": "text"}, 'Cannot index string with string ("b")'),
    "unbound-variable": ("${ $nope }", {}, "$nope is not defined"),
    "unknown-function": ("${ English }", {}, "English/0 is not defined"),
    "error-builtin": ('${ error("custom failure") }', {}, "custom failure"),
    "unknown-fn": ("fn:nope", {}, "expression function 'nope' is not defined"),
    "divide-by-zero": ("${ 1 / .b }", {"b": 0}, "the divisor is zero"),
}


@pytest.mark.parametrize(
    ("expression", "data", "message"), FAILURES.values(), ids=FAILURES.keys()
)
def test_failures_raise_expression_errors(evaluator, expression, data, message):
    with pytest.raises(ExpressionError) as raised:
        evaluator.evaluate(expression, data, SCOPE)

    assert raised.value.expression == expression
    assert message in str(raised.value)
    assert "<top-level>" not in str(raised.value)


def test_fn_cycle_is_an_expression_error():
    evaluator = Evaluator(functions={"a": "fn:b", "b": "fn:a + 1"})

    with pytest.raises(ExpressionError, match="refers to itself"):
        evaluator.evaluate("fn:a", {}, NO_SCOPE)


NOT_PATHS = {
    "not-a-path": "${ .a | tostring }",
    "slice": "${ .a[1:2] }",
    "no-path": "${ empty }",
}


@pytest.mark.parametrize("expression", NOT_PATHS.values(), ids=NOT_PATHS.keys())
def test_assign_path_refuses_what_is_not_a_plain_path(evaluator, expression):
    with pytest.raises(ExpressionError):
        evaluator.assign_path(expression, {"a": [1, 2, 3]}, NO_SCOPE)


def test_unsupported_language_is_an_expression_error():
    with pytest.raises(ExpressionError, match="not supported"):
        Evaluator(language="xpath")


YAMLGREET = {"name": "John", "language": "English", "greeting": "Hello, "}


JSONPATHS = {
    "path": ("$.name", "John"),
    "dollar-braces": ("${ $.name }", "John"),
    "array": ("$.inputNumbers", [1, 2, 3]),
    "index": ("$.inputNumbers[1]", 2),
    "wildcard-is-a-list": ("$.inputNumbers[*]", [1, 2, 3]),
    "missing-is-null": ("$.missing", None),
    "sonataflow-yamlgreet-message": ("$.greeting $.name", "Hello, John"),
    "workflow": ("$WORKFLOW.instanceId", "i-1"),
    "const": ("$CONST.limit", 5000),
    "secret": ("$SECRET.token", "s3cret"),
    "iteration-variable": ("$item", 3),
    "fn": ("fn:name", "John"),
    "dollar-inside-filter-literal": ("$.tags[?(@.c == '$x')].v", [1]),
}


@pytest.mark.parametrize(
    ("expression", "expected"), JSONPATHS.values(), ids=JSONPATHS.keys()
)
def test_evaluate_jsonpath(expression: str, expected: object):
    evaluator = Evaluator(language="jsonpath", functions={"name": "$.name"})
    data = {**YAMLGREET, "inputNumbers": [1, 2, 3], "tags": [{"c": "$x", "v": 1}]}

    assert evaluator.evaluate(expression, data, SCOPE) == expected


JP_CONDITIONS = {
    "yamlgreet-english": ("${$.[?(@.language  == 'English')]}", YAMLGREET, True),
    "yamlgreet-spanish": ("${$.[?(@.language  == 'Spanish')]}", YAMLGREET, False),
    "approved": ("{{ $.[?(@.salary >= 3000)] }}", {"salary": 30000}, True),
    "denied": ("{{ $.[?(@.salary >= 3000)] }}", {"salary": 1000}, False),
    "array-filter": ("${ $.items[?(@.x >= 3)] }", {"items": [{"x": 5}]}, True),
    "boolean": ("$.flag", {"flag": False}, False),
}


@pytest.mark.parametrize(
    ("expression", "data", "expected"), JP_CONDITIONS.values(), ids=JP_CONDITIONS.keys()
)
def test_jsonpath_conditions_are_true_when_they_match(expression, data, expected):
    evaluator = Evaluator(language="jsonpath")

    assert evaluator.is_true(expression, data, NO_SCOPE) is expected


def test_jsonpath_resolve_follows_the_sonataflow_examples():
    evaluator = Evaluator(language="jsonpath")
    arguments = {
        "numbers": "$.inputNumbers",
        "additionalData": {"numbers": "$.inputNumbers"},
        "multiplier": "$.randomNumber",
        "message": "errormessage",
        "language": "English",
    }
    data = {
        "inputNumbers": [1, 2],
        "randomNumber": 3,
        "errormessage": "Fail to publish",
    }

    resolved = evaluator.resolve(arguments, data, NO_SCOPE)

    assert resolved == {
        "numbers": [1, 2],
        "additionalData": {"numbers": [1, 2]},
        "multiplier": 3,
        "message": "Fail to publish",
        "language": "English",
    }


def test_jsonpath_assign_path_gives_the_keys():
    evaluator = Evaluator(language="jsonpath", lenient=False)

    assert evaluator.assign_path("${ $.a.b[0] }", {}, NO_SCOPE) == ["a", "b", 0]


@pytest.mark.parametrize("expression", ["$-", "$.a | $.b", "$.a & $.b", "English"])
def test_invalid_jsonpath_is_an_expression_error(expression):
    evaluator = Evaluator(language="jsonpath")

    with pytest.raises(ExpressionError):
        evaluator.evaluate(expression, {}, NO_SCOPE)


@pytest.mark.parametrize(
    "expression", ["${ .a + $item }", "$WORKFLOW.id", "fn:increment", "{result}"]
)
def test_check_accepts_valid_expressions_with_unbound_variables(evaluator, expression):
    evaluator.check(expression)


@pytest.mark.parametrize("expression", ["${ .a + }", "fn:unknown", "${ nope(1) }"])
def test_check_refuses_expressions_that_do_not_compile(evaluator, expression):
    with pytest.raises(ExpressionError):
        evaluator.check(expression)


EXPRESSION_KEYS = {"condition", "input", "output", "results", "toStateData"}
EXPRESSION_KEYS |= {"fromStateData", "inputCollection", "outputCollection"}


def _expressions(node: object, key: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for name, value in node.items():
            yield from _expressions(value, name)
    elif isinstance(node, list):
        for value in node:
            yield from _expressions(value, key)
    elif isinstance(node, str) and key in EXPRESSION_KEYS:
        yield node


@pytest.mark.parametrize(
    "path", sorted(REFERENCE_DATA.rglob("*.sw.json")), ids=lambda path: path.name
)
def test_every_expression_of_the_reference_workflows_compiles(path):
    document = json.loads(path.read_text())
    defs = document.get("functions")
    functions = {
        f["name"]: f["operation"]
        for f in (defs if isinstance(defs, list) else [])
        if f.get("type") == "expression"
    }
    language = document.get("expressionLang") or "jq"
    evaluator = Evaluator(language=language, functions=functions)
    failures = []

    for expression in [*_expressions(document["states"]), *functions.values()]:
        try:
            evaluator.check(expression)
        except ExpressionError as error:
            failures.append(str(error))

    assert failures == []
