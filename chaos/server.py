"""The suite's own PostgreSQL: a throwaway server on a free port, restarted by one scenario."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict
from tests.conftest import ROOT, scratch_database

from knflow.devstack import postgres
from knflow.devstack.postgres import EmbeddedPostgres
from knflow.store import db, migrate

DATA_DIR = ROOT / ".pgdata" / "chaos"


@contextlib.contextmanager
def throwaway_server(data_dir: Path = DATA_DIR) -> Iterator[EmbeddedPostgres]:
    """Start a fresh server in `data_dir` (its files removed before and after)."""
    shutil.rmtree(data_dir, ignore_errors=True)
    server = postgres.start_embedded(data_dir)
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # left stopped
            server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def migrated_template(server: EmbeddedPostgres) -> Iterator[str]:
    """A migrated database every scenario copies; yields its name."""
    with scratch_database(server.url, "knflow_chaos_tpl") as url:
        with db.connect(url) as conn:
            migrate.apply_migrations(conn)
        yield str(conninfo_to_dict(url)["dbname"])
