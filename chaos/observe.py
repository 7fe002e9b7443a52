"""What a scenario measures: the runtime's and the Data Index's view, and the calls received."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import httpx
import psycopg
from tests.peers import HttpPeer
from tests.stack import DevStack

WORKFLOW_ID: Final = "chaos"
STEPS: Final = ("first", "a", "b")
INDEX_QUERY: Final = (
    '{ ProcessInstances(where: {processId: {equal: "chaos"}},'
    " pagination: {limit: 1000, offset: 0}) { id state } }"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Tally:
    """What one scenario found at its end."""

    started: int
    """Instances the callers were told about (2xx answers)."""
    completed: int
    """Of those, COMPLETED in the runtime."""
    stuck: int
    """Of those, not COMPLETED by the deadline (or missing)."""
    dishonest: int
    """Instances that exist although their start was answered with an error."""
    duplicated_transitions: int
    """Node instances entered twice, plus instances announced completed twice."""
    index_mismatches: int
    """Instances whose Data Index state differs from the runtime's."""
    repeated_calls: int
    """Calls received more than once for one (instance, step)."""
    repeated_notifications: int
    """Completion notifications sent more than once for one instance."""
    unnotified: int
    """Completed instances whose completion notification never came."""


def statuses(database_url: str) -> dict[str, str]:
    """The runtime status of every instance."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT id, status FROM instances").fetchall()
    return {str(instance_id): str(status) for instance_id, status in rows}


def wait_until(check: Callable[[], bool], *, deadline: float) -> bool:
    """Poll `check` until it holds or the monotonic `deadline` passes."""
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def index_states(stack: DevStack) -> dict[str, str]:
    """The Data Index's state of every chaos instance, through its GraphQL API."""
    answer = httpx.post(
        f"{stack.url('data-index-sink')}/graphql",
        json={"query": INDEX_QUERY},
        timeout=10,
    )
    found = answer.json()["data"]["ProcessInstances"]
    return {str(item["id"]): str(item["state"]) for item in found}


def duplicated_transitions(database_url: str) -> int:
    """Node instances repeated for one node, and completions announced twice."""
    with psycopg.connect(database_url) as conn:
        nodes = conn.execute(
            "SELECT coalesce(sum(n - 1), 0) FROM ("
            " SELECT count(*) AS n FROM index_node_instances"
            " GROUP BY process_instance_id, node_id HAVING count(*) > 1) AS repeated"
        ).fetchone()
        endings = conn.execute(
            "SELECT coalesce(sum(n - 1), 0) FROM ("
            " SELECT count(*) AS n"
            "   FROM outbox, jsonb_array_elements(event->'data') AS inner_event"
            "  WHERE event_type = 'MultipleProcessInstanceDataEvent'"
            "    AND inner_event->>'type' = 'ProcessInstanceStateDataEvent'"
            "    AND inner_event->'data'->>'eventType' = '2'"
            "  GROUP BY instance_id HAVING count(*) > 1) AS repeated"
        ).fetchone()
    return int(nodes[0] if nodes else 0) + int(endings[0] if endings else 0)


def notified(peer: HttpPeer) -> set[str]:
    """The instances a notification was sent for."""
    return {
        str((request.json() or {}).get("instanceId"))
        for request in peer.received("POST", "/notify")
    }


def repeated_notifications(peer: HttpPeer) -> int:
    """Completion notifications beyond the first for each instance."""
    seen = Counter(
        str((request.json() or {}).get("instanceId"))
        for request in peer.received("POST", "/notify")
    )
    return sum(count - 1 for count in seen.values())


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrival:
    """One call the stand-in service received."""

    at: float
    """When (monotonic seconds)."""
    instance_id: str
    """The calling instance."""
    step: str
    """Which call of the workflow (`first`, `a`, `b`)."""


def repeated_calls(arrivals: list[Arrival]) -> int:
    """Calls beyond the first for each (instance, step)."""
    seen = Counter((arrival.instance_id, arrival.step) for arrival in arrivals)
    return sum(count - 1 for count in seen.values())


def first_repeat_after(arrivals: list[Arrival], moment: float) -> float | None:
    """Seconds from `moment` until a call made before it arrived again (a re-drive)."""
    before = {(a.instance_id, a.step) for a in arrivals if a.at <= moment}
    again = [
        a.at for a in arrivals if a.at > moment and (a.instance_id, a.step) in before
    ]
    return min(again) - moment if again else None
