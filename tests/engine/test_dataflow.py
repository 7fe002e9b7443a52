"""SW 0.8 data flow: merge rules, state, action and event filters, the spec vectors."""

from __future__ import annotations

import copy

import pytest

from knflow.engine import dataflow
from knflow.engine.expressions import Evaluator, Scope
from knflow.errors import ExpressionError

NO_SCOPE = Scope()
JQ = Evaluator()
STRICT = Evaluator(lenient=False)
MICHAEL = {"name": "Michael", "address": "6789 street", "zip": "6789"}
JOHN = {"name": "John", "address": "1234 street", "zip": "12345"}
JANE = {"name": "Jane", "address": "4321 street", "zip": "54321"}
BREADS_AND_PASTA = {
    "breads": ["baguette", "brioche", "rye"],
    "pasta": ["penne", "spaghetti", "ravioli"],
}
GREETINGS = {
    "hello": {
        "english": "Hello",
        "spanish": "Hola",
        "german": "Hallo",
        "russian": "Здравствуйте",
    },
    "goodbye": {
        "english": "Goodbye",
        "spanish": "Adiós",
        "german": "Auf Wiedersehen",
        "russian": "Прощай",
    },
}
CUSTOMER = {
    "name": "John Michaels",
    "address": "111 Some Street, SomeCity, SomeCountry",
    "age": 40,
}


