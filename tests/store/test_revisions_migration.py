"""Migration 0012: existing definitions become revisions and existing instances point at them."""

from __future__ import annotations

from typing import Final

from knflow.store import db, migrate

REVISIONS: Final = 12


def test_existing_definitions_become_revisions_their_instances_run(
    empty_database_url: str,
) -> None:
    earlier = [m for m in migrate.shipped_migrations() if m.version < REVISIONS]
    [revisions] = [m for m in migrate.shipped_migrations() if m.version == REVISIONS]
    with db.connect(empty_database_url) as conn:
        for migration in earlier:
            conn.execute(migration.sql)
        conn.execute(
            "INSERT INTO definitions (workflow_id, version, name, source, checksum,"
            " registered_at) VALUES"
            " ('w', '2.0', 'W', '{}', 'sum-2', '2026-02-01T00:00:00Z'),"
            " ('w', '1.0', 'W', '{}', 'sum-1', '2026-01-01T00:00:00Z')"
        )
        conn.execute(
            "INSERT INTO instances (id, workflow_id, workflow_version, status,"
            " started_at, updated_at) VALUES"
            " ('i1', 'w', '1.0', 'ACTIVE', now(), now()),"
            " ('i2', 'w', '2.0', 'COMPLETED', now(), now())"
        )

        conn.execute(revisions.sql)

        listed = conn.execute(
            "SELECT revision, version, label, checksum FROM definition_revisions"
            " ORDER BY revision"
        ).fetchall()
        pinned = conn.execute(
            "SELECT id, definition_revision FROM instances ORDER BY id"
        ).fetchall()
    assert listed == [(1, "1.0", "1.0", "sum-1"), (2, "2.0", "2.0", "sum-2")]
    assert pinned == [("i1", 1), ("i2", 2)]
