"""Workflow expressions: jq and JSONPath evaluation, detection, paths, cache, errors."""

from __future__ import annotations

import pytest

from knflow.engine.expressions import Evaluator, Scope, compile_cache_info
from knflow.errors import ExpressionError

NO_SCOPE = Scope()
SCOPE = Scope(
    workflow={"id": "wf", "name": "Flow", "instanceId": "i-1", "prevActionResult": 3},
    constants={"limit": 5000, "names": {"first": "Ann"}},
    secrets={"token": "s3cret", "dot.name": "dotted"},
    variables={"item": 3, "completedorder": {"orderNumber": "1234"}},
)
FRUITS = {
    "fruits": ["apple", "orange", "pear"],
    "vegetables": [
        {"veggieName": "potato", "veggieLike": True},
        {"veggieName": "broccoli", "veggieLike": False},
    ],
}
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
PEOPLE = {
    "people": [
        {"fname": "John", "lname": "Doe", "address": "1234 SomeStreet", "age": 40},
        {"fname": "Marry", "lname": "Allice", "address": "1234 SomeStreet", "age": 25},
        {"fname": "Kelly", "lname": "Mill", "address": "1234 SomeStreet", "age": 30},
    ]
}
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


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        ("${ {fruits: .fruits} }", FRUITS, {"fruits": ["apple", "orange", "pear"]}),
        (
            "${ {vegetables: .vegetables[] | select(.veggieLike == true)} }",
            FRUITS,
            {"vegetables": {"veggieName": "potato", "veggieLike": True}},
        ),
        (
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
        (
            "${ {people: [.people[] | select(.age < 40)]} }",
            PEOPLE,
            {"people": PEOPLE["people"][1:]},
        ),
        ("${ .a }", {"a": 1}, 1),
        ("  ${.a}  ", {"a": 1}, 1),
        ("${ .greetings } ", {"greetings": {"hello": "Hi"}}, {"hello": "Hi"}),
        (".a", {"a": 1}, 1),
        ("{result}", {"result": 2.0, "number": 4}, {"result": 2.0}),
        (".greeting+.name", {"greeting": "Hello, ", "name": "John"}, "Hello, John"),
        (".number | sqrt", {"number": 4}, 2),
        (".count += 1 | .count", {"count": 0}, 1),
        ('"\\"Workflow model is \\(.)\\""', {"a": 1}, '"Workflow model is {"a":1}"'),
        ("${ .items[] }", {"items": [7, 8, 9]}, 7),
        ("${ empty }", {"a": 1}, None),
        ("${ .missing }", {}, None),
        ("${ .a | def inc: . + 1; inc }", {"a": 1}, 2),
        ("${ .a # a trailing comment }", {"a": 1}, 1),
    ],
    ids=[
        "spec-state-filter-input",
        "spec-state-filter-output-object-per-output",
        "spec-workflow-expressions-applicant",
        "spec-inject-output-filter-people",
        "dollar-braces",
        "dollar-braces-no-spaces",
        "dollar-braces-trailing-space",
        "bare-path",
        "sonataflow-object-shorthand",
        "sonataflow-string-concatenation",
        "sonataflow-sqrt",
        "spec-expression-function-body",
        "sonataflow-sysout-interpolation",
        "first-of-several-outputs",
        "no-output-is-null",
        "missing-key-is-null",
        "local-definition",
        "trailing-comment",
    ],
)
def test_evaluate_jq(
    evaluator: Evaluator, expression: str, data: object, expected: object
):
    assert evaluator.evaluate(expression, data, NO_SCOPE) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("${ $WORKFLOW.instanceId }", "i-1"),
        ('$WORKFLOW.id + "/" + $WORKFLOW.name', "wf/Flow"),
        ("$WORKFLOW.prevActionResult*2", 6),
        ("${ $CONST.limit }", 5000),
        ("$CONST.names.first", "Ann"),
        ("${ $SECRET.token }", "s3cret"),
        ("${ $SECRETS.token }", "s3cret"),
        ('${ $SECRET["dot.name"] }', "dotted"),
        ("${ $SECRET.missing }", None),
        ("$item + 1", 4),
        ("${ $completedorder.orderNumber }", "1234"),
        ("${ .x as $item | $item }", "shadowed"),
        ("${ [env, $ENV] }", [{}, {}]),
    ],
    ids=[
        "workflow-instance-id",
        "workflow-id-and-name",
        "workflow-prev-action-result",
        "const",
        "const-nested-bare",
        "secret",
        "secrets-spec-spelling",
        "secret-with-dot-in-name",
        "missing-secret-is-null",
        "iteration-variable",
        "iteration-variable-object",
        "expression-binding-shadows-scope-variable",
        "process-environment-is-hidden",
    ],
)
def test_evaluate_sees_the_scope(evaluator: Evaluator, expression: str, expected):
    assert evaluator.evaluate(expression, {"x": "shadowed"}, SCOPE) == expected


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        ("${ fn:isAdult }", APPLICANT, True),
        ("fn:increment", {"count": 1}, 2),
        (
            "${ fn:max }",
            {"numbers": [{"x": 2, "y": 1}, {"x": 4, "y": 3}]},
            {"max": {"x": 4, "y": 3}, "min": {"x": 2, "y": 1}},
        ),
        ("${ fn:wrapped + 1 }", {"count": 1}, 2),
        ("${ fn:viaOther }", {"count": 1}, 20),
        ("${ fn:double }", {}, 6),
        ("${ fn:Increment Count Function }", {"count": 1}, 101),
    ],
    ids=[
        "spec-fn-condition",
        "bare-fn",
        "fn-object",
        "fn-inside-larger-expression",
        "fn-calling-fn",
        "fn-using-workflow-scope",
        "fn-name-with-spaces",
    ],
)
def test_fn_calls_expression_functions(evaluator, expression, data, expected):
    assert evaluator.evaluate(expression, data, SCOPE) == expected


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        (
            "${ .counts.current < .counts.max }",
            {"counts": {"current": 0, "max": 10}},
            True,
        ),
        (
            ".counts.current >= .counts.max",
            {"counts": {"current": 0, "max": 10}},
            False,
        ),
        ('${ .language == "English" }', {"language": "English"}, True),
        ("${ .applicants | .age >= 18 }", APPLICANT, False),
        ("${ .applicants | .age < 18 }", APPLICANT, True),
        ("${ .missing }", {}, False),
        ("${ false }", {}, False),
        ("${ 0 }", {}, True),
        ('${ "" }', {}, True),
        ("${ [] }", {}, True),
        ("${ $item > 2 }", {}, True),
    ],
    ids=[
        "spec-25-condition",
        "spec-25-bare-condition",
        "sonataflow-greeting",
        "spec-09-plural-typo-is-false",
        "spec-09-plural-typo-takes-reject",
        "null-is-false",
        "false-is-false",
        "zero-is-true",
        "empty-string-is-true",
        "empty-array-is-true",
        "iteration-variable",
    ],
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


