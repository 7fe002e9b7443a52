"""`knflow schema`: print the schema the migrations produce, read from a scratch database.

The migrations are the only statement of the schema; this prints their result for
reading (with `pg_dump --schema-only`) and is never committed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from knflow.commands import environment
from knflow.config import Settings
from knflow.devstack import postgres
from knflow.errors import KnflowError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options (none)."""


def run(args: argparse.Namespace) -> int:
    """Migrate a scratch database, print its schema, drop it."""
    pg_dump = _pg_dump()
    if pg_dump is None:
        print(
            "knflow schema: pg_dump was not found; install the PostgreSQL client tools",
            file=sys.stderr,
        )
        return 1
    settings = Settings.from_environment()
    data_dir = Path.cwd() / ".pgdata" / "schema"
    try:
        with environment.scratch_database(settings, data_dir=data_dir) as url:
            dumped = subprocess.run(
                [pg_dump, "--schema-only", "--no-owner", "--no-privileges", url],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
    except KnflowError as error:
        print(f"knflow schema: {error}", file=sys.stderr)
        return 1
    if dumped.returncode != 0:
        reason = dumped.stderr.strip().splitlines()[-1:] or ["no message"]
        print(f"knflow schema: pg_dump failed: {reason[0]}", file=sys.stderr)
        return 1
    sys.stdout.write(dumped.stdout)
    return 0


def _pg_dump() -> str | None:
    found = shutil.which("pg_dump")
    if found:
        return found
    try:
        candidate = postgres.binaries_folder() / "pg_dump"
    except RuntimeError:
        return None
    return str(candidate) if candidate.exists() else None
