"""The migration ledger: which migrations the package ships, and which the database applied.

What readiness asks: it lists the migration files by name and reads the applied versions,
never a file's text (reading and checking the text is `migrate`'s, when it applies them).
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from psycopg import errors as pg_errors

from knflow.store.db import Connection
from knflow.store.sql import queries


def pending_versions(conn: Connection) -> list[int]:
    """Return the shipped versions the database has not applied, in order.

    One statement, for a cold start's first readiness answer: a database never migrated
    tells so by the error its missing ledger table raises. `conn` must be in autocommit
    mode (that error would abort a transaction).
    """
    try:
        applied = {
            row[0] for row in conn.execute(queries("ledger")["applied_versions"])
        }
    except pg_errors.UndefinedTable:
        applied = set()
    return [version for version in shipped_versions() if version not in applied]


def shipped_versions() -> list[int]:
    """Return the versions of the migration files in the package, in order."""
    return [parse_file_name(file_name)[0] for file_name in shipped_file_names()]


def shipped_file_names() -> list[str]:
    """Return the names of the migration files in the package, ordered by version.

    Names only: a `Traversable` per file, or a value object per file, would cost a cold
    start more than the names it needs.
    """
    entries = migrations_folder().iterdir()
    names = [entry.name for entry in entries if entry.name.endswith(".sql")]
    return sorted(names, key=lambda name: parse_file_name(name)[0])


def parse_file_name(file_name: str) -> tuple[int, str]:
    """Split `NNNN_short_description.sql` into its version and its name."""
    number, _, name = file_name.removesuffix(".sql").partition("_")
    return int(number), name


def migrations_folder() -> Traversable:
    """Return the package folder the migration files are shipped in."""
    return resources.files("knflow.store").joinpath("migrations")
