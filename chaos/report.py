"""The table `make chaos` prints, and its Markdown form for the README."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from chaos.runner import Outcome

HEADERS: Final = (
    "scenario",
    "started",
    "completed",
    "stuck",
    "dup. transitions",
    "Data Index mismatches",
    "dup. side effects (calls/notifications)",
    "notifications missing",
    "5xx for done work",
    "call re-driven after",
    "all completed after",
    "held",
)


def cells(outcome: Outcome) -> tuple[str, ...]:
    """One scenario's row."""
    tally = outcome.tally
    return (
        outcome.scenario.name,
        str(tally.started),
        str(tally.completed),
        str(tally.stuck),
        str(tally.duplicated_transitions),
        str(tally.index_mismatches),
        f"{tally.repeated_calls}/{tally.repeated_notifications}",
        str(tally.unnotified),
        str(tally.dishonest),
        _seconds(outcome.redriven_after),
        _seconds(outcome.finished_after),
        "yes" if outcome.held else "NO",
    )


def line(outcome: Outcome) -> str:
    """A progress line while the suite runs."""
    return "  ".join(f"{h}={c}" for h, c in zip(HEADERS, cells(outcome), strict=True))


def table(outcomes: Sequence[Outcome]) -> str:
    """The aligned text table."""
    rows = [HEADERS, *(cells(o) for o in outcomes)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    )


def markdown(outcomes: Sequence[Outcome]) -> str:
    """The table in Markdown."""
    rows = [HEADERS, tuple("---" for _ in HEADERS), *(cells(o) for o in outcomes)]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows) + "\n"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"
