"""Workflows and helpers of the version pinning tests: redeployable definitions, registration as a
redeploy does it, events addressed to one instance, what the runtime and the Data Index hold.
"""

from __future__ import annotations

import json
from typing import Any, Final

from knflow.runtime.services import Services
from knflow.runtime.start_workflow import registration
from knflow.store import db, index, instances
from knflow.store.instances import InstanceRow
from knflow.workflow import loading
from tests.runtime import runs

GO: Final = "pinned.go"


def waiter(mark: str, *, version: str = "1.0", wait_state: str = "Wait") -> Any:
    """A workflow that waits for `pinned.go`, then injects `{"mark": mark}`."""
    return {
        "id": "pinned",
        "version": version,
        "specVersion": "0.8",
        "name": "Pinned",
        "start": "Begin",
        "events": [{"name": "go", "type": GO, "source": "tests"}],
        "states": [
            {"name": "Begin", "type": "inject", "data": {}, "transition": wait_state},
            {
                "name": wait_state,
                "type": "event",
                "onEvents": [{"eventRefs": ["go"]}],
                "transition": "Mark",
            },
            {"name": "Mark", "type": "inject", "data": {"mark": mark}, "end": True},
        ],
    }


def sleeper(mark: str) -> Any:
    """A workflow that sleeps a second, then injects `{"mark": mark}`."""
    return {
        "id": "sleeper",
        "version": "1.0",
        "specVersion": "0.8",
        "name": "Sleeper",
        "start": "Nap",
        "states": [
            {"name": "Nap", "type": "sleep", "duration": "PT1S", "transition": "Mark"},
            {"name": "Mark", "type": "inject", "data": {"mark": mark}, "end": True},
        ],
    }


def checker(mark: str) -> Any:
    """A workflow that fails until its data says `ok`, then sets `mark`."""
    return {
        "id": "checker",
        "version": "1.0",
        "specVersion": "0.8",
        "name": "Checker",
        "start": "Check",
        "functions": [
            {
                "name": "check",
                "type": "expression",
                "operation": f'if .ok then "{mark}" else error("not ok") end',
            }
        ],
        "states": [
            {
                "name": "Check",
                "type": "operation",
                "actions": [
                    {
                        "functionRef": {"refName": "check"},
                        "actionDataFilter": {"toStateData": ".mark"},
                    }
                ],
                "end": True,
            }
        ],
    }


def holder(mark: str) -> Any:
    """A workflow that runs `pinned` as a subflow, then injects `{"parent": mark}`."""
    return {
        "id": "holder",
        "version": "1.0",
        "specVersion": "0.8",
        "name": "Holder",
        "start": "Call",
        "states": [
            {
                "name": "Call",
                "type": "operation",
                "actions": [
                    {
                        "subFlowRef": "pinned",
                        "actionDataFilter": {"toStateData": ".child"},
                    }
                ],
                "transition": "Mark",
            },
            {"name": "Mark", "type": "inject", "data": {"parent": mark}, "end": True},
        ],
    }


def register(services: Services, document: Any) -> bool:
    """Register one workflow document as a redeploy would."""
    source = loading.load_text(json.dumps(document), name="workflow.sw.json")
    with db.transaction(services.pool) as conn:
        return registration.register_source(
            conn, source, settings=services.settings, now=services.clock()
        )


def go(services: Services, *instance_ids: str) -> None:
    """Send each instance its `pinned.go` event (addressed by `kogitoprocrefid`)."""
    for instance_id in instance_ids:
        runs.send(services, GO, kogitoprocrefid=instance_id)


def children_of(services: Services, parent_id: str) -> list[str]:
    with services.pool.connection() as conn:
        rows = conn.execute(
            "SELECT id FROM instances WHERE parent_instance_id = %s", (parent_id,)
        ).fetchall()
    return [str(row[0]) for row in rows]


def row_of(services: Services, instance_id: str) -> InstanceRow:
    with services.pool.connection() as conn:
        row = instances.get(conn, instance_id)
    assert row is not None
    return row


def shown_version(services: Services, instance_id: str) -> str | None:
    """The version the Data Index shows for an instance (fed from the outbox)."""
    runs.index_outbox(services)
    with services.pool.connection() as conn:
        found = index.get_instance(conn, instance_id)
    assert found is not None
    return found.version
