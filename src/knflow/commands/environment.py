"""What commands share: resolving the database (or starting the embedded one) and opening services."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from knflow.config import Settings
from knflow.devstack import postgres
from knflow.outbound.http import new_client
from knflow.runtime.services import Services
from knflow.store import db, migrate

EMBEDDED_DATABASE = "knflow"


@contextmanager
def database(settings: Settings, *, data_dir: Path) -> Iterator[str]:
    """Yield a migrated database URL: `DATABASE_URL`, or an embedded server in `data_dir`."""
    if settings.database_url:
        with db.connect(settings.database_url) as conn:
            migrate.apply_migrations(conn)
        yield settings.database_url
        return
    server = postgres.start_embedded(data_dir)
    try:
        url = _ensure_database(server.url, EMBEDDED_DATABASE)
        with db.connect(url) as conn:
            migrate.apply_migrations(conn)
        yield url
    finally:
        server.stop()


@contextmanager
def scratch_database(settings: Settings, *, data_dir: Path) -> Iterator[str]:
    """Yield the URL of a new, migrated database, dropped afterwards.

    It lives on `DATABASE_URL`'s server, or on an embedded server in `data_dir`.
    """
    if settings.database_url:
        yield from _scratch_on(settings.database_url)
        return
    server = postgres.start_embedded(data_dir)
    try:
        yield from _scratch_on(server.url)
    finally:
        server.stop()


def _scratch_on(server_url: str) -> Iterator[str]:
    name = f"knflow_scratch_{uuid.uuid4().hex[:12]}"
    with db.connect(server_url) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = _with_database(server_url, name)
        with db.connect(url) as conn:
            migrate.apply_migrations(conn)
        yield url
    finally:
        with db.connect(server_url) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


@contextmanager
def services(settings: Settings, database_url: str) -> Iterator[Services]:
    """Open the pool and HTTP client for a command and close them afterwards."""
    pool = db.open_pool(database_url)
    client = new_client(settings.action_timeout)
    try:
        yield Services(settings=settings, pool=pool, http=client)
    finally:
        client.close()
        pool.close()


def _ensure_database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": name}
        ).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return _with_database(server_url, name)


def _with_database(server_url: str, name: str) -> str:
    params = {
        key: str(value)
        for key, value in conninfo_to_dict(server_url).items()
        if value is not None
    }
    params["dbname"] = name
    return make_conninfo("", **params)
