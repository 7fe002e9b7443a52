"""The migration runner applies shipped files once and refuses edited ones."""

from __future__ import annotations

import pytest

from knflow.errors import ConflictError
from knflow.store import db, migrate


def test_migrations_apply_to_an_empty_database_and_a_rerun_does_nothing(
    empty_database_url: str,
) -> None:
    with db.connect(empty_database_url) as conn:
        first = migrate.apply_migrations(conn)
        second = migrate.apply_migrations(conn)
    assert [m.version for m in first] == [
        m.version for m in migrate.shipped_migrations()
    ]
    assert second == []


def test_an_edited_migration_is_refused(empty_database_url: str) -> None:
    with db.connect(empty_database_url) as conn:
        migrate.apply_migrations(conn)
        conn.execute(
            "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1"
        )
        with pytest.raises(ConflictError, match="edited after it was applied"):
            migrate.apply_migrations(conn)


def test_migration_versions_are_unique_and_numbered_from_one() -> None:
    versions = [m.version for m in migrate.shipped_migrations()]
    assert versions == sorted(set(versions))
    assert versions[0] == 1
