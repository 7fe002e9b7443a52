"""Scratch databases of one suite run on the machine's PostgreSQL: created, migrated, dropped.

Every name starts with `knflow_bench_<run>_`, so that the end of a run (or of an interrupted
one, through `sweep`) drops exactly what it made and nothing of anyone else's.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from bench import procs

SERVER_URL: Final = (
    os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
)
PREFIX: Final = "knflow_bench_"
RUN_ID: Final = uuid.uuid4().hex[:6]


def url_of(name: str) -> str:
    """The URL (`postgresql://...`, which DBOS's SQLAlchemy also reads) of database `name`."""
    params = {k: v for k, v in conninfo_to_dict(SERVER_URL).items() if v is not None}
    user = quote(str(params.get("user", "postgres")), safe="")
    password = params.get("password")
    credentials = f"{user}:{quote(str(password), safe='')}" if password else user
    host = params.get("host", "127.0.0.1")
    port = params.get("port", "5432")
    return f"postgresql://{credentials}@{host}:{port}/{name}"


@contextmanager
def database(label: str, *, migrated: bool) -> Iterator[str]:
    """A fresh database for the block (migrated by `knflow migrate` when asked); its URL."""
    name = f"{PREFIX}{RUN_ID}_{label}_{uuid.uuid4().hex[:4]}"
    with psycopg.connect(SERVER_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        if migrated:
            migrate(url_of(name))
        yield url_of(name)
    finally:
        drop(name)


def migrate(url: str) -> None:
    """Apply knflow's migrations with its own command, as an operator would."""
    subprocess.run(
        [str(procs.BIN / "knflow"), "migrate"],
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
    )


def drop(name: str, *, attempts: int = 20) -> None:
    """Drop one database, closing whatever is still connected to it.

    A terminated backend can take a few seconds to exit on a loaded machine, and FORCE
    gives up while it has not: try again for a while.
    """
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
        sql.Identifier(name)
    )
    for attempt in range(attempts):
        try:
            with psycopg.connect(SERVER_URL, autocommit=True) as admin:
                admin.execute(statement)
            return
        except psycopg.errors.ObjectInUse:
            if attempt == attempts - 1:
                raise
            time.sleep(1.0)


def sweep(*, every_run: bool = False) -> list[str]:
    """Drop the databases of this run (of every run with `every_run`); return their names."""
    prefix = PREFIX if every_run else f"{PREFIX}{RUN_ID}_"
    with psycopg.connect(SERVER_URL, autocommit=True) as admin:
        names = [
            str(row[0])
            for row in admin.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %(p)s)",
                {"p": prefix},
            ).fetchall()
        ]
    for name in names:
        drop(name)
    return names