def test_resolve_evaluates_the_greet_customers_arguments(evaluator: Evaluator):
    arguments = {"greeting": "${ .spanish } ", "customerName": "${ .name } "}
    data = {"spanish": "Hola", "name": "John Michaels"}

    resolved = evaluator.resolve(arguments, data, NO_SCOPE)

    assert resolved == {"greeting": "Hola", "customerName": "John Michaels"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "{ leftElement: .difference, rightElement: .multiplyValue }",
            {"leftElement": 68, "rightElement": 0.5556},
        ),
        ({"leftElement": ".fahrenheit"}, {"leftElement": 100}),
        (
            {"nested": [{"v": "${ .difference }"}, "literal"]},
            {"nested": [{"v": 68}, "literal"]},
        ),
        (
            {"message": "Hello World", "n": 3, "ok": True},
            {"message": "Hello World", "n": 3, "ok": True},
        ),
        (
            {"version": "1.0", "day": "2024-01-01"},
            {"version": "1.0", "day": "2024-01-01"},
        ),
        ({"next": "$item + 1"}, {"next": 4}),
        (None, None),
    ],
    ids=[
        "sonataflow-arguments-as-jq-string",
        "sonataflow-bare-argument",
        "nested-lists-and-objects",
        "literals-stay",
        "numbers-and-dates-stay-strings",
        "iteration-variable",
        "null",
    ],
)
def test_resolve_evaluates_expressions_anywhere(evaluator, template, expected):
    data = {"fahrenheit": 100, "difference": 68, "multiplyValue": 0.5556}

    assert evaluator.resolve(template, data, SCOPE) == expected


def test_resolve_in_strict_mode_keeps_bare_expressions_literal():
    evaluator = Evaluator(lenient=False)

    resolved = evaluator.resolve({"a": ".x", "b": "${ .x }"}, {"x": 1}, NO_SCOPE)

    assert resolved == {"a": ".x", "b": 1}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("${ .itemsToBuyAtStore }", ["itemsToBuyAtStore"]),
        (".counts.current", ["counts", "current"]),
        ("${ . }", []),
        (".a[1].b", ["a", 1, "b"]),
        ('.["odd key"]', ["odd key"]),
        ("result", ["result"]),
        ("customer.address", ["customer", "address"]),
    ],
    ids=[
        "spec-to-state-data",
        "nested",
        "root",
        "index",
        "quoted-key",
        "bare-word",
        "bare-dotted",
    ],
)
def test_assign_path_gives_the_designated_path(evaluator, expression, expected):
    assert evaluator.assign_path(expression, {"a": []}, NO_SCOPE) == expected


