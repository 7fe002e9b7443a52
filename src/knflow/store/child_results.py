"""Results of foreach iterations kept apart from the execution until their parent collects them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg.types.json import Jsonb

from knflow.store.db import Connection
from knflow.store.sql import queries
from knflow.workflow.model import Json


@dataclass(frozen=True, slots=True, kw_only=True)
class KeptResult:
    """What one finished child left its parent."""

    family: str
    """The children's family."""
    index: int
    """The child's index in it."""
    leftover: Json
    """What the parent collects."""


def keep(conn: Connection, instance_id: str, kept: Sequence[KeptResult]) -> None:
    """Store finished children's results in one statement (a repeat replaces its row)."""
    if not kept:
        return
    rows = [
        {"family": k.family, "child_index": k.index, "leftover": k.leftover}
        for k in kept
    ]
    conn.execute(
        queries("child_results")["keep_child_results"],
        {"instance_id": instance_id, "kept": Jsonb(rows)},
    )


def take(conn: Connection, instance_id: str, family: str) -> list[Json]:
    """Delete and return a family's kept results, in index order."""
    rows = conn.execute(
        queries("child_results")["take_child_results"],
        {"instance_id": instance_id, "family": family},
    ).fetchall()
    return [row[0] for row in rows]
