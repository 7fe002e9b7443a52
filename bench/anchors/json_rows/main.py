"""The P4 floor: a functions-framework function answering the per-workflow list's SQL as JSON.

What any HTTP endpoint serving that page pays besides the query: the framework's request
and response, a pooled connection, the rows rendered as JSON. knflow's Data Index adds
GraphQL (parsing, validation, execution) and its own request handling on top of this.
"""

import json
import os
import threading

from bench.p4_data_index import DIRECT_PER_WORKFLOW
from psycopg_pool import ConnectionPool

_pools: list[ConnectionPool] = []
_opening = threading.Lock()


def handle(request: object) -> tuple[str, int, dict[str, str]]:
    """Run the per-workflow page for the body's `definitionId`; answer its rows as JSON."""
    with _opening:
        if not _pools:
            _pools.append(
                ConnectionPool(
                    os.environ["DATABASE_URL"], min_size=1, max_size=8, open=True
                )
            )
    workflow_id = request.get_json()["definitionId"]  # type: ignore[attr-defined]
    with _pools[0].connection() as conn:
        cursor = conn.execute(DIRECT_PER_WORKFLOW, {"id": workflow_id})
        names = [column.name for column in cursor.description or ()]
        rows = [dict(zip(names, row, strict=True)) for row in cursor]
    body = json.dumps({"data": {"ProcessInstances": rows}}, default=str)
    return body, 200, {"content-type": "application/json"}