@pytest.mark.parametrize(
    ("target", "incoming", "expected"),
    [
        (
            {"customer": {"name": "John", "address": "1234 street", "zip": "12345"}},
            {"customer": {"name": "John", "zip": "54321"}},
            {"customer": {"name": "John", "address": "1234 street", "zip": "54321"}},
        ),
        (
            {"customers": [MICHAEL]},
            {"customers": [JOHN, JANE]},
            {"customers": [MICHAEL, JOHN, JANE]},
        ),
        ({"age": 20}, {"age": 30}, {"age": 30}),
        ({"name": "a"}, {"name": "b"}, {"name": "b"}),
        (
            {"a": {"b": {"c": 1, "d": 2}}},
            {"a": {"b": {"d": 3}}},
            {"a": {"b": {"c": 1, "d": 3}}},
        ),
        ({"a": [1]}, {"a": {"x": 1}}, {"a": {"x": 1}}),
        ({"a": {"x": 1}}, {"a": [1]}, {"a": [1]}),
        ({"a": 1}, {"a": None}, {"a": None}),
        ({"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
        ([1, 2], [2, 3], [1, 2, 2, 3]),
        ({"a": 1}, "text", "text"),
        (None, {"a": 1}, {"a": 1}),
    ],
    ids=[
        "spec-objects-incoming-wins",
        "spec-arrays-concatenate-existing-first",
        "spec-numbers-overwrite",
        "spec-strings-overwrite",
        "objects-merge-recursively",
        "array-then-object-incoming-wins",
        "object-then-array-incoming-wins",
        "explicit-null-overwrites",
        "keys-union",
        "top-level-arrays-keep-duplicates",
        "scalar-replaces-object",
        "object-into-nothing",
    ],
)
def test_merge_follows_the_spec_rules(target, incoming, expected):
    assert dataflow.merge(target, incoming) == expected


def test_merge_never_mutates_or_shares_its_inputs():
    target = {"a": {"list": [1]}, "keep": {"x": 1}}
    incoming = {"a": {"list": [2]}, "new": {"y": 2}}
    before = (copy.deepcopy(target), copy.deepcopy(incoming))

    merged = dataflow.merge(target, incoming)
    merged["keep"]["x"] = 99
    merged["new"]["y"] = 99

    assert (target, incoming) == before


@pytest.mark.parametrize(
    ("data", "path", "value", "expected"),
    [
        (
            {"itemsToBuyAtStore": []},
            ["itemsToBuyAtStore"],
            ["a"],
            {"itemsToBuyAtStore": ["a"]},
        ),
        ({}, ["customerInfo"], {"name": "J"}, {"customerInfo": {"name": "J"}}),
        ({"a": 1}, ["x", "y"], 2, {"a": 1, "x": {"y": 2}}),
        ({"x": "text"}, ["x", "y"], 2, {"x": {"y": 2}}),
        ({"c": {"current": 1}}, ["c", "current"], 2, {"c": {"current": 2}}),
        ({"l": [{"a": 1}]}, ["l", 0], {"b": 2}, {"l": [{"a": 1, "b": 2}]}),
        ({"l": []}, ["l", 2], 7, {"l": [None, None, 7]}),
        ({"a": 1}, [], {"b": 2}, {"a": 1, "b": 2}),
        ("scalar", ["response"], 3, {"response": 3}),
    ],
    ids=[
        "spec-to-state-data-array",
        "creates-missing-element",
        "creates-missing-chain",
        "replaces-non-object-on-the-way",
        "overwrites-nested-scalar",
        "merges-into-array-element",
        "pads-array-with-nulls",
        "empty-path-is-top-level",
        "non-object-data-becomes-object",
    ],
)
def test_merge_at_merges_into_a_nested_target(data, path, value, expected):
    before = copy.deepcopy(data)

    assert dataflow.merge_at(data, path, value) == expected
    assert data == before


FRUITS = {
    "fruits": ["apple", "orange", "pear"],
    "vegetables": [
        {"veggieName": "potato", "veggieLike": True},
        {"veggieName": "broccoli", "veggieLike": False},
    ],
}


@pytest.mark.parametrize(
    ("data_filter", "expected"),
    [
        ({"input": "${ {fruits: .fruits} }"}, {"fruits": ["apple", "orange", "pear"]}),
        (
            {"input": "${ {vegetables: .vegetables} }"},
            {"vegetables": FRUITS["vegetables"]},
        ),
        (
            {"input": "${ {vegetables: .vegetables[] | select(.veggieLike == true)} }"},
            {"vegetables": {"veggieName": "potato", "veggieLike": True}},
        ),
        (None, FRUITS),
        ({}, FRUITS),
        ({"output": "${ .fruits }"}, FRUITS),
        ({"input": "${ .nothing }"}, FRUITS),
        ({"input": "${ empty }"}, FRUITS),
    ],
    ids=[
        "spec-fruits",
        "spec-vegetables",
        "spec-veggie-like-directly",
        "absent-filter",
        "empty-filter",
        "output-only",
        "null-selection-keeps-data",
        "no-output-keeps-data",
    ],
)
def test_filter_state_input(data_filter, expected):
    assert dataflow.filter_state_input(JQ, data_filter, FRUITS, NO_SCOPE) == expected


@pytest.mark.parametrize(
    ("data_filter", "data", "expected"),
    [
        (
            {"output": "${ {vegetables: .vegetables[] | select(.veggieLike) } }"},
            {"vegetables": FRUITS["vegetables"]},
            {"vegetables": {"veggieName": "potato", "veggieLike": True}},
        ),
        (
            {"output": "${ {people: [.people[] | select(.age < 40)]} }"},
            {
                "people": [
                    {"fname": "John", "age": 40},
                    {"fname": "Marry", "age": 25},
                    {"fname": "Kelly", "age": 30},
                ]
            },
            {"people": [{"fname": "Marry", "age": 25}, {"fname": "Kelly", "age": 30}]},
        ),
        (
            {"output": "${ .payload.greeting }"},
            {"payload": {"greeting": "Welcome, John!"}},
            "Welcome, John!",
        ),
        ({"output": "{result}"}, {"result": 2.0, "number": 4}, {"result": 2.0}),
        ({"output": "${ .missing }"}, {"a": 1}, {"a": 1}),
        ({"input": "${ .a }"}, {"a": 1}, {"a": 1}),
    ],
    ids=[
        "spec-veggie-like-output",
        "spec-inject-people-under-40",
        "spec-03-bare-string-output",
        "sonataflow-expression-example",
        "null-selection-keeps-data",
        "input-only",
    ],
)
def test_filter_state_output(data_filter, data, expected):
    assert dataflow.filter_state_output(JQ, data_filter, data, NO_SCOPE) == expected


def test_action_input_is_from_state_data():
    action_filter = {"fromStateData": "${ .hello }"}

    selected = dataflow.action_input(JQ, action_filter, GREETINGS, NO_SCOPE)

    assert selected == GREETINGS["hello"]


def test_action_input_without_filter_is_the_state_data():
    assert dataflow.action_input(JQ, None, {"a": 1}, NO_SCOPE) == {"a": 1}


@pytest.mark.parametrize(
    ("action_filter", "expected"),
    [
        (
            {"results": "${ {breads: .breads} }"},
            {"breads": ["baguette", "brioche", "rye"]},
        ),
        ({"results": "${ [ .breads[0], .pasta[1] ] }"}, ["baguette", "spaghetti"]),
        ({"toStateData": "${ .x }"}, BREADS_AND_PASTA),
        (None, BREADS_AND_PASTA),
    ],
    ids=["spec-breads", "spec-first-bread-second-pasta", "no-results-filter", "absent"],
)
def test_filter_action_result(action_filter, expected):
    result = dataflow.filter_action_result(
        JQ, action_filter, BREADS_AND_PASTA, NO_SCOPE
    )

    assert result == expected


@pytest.mark.parametrize(
    ("action_filter", "data", "result", "expected"),
    [
        (
            {
                "results": "${ [ .breads[0], .pasta[1] ] }",
                "toStateData": "${ .itemsToBuyAtStore }",
            },
            {"itemsToBuyAtStore": []},
            BREADS_AND_PASTA,
            {"itemsToBuyAtStore": ["baguette", "spaghetti"]},
        ),
        (
            {"results": "${ {breads: .breads} }"},
            {"other": 1},
            BREADS_AND_PASTA,
            {"other": 1, "breads": ["baguette", "brioche", "rye"]},
        ),
        (None, {"a": {"x": 1}}, {"a": {"y": 2}}, {"a": {"x": 1, "y": 2}}),
        ({"useResults": False}, {"a": 1}, {"b": 2}, {"a": 1}),
        ({"useResults": "false"}, {"a": 1}, {"b": 2}, {"a": 1}),
        ({"toStateData": "${ .count }"}, {"count": 0}, 1, {"count": 1}),
        (
            {"toStateData": ".counts.current"},
            {"counts": {"current": 3, "max": 10}},
            4,
            {"counts": {"current": 4, "max": 10}},
        ),
        (
            {"results": ".max.x", "toStateData": ".number"},
            {"numbers": []},
            {"max": {"x": 4}},
            {"numbers": [], "number": 4},
        ),
        (
            {"results": "${ .greeting }"},
            {"person": {"name": "John"}},
            {"greeting": "Welcome, John!"},
            {"person": {"name": "John"}, "response": "Welcome, John!"},
        ),
        (None, {"response": [1]}, [2, 3], {"response": [2, 3]}),
        (None, {"a": 1}, None, {"a": 1}),
        ({"toStateData": "${ .x }"}, {"a": 1}, None, {"a": 1}),
    ],
    ids=[
        "spec-items-to-buy-at-store",
        "spec-breads-merged-at-top",
        "object-result-deep-merges",
        "use-results-false",
        "use-results-false-as-text",
        "spec-simpleadd-count",
        "spec-25-fill-glass",
        "sonataflow-expression-max",
        "spec-02-string-result-under-response",
        "array-result-replaces-response",
        "null-result-merges-nothing",
        "null-result-with-target-merges-nothing",
    ],
)
def test_merge_action_result(action_filter, data, result, expected):
    before = copy.deepcopy(data)

    merged = dataflow.merge_action_result(JQ, action_filter, data, result, NO_SCOPE)

    assert merged == expected
    assert data == before


@pytest.mark.parametrize(
    ("event_filter", "data", "payload", "expected"),
    [
        (
            {"data": "${ .customer }", "toStateData": "${ .customerInfo }"},
            GREETINGS,
            {"customer": CUSTOMER},
            {**GREETINGS, "customerInfo": CUSTOMER},
        ),
        (
            {"data": "${ .greet }", "toStateData": "${ .greet }"},
            {},
            {"greet": {"name": "John"}},
            {"greet": {"name": "John"}},
        ),
        (None, {"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
        ({"useData": False}, {"a": 1}, {"b": 2}, {"a": 1}),
        ({"data": "${ .missing }"}, {"a": 1}, {"b": 2}, {"a": 1}),
        (
            {"data": "${ .result }", "toStateData": "${ .move }"},
            {},
            {"result": "moved"},
            {"move": "moved"},
        ),
        (
            {"data": "${ .data }"},
            {"a": 1},
            {"id": "e-1", "data": {"b": 2}},
            {"a": 1, "b": 2},
        ),
    ],
    ids=[
        "spec-greet-customers-customer-info",
        "spec-03-greet",
        "no-filter-merges-whole-payload",
        "use-data-false",
        "null-selection-merges-nothing",
        "sonataflow-callback-move",
        "data-only-false-whole-cloudevent",
    ],
)
def test_merge_event_data(event_filter, data, payload, expected):
    merged = dataflow.merge_event_data(JQ, event_filter, data, payload, NO_SCOPE)

    assert merged == expected


def test_greet_customers_workflow_matches_every_spec_snapshot():
    # SW 0.8 "Using multiple data filters": one event state, all three filter kinds.
    state_filter = {
        "input": "${ .greetings } ",
        "output": "${ .finalCustomerGreeting }",
    }
    event_filter = {"data": "${ .customer }", "toStateData": "${ .customerInfo }"}
    action_filter = {
        "fromStateData": "${ .hello }",
        "results": "${ .greetingMessageResult }",
        "toStateData": "${ .finalCustomerGreeting }",
    }
    arguments = {
        "greeting": "${ .spanish } ",
        "customerName": "${ .customerInfo.name } ",
    }
    result = {
        "execInfo": {"execTime": "10ms", "failures": False},
        "greetingMessageResult": "Hola John Michaels!",
    }

    step1 = dataflow.filter_state_input(
        STRICT, state_filter, {"greetings": GREETINGS}, NO_SCOPE
    )
    step2 = dataflow.merge_event_data(
        STRICT, event_filter, step1, {"customer": CUSTOMER}, NO_SCOPE
    )
    action_data = dataflow.action_input(STRICT, action_filter, step2, NO_SCOPE)
    called_with = STRICT.resolve(arguments, action_data, NO_SCOPE)
    step3 = dataflow.merge_action_result(STRICT, action_filter, step2, result, NO_SCOPE)
    output = dataflow.filter_state_output(STRICT, state_filter, step3, NO_SCOPE)

    assert step1 == GREETINGS
    assert step2 == {**GREETINGS, "customerInfo": CUSTOMER}
    # Spec defect: fromStateData `.hello` hides `.customerInfo` from the arguments.
    assert called_with == {"greeting": "Hola", "customerName": None}
    assert step3 == {**step2, "finalCustomerGreeting": "Hola John Michaels!"}
    # The spec prints {"finalCustomerGreeting": ...}, but its own output filter
    # `${ .finalCustomerGreeting }` selects the bare string under jq; we follow jq.
    assert output == "Hola John Michaels!"


def test_filters_see_the_scope():
    scope = Scope(variables={"item": 2}, constants={"factor": 10})
    action_filter = {
        "results": "${ . * $CONST.factor + $item }",
        "toStateData": ".total",
    }

    merged = dataflow.merge_action_result(JQ, action_filter, {}, 4, scope)

    assert merged == {"total": 42}


@pytest.mark.parametrize(
    "call",
    [
        lambda: dataflow.filter_state_input(
            JQ, {"input": "${ .a.b }"}, {"a": "x"}, NO_SCOPE
        ),
        lambda: dataflow.merge_action_result(
            JQ, {"toStateData": "${ .a | tostring }"}, {}, 1, NO_SCOPE
        ),
        lambda: dataflow.merge_event_data(JQ, {"data": "${ .x + }"}, {}, {}, NO_SCOPE),
    ],
    ids=[
        "input-filter-runtime-error",
        "to-state-data-not-a-path",
        "event-filter-syntax-error",
    ],
)
def test_filter_failures_are_expression_errors(call):
    with pytest.raises(ExpressionError):
        call()


def test_merge_at_copies_the_path_and_shares_the_rest_unchanged():
    data = {"items": list(range(1000)), "c": {"current": 1}}

    merged = dataflow.merge_at(data, ["c", "current"], 2)

    assert merged["items"] is data["items"]
    assert merged["c"] is not data["c"]
    assert data["c"] == {"current": 1}


@pytest.mark.parametrize(
    ("path", "expected"),
    [(["a", "b"], 1), (["l", -1], 3), (["a", "x"], None), (["l", "b"], None)],
    ids=["nested", "negative-index", "missing", "wrong-container"],
)
def test_value_at_reads_the_element_at_a_path(path, expected):
    assert dataflow.value_at({"a": {"b": 1}, "l": [1, 2, 3]}, path) == expected
