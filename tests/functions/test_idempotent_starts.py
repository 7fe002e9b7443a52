"""Idempotent starts through start-workflow's real entry module: `Idempotency-Key`, `businessKey`."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from psycopg_pool import ConnectionPool

from knflow.runtime.services import Services
from knflow.runtime.start_workflow import starting
from tests.conftest import REFERENCE_DATA, TEST_DATA
from tests.functions.conftest import FunctionClient

HELLO = REFERENCE_DATA / "sonataflow-examples" / "serverless-workflow-hello-world"


@pytest.fixture
def definitions(tmp_path: Path, register: Callable[[Path], list[str]]) -> Path:
    shutil.copy(HELLO / "hello.sw.json", tmp_path)
    shutil.copy(TEST_DATA / "workflows" / "waiter.sw.json", tmp_path)
    register(tmp_path)
    return tmp_path


@pytest.fixture
def api(function_client: FunctionClient, definitions: Path) -> FlaskClient:
    return function_client("start-workflow")


def _count(pool: ConnectionPool, workflow_id: str) -> int:
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM instances WHERE workflow_id = %s", (workflow_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_retried_start_with_the_same_idempotency_key_returns_the_first_instance(
    api: FlaskClient, pool: ConnectionPool
) -> None:
    key = {"Idempotency-Key": "order-7"}
    first = api.post("/waiter", json={"n": 1}, headers=key)
    again = api.post("/waiter", json={"n": 1}, headers=key)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert _count(pool, "waiter") == 1


def test_a_retried_start_with_the_same_business_key_returns_the_first_instance(
    api: FlaskClient, pool: ConnectionPool
) -> None:
    first = api.post("/hello_world?businessKey=b-1", json={})
    again = api.post("/hello_world?businessKey=b-1", json={})
    other = api.post("/hello_world?businessKey=b-2", json={})
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert again.get_json() == first.get_json()
    assert other.get_json()["id"] != first.get_json()["id"]
    assert _count(pool, "hello_world") == 2


def test_an_idempotency_key_reused_with_other_data_is_refused_with_409(
    api: FlaskClient, pool: ConnectionPool
) -> None:
    key = {"Idempotency-Key": "order-8"}
    first = api.post("/waiter", json={"n": 1}, headers=key)
    other = api.post("/waiter", json={"n": 2}, headers=key)
    assert other.status_code == 409
    message = other.get_json()["message"]
    assert "Idempotency-Key 'order-8'" in message
    assert first.get_json()["id"] in message
    assert _count(pool, "waiter") == 1


def test_a_key_past_the_window_starts_a_new_instance(
    api: FlaskClient, pool: ConnectionPool
) -> None:
    key = {"Idempotency-Key": "order-9"}
    first = api.post("/waiter", json={}, headers=key)
    with pool.connection() as conn:
        conn.execute(
            "UPDATE start_keys SET created_at = created_at - interval '25 hours'"
        )
    again = api.post("/waiter", json={}, headers=key)
    assert again.status_code == 201
    assert again.get_json()["id"] != first.get_json()["id"]
    assert _count(pool, "waiter") == 2


@pytest.mark.parametrize("key", ["", " ", "k" * 256], ids=["empty", "blank", "long"])
def test_a_blank_or_too_long_key_is_refused_with_400(
    api: FlaskClient, pool: ConnectionPool, key: str
) -> None:
    answer = api.post("/waiter", json={}, headers={"Idempotency-Key": key})
    assert answer.status_code == 400
    assert "Idempotency-Key must be 1 to 255 characters" in answer.get_json()["message"]
    assert _count(pool, "waiter") == 0


def test_concurrent_starts_with_one_key_create_one_instance(
    services: Services, definitions: Path, pool: ConnectionPool
) -> None:
    request = starting.StartRequest(
        workflow_id="waiter", data={"n": 1}, idempotency_key="burst"
    )
    with ThreadPoolExecutor(max_workers=4) as threads:
        started = list(
            threads.map(lambda _: starting.start(services, request), range(8))
        )
    assert len({s.row.id for s in started}) == 1
    assert sum(not s.replayed for s in started) == 1
    assert _count(pool, "waiter") == 1
