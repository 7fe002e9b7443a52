"""start-workflow's revisions listing and instance migration through its real entry module."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from knflow.runtime.services import Services
from tests.functions.conftest import FunctionClient
from tests.runtime import runs
from tests.runtime.pinning import register, row_of, waiter


@pytest.fixture
def api(function_client: FunctionClient, services: Services) -> FlaskClient:
    register(services, waiter("one"))
    return function_client("start-workflow")


def start(api: FlaskClient, query: str = "") -> str:
    answer = api.post(f"/pinned{query}", json={})
    assert answer.status_code == 201, answer.get_json()
    return str(answer.get_json()["id"])


def migrate(api: FlaskClient, instance_id: str, body: Any) -> Any:
    return api.post(
        f"/management/processes/pinned/instances/{instance_id}/migrate", json=body
    )


def test_the_revisions_of_a_workflow_are_listed_oldest_first(
    api: FlaskClient, services: Services
) -> None:
    start(api)
    register(services, waiter("two"))

    answer = api.get("/management/processes/pinned/revisions")

    assert answer.status_code == 200
    listed = answer.get_json()
    assert [(r["revision"], r["label"], r["latest"]) for r in listed] == [
        (1, "1.0", False),
        (2, "1.0+r2", True),
    ]
    assert [r["unfinishedInstances"] for r in listed] == [1, 0]
    assert len(listed[0]["checksum"]) == 64


def test_the_revisions_of_an_unknown_workflow_are_404(api: FlaskClient) -> None:
    answer = api.get("/management/processes/nowhere/revisions")
    assert answer.status_code == 404
    assert "'nowhere' is not registered" in answer.get_json()["message"]


def test_migrate_moves_a_waiting_instance_and_answers_its_new_version(
    api: FlaskClient, services: Services
) -> None:
    instance_id = start(api)
    register(services, waiter("two"))

    answer = migrate(api, instance_id, {"revision": 2})

    assert answer.status_code == 200
    assert answer.get_json() == {
        "id": instance_id,
        "processId": "pinned",
        "fromRevision": 1,
        "revision": 2,
        "version": "1.0+r2",
    }
    assert row_of(services, instance_id).definition_revision == 2


def test_migrate_accepts_kogitos_target_version(
    api: FlaskClient, services: Services
) -> None:
    instance_id = start(api)
    register(services, waiter("two", version="2.0"))

    answer = migrate(
        api,
        instance_id,
        {"targetProcessId": "pinned", "targetProcessVersion": "2.0"},
    )

    assert (answer.status_code, answer.get_json()["version"]) == (200, "2.0")


def test_migrate_to_a_revision_without_the_waiting_state_answers_409(
    api: FlaskClient, services: Services
) -> None:
    instance_id = start(api)
    register(services, waiter("two", wait_state="Await"))

    answer = migrate(api, instance_id, {})

    assert answer.status_code == 409
    assert answer.get_json()["message"] == (
        f"instance '{instance_id}' cannot move to revision 2 of workflow 'pinned':"
        " state 'Wait' does not exist in the target"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"targetProcessId": "other"}, "not to workflow 'other'"),
        ({"revision": "2"}, "'revision' must be a positive integer"),
        ({"revision": 2, "version": "1.0"}, "not both"),
        ({"revison": 2}, "unknown keys: revison"),
        ([2], "must be a JSON object"),
    ],
    ids=["other-workflow", "revision-not-a-number", "both", "typo", "not-an-object"],
)
def test_a_malformed_migration_request_answers_400_naming_the_problem(
    api: FlaskClient, body: Any, message: str
) -> None:
    answer = migrate(api, start(api), body)
    assert answer.status_code == 400
    assert message in answer.get_json()["message"]


def test_a_start_may_name_its_version_in_the_query(
    api: FlaskClient, services: Services
) -> None:
    register(services, waiter("two", version="2.0"))

    instance_id = start(api, "?version=1.0")

    assert row_of(services, instance_id).definition_revision == 1


def test_the_data_index_gives_a_later_revision_its_versions_definition(
    api: FlaskClient, function_client: FunctionClient, services: Services
) -> None:
    register(services, waiter("two"))
    instance_id = start(api)
    runs.index_outbox(services)
    query = (
        "query ($id: String!, $name: String) {"
        " ProcessInstances(where: {id: {equal: $id}, definition: {name: {equal: $name}}})"
        " { version definition { version } } }"
    )

    answer = function_client("data-index-sink").post(
        "/graphql",
        json={"query": query, "variables": {"id": instance_id, "name": "Pinned"}},
    )

    assert answer.get_json()["data"]["ProcessInstances"] == [
        {"version": "1.0+r2", "definition": {"version": "1.0"}}
    ]
