"""What a database holds and what was written to it: table bytes and rows, and WAL.

Table bytes are `pg_total_relation_size` (heap, indexes, TOAST) summed over every table
outside the system schemas; rows are exact counts. WAL bytes are the records between two
positions whose blocks belong to this database (`pg_walinspect`); commit records carry no
block and are left out. WAL is cluster-wide and recycled, so that figure is None when the
extension is missing or the segments are gone.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import psycopg
from psycopg import sql

TABLES_SQL = """
SELECT n.nspname, c.relname, pg_total_relation_size(c.oid)
  FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg_toast%'
"""
WAL_SQL = """
SELECT coalesce(sum(record_length), 0)
  FROM pg_get_wal_records_info(%(start)s::pg_lsn, %(end)s::pg_lsn)
 WHERE block_ref LIKE %(pattern)s
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """Sizes and counts at one moment, and the WAL position."""

    table_bytes: int
    rows: int
    wal_lsn: str


def snapshot(conn: psycopg.Connection) -> Snapshot:
    """Measure every user table of the connection's database, and note the WAL position."""
    total_bytes, total_rows = 0, 0
    for schema, table, size in conn.execute(TABLES_SQL).fetchall():
        total_bytes += int(size)
        counted = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
        ).fetchone()
        total_rows += int(counted[0]) if counted else 0
    # pg_walinspect reads only flushed WAL; what we wrote was flushed at its commit.
    lsn = conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()
    return Snapshot(
        table_bytes=total_bytes, rows=total_rows, wal_lsn=str(lsn[0]) if lsn else "0/0"
    )


def prepare_wal_inspection(conn: psycopg.Connection) -> None:
    """Create `pg_walinspect` in this database when the server offers it."""
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
    except psycopg.Error as error:
        sys.stderr.write(f"note: pg_walinspect is not available: {error}\n")


def wal_bytes(
    conn: psycopg.Connection, before: Snapshot, after: Snapshot
) -> int | None:
    """WAL bytes of records touching this database's relations between two snapshots."""
    oid = conn.execute(
        "SELECT oid FROM pg_database WHERE datname = current_database()"
    ).fetchone()
    try:
        row = conn.execute(
            WAL_SQL,
            {
                "start": before.wal_lsn,
                "end": after.wal_lsn,
                "pattern": f"%/{oid[0] if oid else 0}/%",
            },
        ).fetchone()
    except psycopg.Error as error:
        sys.stderr.write(f"note: WAL bytes not measured: {error}\n")
        return None
    return int(row[0]) if row else None
