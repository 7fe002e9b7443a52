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
    """Print like `ZonedDateTime.toString()` in UTC: seconds and fraction only if set.

    Java prints the fraction in milliseconds, or in microseconds when that is not exact.
    """
    if moment is None:
        return "null"
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    precision = _precision(utc)
    return utc.isoformat(timespec=precision)[: _ISO_LENGTHS[precision]] + "Z"


def _precision(utc: datetime) -> str:
    """The `isoformat` timespec that prints what Java prints of this moment."""
    micros = utc.microsecond
    if micros:
        return "milliseconds" if micros % 1000 == 0 else "microseconds"
    return "seconds" if utc.second else "minutes"


_ISO_LENGTHS: Final = {
    "minutes": len("2024-01-01T00:00"),
    "seconds": len("2024-01-01T00:00:00"),
    "milliseconds": len("2024-01-01T00:00:00.000"),
    "microseconds": len("2024-01-01T00:00:00.000000"),
}
"""How much of an `isoformat` rendering of each timespec precedes its offset."""
