"""The P4 floor: a functions-framework function answering the plugin's pages from SQL as JSON.

What any HTTP endpoint serving those pages pays besides the queries: the framework's request
and response, a pooled connection, the rows rendered as JSON. knflow's Data Index adds
GraphQL (parsing, validation, execution) and its own request handling on top of this.

A body with `definitionId` asks for one workflow's page; one with `ids`, for the runs list
(Q5): its instances, each with its nodes.
"""

import json
import os
import threading
from typing import Any

from bench.p4_data_index import (
    DIRECT_PER_WORKFLOW,
    DIRECT_Q5_INSTANCES,
    DIRECT_Q5_NODES,
)
from psycopg import Cursor
from psycopg_pool import ConnectionPool

_pools: list[ConnectionPool] = []
_opening = threading.Lock()


def handle(request: Any) -> tuple[str, int, dict[str, str]]:
    """Answer the page the body asks for as `{"data": {"ProcessInstances": [...]}}`."""
    body = request.get_json()
    with _pool().connection() as conn:
        if "definitionId" in body:
            instances = _dicts(
                conn.execute(DIRECT_PER_WORKFLOW, {"id": body["definitionId"]})
            )
        else:
            instances = _dicts(conn.execute(DIRECT_Q5_INSTANCES, {"ids": body["ids"]}))
            ids = [instance["id"] for instance in instances]
            nodes = _dicts(conn.execute(DIRECT_Q5_NODES, {"ids": ids}))
            for instance in instances:
                instance["nodes"] = [
                    node
                    for node in nodes
                    if node["process_instance_id"] == instance["id"]
                ]
    answer = json.dumps({"data": {"ProcessInstances": instances}}, default=str)
    return answer, 200, {"content-type": "application/json"}


def _pool() -> ConnectionPool:
    with _opening:
        if not _pools:
            _pools.append(
                ConnectionPool(
                    os.environ["DATABASE_URL"], min_size=1, max_size=8, open=True
                )
            )
    return _pools[0]


def _dicts(cursor: Cursor[Any]) -> list[dict[str, Any]]:
    names = [column.name for column in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor]
