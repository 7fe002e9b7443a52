"""The migration runner: applies numbered, forward-only SQL files in order, once each.

Each file runs in its own transaction under an advisory lock, and is recorded with its
checksum; an applied file whose text changed stops the run (migrations are never edited).
Which files the package ships, and which versions are pending, is the `ledger`'s.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Final

from knflow.errors import ConflictError
from knflow.store import ledger
from knflow.store.db import Connection
from knflow.store.sql import queries

logger = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every process that migrates.
MIGRATION_LOCK_KEY: Final = 7_340_512_001


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """One migration file shipped in the package, with its text."""

    version: int
    """The number the file name starts with."""
    name: str
    """The file name without its number and suffix."""
    sql: str
    """The statements."""

    @property
    def checksum(self) -> str:
        """SHA-256 of the text: an applied file must never change."""
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def shipped_migrations() -> list[Migration]:
    """Return the migrations in the package, with their text, ordered by version."""
    folder = ledger.migrations_folder()
    migrations = []
    for file_name in ledger.shipped_file_names():
        version, name = ledger.parse_file_name(file_name)
        text = folder.joinpath(file_name).read_text("utf-8")
        migrations.append(Migration(version=version, name=name, sql=text))
    return migrations


def apply_migrations(conn: Connection) -> list[Migration]:
    """Apply every pending migration; return those applied (empty when up to date).

    `conn` must be in autocommit mode: each file gets its own transaction here.

    Raises:
        ConflictError: an applied migration's text differs from the shipped file.
    """
    q = queries("migrate")
    conn.execute(q["create_schema_migrations"])
    applied_now = []
    with conn.transaction():
        # Serialises concurrent migrators (dev runner, tests, the Job); released at commit.
        conn.execute(q["lock_migrations"], {"key": MIGRATION_LOCK_KEY})
        applied = {row[0]: row[1] for row in conn.execute(q["applied_checksums"])}
        for migration in shipped_migrations():
            if migration.version in applied:
                _check_unchanged(migration, str(applied[migration.version]))
                continue
            conn.execute(migration.sql)  # the package's own file, not input
            conn.execute(
                q["record_migration"],
                {
                    "version": migration.version,
                    "name": migration.name,
                    "checksum": migration.checksum,
                },
            )
            logger.info(
                "migration applied",
                extra={"version": migration.version, "migration": migration.name},
            )
            applied_now.append(migration)
    return applied_now


def _check_unchanged(migration: Migration, recorded: str) -> None:
    if recorded != migration.checksum:
        raise ConflictError(
            f"migration {migration.version:04d}_{migration.name} was edited after it was applied;"
            " add a new migration instead"
        )
