"""Shared fixtures: a real PostgreSQL, one migrated template, one fresh database per test."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from knflow.config import Settings
from knflow.devstack import postgres
from knflow.outbound.http import new_client
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import registration
from knflow.store import db, migrate
from tests import issuer as issuers
from tests.backstage import BackstageStandIn
from tests.issuer import Issuer
from tests.peers import HttpPeer, started_peer
from tests.stack import DevStack

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).resolve().parent / "data"
REFERENCE_DATA = (
    TEST_DATA / "reference"
)  # upstream data files, see tests/data/NOTICE.md


def _server_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    if os.environ.get("PGHOST") or os.environ.get("PGPORT"):
        return ""
    if postgres.is_answering():
        return postgres.MACHINE_SERVER_URL
    server = postgres.start_embedded(ROOT / ".pgdata" / "tests")
    return server.url


def with_dbname(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)


@pytest.fixture(scope="session")
def server_url() -> str:
    """libpq URL of the server the suite uses (never a skip: a missing server is an error)."""
    return _server_url()


@contextmanager
def scratch_database(
    server_url: str, prefix: str, *, template: str | None = None
) -> Iterator[str]:
    """Create a database (a copy of `template`, or empty), yield its URL, drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)
        )
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(create)
    try:
        yield with_dbname(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


@pytest.fixture(scope="session")
def template_db(server_url: str, worker_id: str) -> Iterator[str]:
    """A database migrated once per test worker, copied by every test that needs one."""
    with scratch_database(server_url, f"knflow_tpl_{worker_id}") as url:
        with db.connect(url) as conn:
            migrate.apply_migrations(conn)
        yield str(conninfo_to_dict(url)["dbname"])


@pytest.fixture
def database_url(server_url: str, template_db: str) -> Iterator[str]:
    """URL of a fresh, migrated database of this test's own, dropped afterwards."""
    with scratch_database(server_url, "knflow_t", template=template_db) as url:
        yield url


@pytest.fixture(scope="module")
def module_database_url(server_url: str, template_db: str) -> Iterator[str]:
    """A fresh, migrated database shared by one test module (end-to-end stacks)."""
    with scratch_database(server_url, "knflow_m", template=template_db) as url:
        yield url


@pytest.fixture
def empty_database_url(server_url: str) -> Iterator[str]:
    """URL of a fresh database with no schema at all (migration tests)."""
    with scratch_database(server_url, "knflow_e") as url:
        yield url


@pytest.fixture
def pool(database_url: str) -> Iterator[ConnectionPool]:
    """A connection pool on this test's database."""
    opened = db.open_pool(database_url, max_size=4)
    yield opened
    opened.close()


@pytest.fixture
def http_peer() -> Iterator[HttpPeer]:
    """A local HTTP server standing in for an external service; see `tests/peers.py`."""
    yield from started_peer()


@pytest.fixture
def backstage_api(http_peer: HttpPeer) -> BackstageStandIn:
    """Backstage's Notifications API on `http_peer`; see `tests/backstage.py`."""
    return BackstageStandIn(http_peer)


@pytest.fixture
def keycloak() -> Iterator[Issuer]:
    """A local Keycloak-realm-shaped OIDC issuer; see `tests/issuer.py`."""
    yield from issuers.keycloak()


@pytest.fixture
def backstage() -> Iterator[Issuer]:
    """A local Backstage auth backend publishing its JWKS; see `tests/issuer.py`."""
    yield from issuers.backstage()


@pytest.fixture
def dev_stack_factory(
    database_url: str, tmp_path: Path
) -> Iterator[Callable[..., DevStack]]:
    """Start the whole system with `knflow dev`: `start(workflows_dir, env=None) -> DevStack`.

    Each stack runs on six free ports against this test's database, registers the
    definitions in `workflows_dir`, and is up (every function ready) when `start`
    returns; `env` adds environment variables for every process. The stacks stop at
    teardown, and their log tail is printed (pytest shows it when the test failed).
    See `tests/stack.py` for `url`, `broker_url`, `kill` and `wait_restarted`.
    """
    stacks: list[DevStack] = []

    def start(workflows_dir: Path, env: dict[str, str] | None = None) -> DevStack:
        work_dir = tmp_path / f"dev-stack-{len(stacks)}"
        stack = DevStack.start(
            workflows_dir=workflows_dir,
            database_url=database_url,
            work_dir=work_dir,
            env=env,
        )
        stacks.append(stack)
        return stack

    yield start
    for stack in stacks:
        stack.stop()
        sys.stdout.write(f"--- knflow dev log tail ({stack.log_file}) ---\n")
        sys.stdout.write(stack.log_tail() + "\n")


@pytest.fixture
def services(pool: ConnectionPool) -> Iterator[Services]:
    """Services on this test's database, with the settings of the environment."""
    http = new_client(timedelta(seconds=10))
    yield Services(settings=Settings.from_environment(), pool=pool, http=http)
    http.close()


@pytest.fixture
def register(services: Services) -> Callable[[Path], list[str]]:
    """Register every definition of a folder."""
    return lambda folder: registration.register_folder(services, folder)
