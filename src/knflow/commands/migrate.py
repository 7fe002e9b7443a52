"""`knflow migrate`: apply the pending migrations to `DATABASE_URL`."""

from __future__ import annotations

import argparse
import sys

from knflow.config import Settings
from knflow.errors import KnflowError
from knflow.store import db, migrate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument(
        "--database-url", default=None, help="libpq URL (default: DATABASE_URL)"
    )


def run(args: argparse.Namespace) -> int:
    """Apply migrations; print what was applied."""
    url = (
        args.database_url
        if args.database_url is not None
        else Settings.from_environment().database_url
    )
    try:
        with db.connect(url) as conn:
            applied = migrate.apply_migrations(conn)
    except KnflowError as error:
        print(f"knflow migrate: {error}", file=sys.stderr)
        return 1
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    if not applied:
        print("database is up to date")
    return 0