def test_compiled_programs_are_reused_across_data_and_scope_values():
    evaluator = Evaluator()
    expression = "${ .n + $item + $WORKFLOW.k + 7001 }"
    evaluator.evaluate(
        expression, {"n": 0}, Scope(variables={"item": 0}, workflow={"k": 0})
    )
    before = compile_cache_info()

    results = [
        evaluator.evaluate(
            expression, {"n": n}, Scope(variables={"item": n}, workflow={"k": n})
        )
        for n in range(1, 6)
    ]

    after = compile_cache_info()
    assert results == [7001 + 3 * n for n in range(1, 6)]
    assert after.misses == before.misses
    assert after.hits == before.hits + 5


def test_compiled_programs_are_shared_between_evaluators():
    expression = "${ .n * 7002 }"
    Evaluator().evaluate(expression, {"n": 1}, NO_SCOPE)
    before = compile_cache_info()

    result = Evaluator().evaluate(expression, {"n": 2}, NO_SCOPE)

    assert result == 14004
    assert compile_cache_info().misses == before.misses


@pytest.mark.parametrize(
    ("expression", "data", "message"),
    [
        ("${ .a + }", {}, "syntax error, unexpected end of file"),
        ("${ .a.b }", {"a": "text"}, 'Cannot index string with string ("b")'),
        ("${ $nope }", {}, "$nope is not defined"),
        ("${ English }", {}, "English/0 is not defined"),
        ('${ error("custom failure") }', {}, "custom failure"),
        ("${ fn:unknown }", {}, "expression function 'unknown' is not defined"),
        (
            "${ .a / .b }",
            {"a": 1, "b": 0},
            "cannot be divided because the divisor is zero",
        ),
    ],
    ids=[
        "compile",
        "runtime",
        "unbound-variable",
        "unknown-function",
        "error-builtin",
        "unknown-fn",
        "divide-by-zero",
    ],
)
def test_failures_raise_expression_error_with_jq_message(
    evaluator, expression, data, message
):
    with pytest.raises(ExpressionError) as raised:
        evaluator.evaluate(expression, data, SCOPE)

    assert raised.value.expression == expression
    assert message in str(raised.value)
    assert "<top-level>" not in str(raised.value)


def test_fn_cycle_is_an_expression_error():
    evaluator = Evaluator(functions={"a": "fn:b", "b": "fn:a + 1"})

    with pytest.raises(ExpressionError, match="refers to itself"):
        evaluator.evaluate("fn:a", {}, NO_SCOPE)


@pytest.mark.parametrize(
    "expression",
    ["${ .a | tostring }", "${ .a[1:2] }", "${ empty }"],
    ids=["not-a-path", "slice", "no-path"],
)
def test_assign_path_refuses_what_is_not_a_plain_path(evaluator, expression):
    with pytest.raises(ExpressionError):
        evaluator.assign_path(expression, {"a": [1, 2, 3]}, NO_SCOPE)


def test_unsupported_language_is_an_expression_error():
    with pytest.raises(ExpressionError, match="not supported"):
        Evaluator(language="xpath")


YAMLGREET = {"name": "John", "language": "English", "greeting": "Hello, "}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("$.name", "John"),
        ("${ $.name }", "John"),
        ("$.inputNumbers", [1, 2, 3]),
        ("$.inputNumbers[1]", 2),
        ("$.inputNumbers[*]", [1, 2, 3]),
        ("$.missing", None),
        ("$.greeting $.name", "Hello, John"),
        ("$WORKFLOW.instanceId", "i-1"),
        ("$CONST.limit", 5000),
        ("$SECRET.token", "s3cret"),
        ("$item", 3),
        ("fn:name", "John"),
    ],
    ids=[
        "path",
        "dollar-braces",
        "array",
        "index",
        "wildcard-is-a-list",
        "missing-is-null",
        "sonataflow-yamlgreet-message",
        "workflow",
        "const",
        "secret",
        "iteration-variable",
        "fn",
    ],
)
def test_evaluate_jsonpath(expression: str, expected: object):
    evaluator = Evaluator(language="jsonpath", functions={"name": "$.name"})
    data = {**YAMLGREET, "inputNumbers": [1, 2, 3]}

    assert evaluator.evaluate(expression, data, SCOPE) == expected


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        ("${$.[?(@.language  == 'English')]}", YAMLGREET, True),
        ("${$.[?(@.language  == 'Spanish')]}", YAMLGREET, False),
        ("{{ $.[?(@.salary >= 3000)] }}", {"salary": 30000}, True),
        ("{{ $.[?(@.salary >= 3000)] }}", {"salary": 1000}, False),
        ("${ $.items[?(@.x >= 3)] }", {"items": [{"x": 1}, {"x": 5}]}, True),
        ("$.flag", {"flag": False}, False),
    ],
    ids=[
        "yamlgreet-english",
        "yamlgreet-spanish",
        "events-quarkus-approved",
        "events-quarkus-denied",
        "array-filter",
        "boolean",
    ],
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


def test_invalid_jsonpath_is_an_expression_error():
    evaluator = Evaluator(language="jsonpath")

    with pytest.raises(ExpressionError):
        evaluator.evaluate("$-", {}, NO_SCOPE)
