"""`ProcessInstance.executionSummary`: the lines the Data Index computes for a run.

Lines, from the nodes sorted by enter: "Workflow started at", per node "Workflow
retriggered at" and "Workflow failed with error ... at", then "Workflow waiting at node
... since" for an ACTIVE run whose last node has not exited, or "Workflow completed at".
Dates are printed as Java's `ZonedDateTime.toString()` prints a UTC date.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Final

from knflow.events.kogito import INSTANCE_STATES
from knflow.store.index import IndexedInstance, IndexedNode

ACTIVE: Final = INSTANCE_STATES.index("ACTIVE")
COMPLETED: Final = INSTANCE_STATES.index("COMPLETED")


def execution_summary(
    row: IndexedInstance, nodes: Sequence[IndexedNode]
) -> Iterator[str]:
    """Yield the summary lines of an instance."""
    ordered = sorted(
        (n for n in nodes if n.enter is not None),
        key=lambda n: n.enter,  # type: ignore[arg-type, return-value]
    )
    yield f"Workflow started at {java_date(row.start)}"
    for node in ordered:
        if node.retrigger:
            yield f"Workflow retriggered at {java_date(node.enter)}"
        if node.error_message:
            yield (
                f"Workflow failed with error {node.error_message}"
                f" at {java_date(node.enter)}"
            )
    last = ordered[-1] if ordered else None
    if row.state == ACTIVE and last and last.name and last.exit is None:
        yield f"Workflow waiting at node {last.name} since {java_date(last.enter)}"
    if row.state == COMPLETED:
        yield f"Workflow completed at {java_date(row.end)}"


def java_date(moment: datetime | None) -> str:
    """Print like `ZonedDateTime.toString()` in UTC: seconds and fraction only if set."""
    if moment is None:
        return "null"
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M")
    nanos = utc.microsecond * 1000
    if utc.second or nanos:
        text += f":{utc.second:02d}"
    if nanos:
        if nanos % 1_000_000 == 0:
            text += f".{nanos // 1_000_000:03d}"
        else:
            text += f".{nanos // 1000:06d}"
    return text + "Z"
