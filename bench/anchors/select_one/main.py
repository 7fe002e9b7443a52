"""The floor anchor function: flask + psycopg + functions-framework, one `SELECT 1` per request.

What every knflow function needs at the least: the framework, a PostgreSQL driver and a
pool opened at the first request; readiness is answered only once the database answers.
"""

import os
import threading

from psycopg_pool import ConnectionPool

_pools: list[ConnectionPool] = []
_opening = threading.Lock()


def handle(request: object) -> tuple[str, int]:
    """Run `SELECT 1` on a pooled connection and answer 200 with its result."""
    with _opening:
        if not _pools:
            _pools.append(
                ConnectionPool(
                    os.environ["DATABASE_URL"], min_size=1, max_size=8, open=True
                )
            )
    with _pools[0].connection() as conn:
        row = conn.execute("SELECT 1").fetchone()
    return str(row[0] if row else ""), 200
