"""Data Index filter semantics: operators, and/or flattening, not, JSON, counts, jobs."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from knflow.events.codec import Event
from tests.graphql.conftest import ANN, data, gql, post_event

DECLARED = {"v": "String", "d": "DateTime", "s": "[ProcessInstanceState]"}


def ids(
    client: FlaskClient, where: str, variables: dict[str, object] | None = None
) -> list[str]:
    declared = ", ".join(f"${name}: {DECLARED[name]}" for name in variables or {})
    header = f"query ({declared})" if declared else "query"
    query = header + (
        f" {{ ProcessInstances(where: {where}, orderBy: {{start: ASC}}) {{ id }} }}"
    )
    return [i["id"] for i in data(client, query, variables or {})["ProcessInstances"]]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("{state: {equal: ERROR}}", ["f-1"]),
        ("{state: {in: [ACTIVE, ERROR]}}", ["f-1", "w-1"]),
        ('{processName: {like: "Appr*"}}', ["w-1"]),
        ('{processName: {like: "%ree%"}}', ["c-1", "f-1", "child-1", "r-1"]),
        ("{parentProcessInstanceId: {isNull: false}}", ["child-1"]),
        ("{end: {isNull: true}}", ["f-1", "w-1"]),
        ('{start: {greaterThan: "2024-05-01T10:00:20Z"}}', ["child-1", "r-1"]),
        (
            '{start: {greaterThanEqual: "2024-05-01T10:00:20Z"}}',
            ["w-1", "child-1", "r-1"],
        ),
        ('{start: {lessThan: "2024-05-01T12:00:10+02:00"}}', ["c-1"]),
        (
            '{start: {between: {from: "2024-05-01T10:00:05Z", to: "2024-05-01T10:00:25Z"}}}',
            ["f-1", "w-1", "child-1"],
        ),
        ('{error: {message: {like: "greeting*"}}}', ["f-1"]),
        ('{nodes: {name: {equal: "WaitForApproval"}}}', ["w-1"]),
        ("{nodes: {contains: {errorMessage: {isNull: false}}}}", ["f-1", "r-1"]),
        ('{definition: {name: {equal: "Approve"}}}', ["w-1"]),
        ("{milestones: {isNull: true}}", ["c-1", "f-1", "w-1", "child-1", "r-1"]),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_operators(shared_index: FlaskClient, where: str, expected: list[str]) -> None:
    assert ids(shared_index, where) == expected


def test_a_single_object_or_means_or_of_its_fields(shared_index: FlaskClient) -> None:
    where = '{or: {state: {equal: ERROR}, processId: {equal: "approve"}}}'

    assert ids(shared_index, where) == ["f-1", "w-1"]


def test_or_flattens_the_fields_of_every_element(shared_index: FlaskClient) -> None:
    where = '{or: [{id: {equal: "c-1"}, state: {equal: ERROR}}, {id: {equal: "w-1"}}]}'

    assert ids(shared_index, where) == ["c-1", "f-1", "w-1"]


def test_and_inside_or_stays_one_condition(shared_index: FlaskClient) -> None:
    where = (
        '{or: [{and: [{processId: {equal: "greet"}}, {state: {equal: ERROR}}]},'
        ' {id: {equal: "w-1"}}]}'
    )

    assert ids(shared_index, where) == ["f-1", "w-1"]


def test_not_negates_each_field(shared_index: FlaskClient) -> None:
    where = '{not: {processId: {equal: "greet"}, state: {equal: ERROR}}}'

    assert ids(shared_index, where) == ["w-1"]


def test_state_variables_are_enum_values(shared_index: FlaskClient) -> None:
    assert ids(shared_index, "{state: {in: $s}}", {"s": ["ACTIVE"]}) == ["w-1"]


def test_date_variables_accept_offsets(shared_index: FlaskClient) -> None:
    where = "{start: {lessThanEqual: $d}}"

    assert ids(shared_index, where, {"d": "2024-05-01T12:00:10+02:00"}) == [
        "c-1",
        "f-1",
    ]


def test_json_filter_with_a_variable_inside_the_literal(
    shared_index: FlaskClient,
) -> None:
    where = "{variables: {initiatorEntity: {equal: $v}}}"

    assert ids(shared_index, where, {"v": ANN}) == ["c-1", "w-1"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ('{variables: {workflowdata: {name: {equal: "Bob"}}}}', ["f-1", "r-1"]),
        (
            '{variables: {workflowdata: {name: {in: ["Bob", "Cy"]}}}}',
            ["f-1", "w-1", "r-1"],
        ),
        ('{variables: {workflowdata: {name: {like: "C*"}}}}', ["w-1"]),
        (
            "{variables: {workflowdata: {greeting: {isNull: false}}}}",
            ["c-1", "child-1"],
        ),
        ("{variables: {targetEntity: {isNull: true}}}", ["f-1", "child-1", "r-1"]),
        ('{variables: {workflowdata: {name: {greaterThan: "Bob"}}}}', ["w-1"]),
    ],
)
def test_json_operators(
    shared_index: FlaskClient, where: str, expected: list[str]
) -> None:
    assert ids(shared_index, where) == expected


def test_metadata_json_filter_on_definitions(shared_index: FlaskClient) -> None:
    query = '{ ProcessDefinitions(where: {metadata: {status: {equal: "unavailable"}}}) { id } }'

    assert data(shared_index, query)["ProcessDefinitions"] == [{"id": "retired"}]


def test_definition_array_filter(shared_index: FlaskClient) -> None:
    query = (
        '{ ProcessDefinitions(where: {annotations: {contains: "greeting"}}) { id } }'
    )

    assert len(data(shared_index, query)["ProcessDefinitions"]) == 3


def test_counts(shared_index: FlaskClient) -> None:
    query = (
        '{ CountProcessInstances(where: {processId: {equal: "greet"}})'
        " CountProcessDefinitions CountJobs }"
    )

    assert data(shared_index, query) == {
        "CountProcessInstances": 4,
        "CountProcessDefinitions": 3,
        "CountJobs": 0,
    }


def test_ordering_by_a_nested_error_field_and_state(shared_index: FlaskClient) -> None:
    query = "{ ProcessInstances(orderBy: {state: DESC}) { id state } }"

    found = data(shared_index, query)["ProcessInstances"]

    assert found[0] == {"id": "f-1", "state": "ERROR"}


def test_child_instances_and_the_definition_of_an_instance(
    shared_index: FlaskClient,
) -> None:
    query = (
        '{ ProcessInstances(where: {id: {equal: "w-1"}}) { childProcessInstances { id }'
        " definition { id name } nodeDefinitions { id metadata { UniqueId state } }"
        " source lastUpdate } }"
    )

    [found] = data(shared_index, query)["ProcessInstances"]

    assert found["childProcessInstances"] == [{"id": "child-1"}]
    assert found["definition"] == {"id": "approve", "name": "Approve"}
    assert found["nodeDefinitions"][0]["metadata"]["UniqueId"] == "ChooseOnLanguage"
    assert found["lastUpdate"] == "2024-05-01T10:00:22.000Z"


def test_jobs_are_indexed_and_filtered(sink: FlaskClient) -> None:
    job = {
        "id": "j-1",
        "processInstanceId": "w-1",
        "processId": "approve",
        "status": "SCHEDULED",
        "expirationTime": "2024-05-01T11:00:00Z",
        "lastUpdate": "2024-05-01T10:00:00Z",
        "priority": 0,
        "retries": 0,
        "executionCounter": 0,
    }
    post_event(
        sink, Event(id="e-1", source="/jobs", type="JobEvent", data=job), path="/jobs"
    )
    done = {**job, "status": "EXECUTED", "lastUpdate": "2024-05-01T11:00:01Z"}
    post_event(
        sink, Event(id="e-2", source="/jobs", type="JobEvent", data=done), path="/jobs"
    )

    query = '{ Jobs(where: {status: {in: [EXECUTED]}, processInstanceId: {equal: "w-1"}}) { id status expirationTime } }'

    assert data(sink, query)["Jobs"] == [
        {
            "id": "j-1",
            "status": "EXECUTED",
            "expirationTime": "2024-05-01T11:00:00.000Z",
        }
    ]


def test_a_page_larger_than_the_limit_is_a_data_fetching_error(
    shared_index: FlaskClient,
) -> None:
    answer = gql(
        shared_index, "{ ProcessInstances(pagination: {limit: 100000}) { id } }"
    )

    assert (
        answer["errors"][0]["extensions"]["classification"] == "DataFetchingException"
    )
    assert "maximum" in answer["errors"][0]["message"]


def test_an_unknown_field_is_a_validation_error(shared_index: FlaskClient) -> None:
    answer = gql(shared_index, "{ ProcessInstances { nope } }")

    assert answer["errors"][0]["extensions"]["classification"] == "ValidationError"
    assert "data" not in answer


def test_a_syntax_error_is_invalid_syntax(shared_index: FlaskClient) -> None:
    answer = gql(shared_index, "{ ProcessInstances { id ")

    assert answer["errors"][0]["extensions"]["classification"] == "InvalidSyntax"


def test_a_too_deep_query_is_refused(shared_index: FlaskClient) -> None:
    nested = "parentProcessInstance { " * 16 + "id" + " }" * 16

    answer = gql(shared_index, "{ ProcessInstances { " + nested + " } }")

    assert "KNFLOW_GRAPHQL_MAX_DEPTH" in answer["errors"][0]["message"]


def test_a_json_filter_without_operator_is_refused_clearly(
    shared_index: FlaskClient,
) -> None:
    answer = gql(
        shared_index, '{ ProcessInstances(where: {variables: {a: "b"}}) { id } }'
    )

    assert "needs an operator" in answer["errors"][0]["message"]
