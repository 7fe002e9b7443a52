"""The ledger tells the shipped migration versions from the applied ones, by name alone."""

from __future__ import annotations

from knflow.store import db, ledger, migrate


def test_every_shipped_version_is_pending_on_a_database_never_migrated(
    empty_database_url: str,
) -> None:
    with db.connect(empty_database_url) as conn:
        pending = ledger.pending_versions(conn)
        conn.execute("SELECT 1")  # the connection still serves
    assert pending == ledger.shipped_versions()


def test_nothing_is_pending_on_a_migrated_database(database_url: str) -> None:
    with db.connect(database_url) as conn:
        pending = ledger.pending_versions(conn)
    assert pending == []


def test_a_version_the_database_did_not_record_is_pending(database_url: str) -> None:
    newest = ledger.shipped_versions()[-1]
    with db.connect(database_url) as conn:
        conn.execute(
            "DELETE FROM schema_migrations WHERE version = %(version)s",
            {"version": newest},
        )
        pending = ledger.pending_versions(conn)
    assert pending == [newest]


def test_the_shipped_versions_are_those_the_runner_applies_in_order() -> None:
    versions = ledger.shipped_versions()
    assert versions == [m.version for m in migrate.shipped_migrations()]
    assert versions == sorted(set(versions))


def test_a_file_name_splits_into_its_version_and_its_name() -> None:
    assert ledger.parse_file_name("0012_definition_revisions.sql") == (
        12,
        "definition_revisions",
    )
