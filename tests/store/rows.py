"""Rows the store tests write: one registered workflow and its instances."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from knflow.engine.outcome import InstanceStatus
from knflow.store import definitions
from knflow.store.db import Connection
from knflow.store.definitions import StoredDefinition
from knflow.store.instances import InstanceRow

T0: Final = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
WORKFLOW: Final = StoredDefinition(
    workflow_id="wf",
    version="1.0",
    name="wf",
    description=None,
    source={},
    checksum="x",
    status="AVAILABLE",
    registered_at=T0,
)


def register_workflow(conn: Connection) -> None:
    """Register `WORKFLOW`, which the instances of `instance_row` belong to."""
    definitions.upsert(conn, WORKFLOW)


def instance_row(
    instance_id: str,
    *,
    data: Any = None,
    status: InstanceStatus = InstanceStatus.ACTIVE,
    waiting: bool = False,
    at: datetime = T0,
) -> InstanceRow:
    """A new instance of `WORKFLOW`, started and last changed `at`."""
    return InstanceRow(
        id=instance_id,
        workflow_id=WORKFLOW.workflow_id,
        workflow_version=WORKFLOW.version,
        status=status,
        revision=0,
        data={} if data is None else data,
        variables={},
        execution={"threads": {}},
        waiting=waiting,
        headers={},
        business_key=None,
        parent_instance_id=None,
        parent_thread_id=None,
        parent_key=None,
        root_instance_id=None,
        root_workflow_id=None,
        error_state=None,
        error_node=None,
        error_message=None,
        started_at=at,
        updated_at=at,
        ended_at=None,
    )
