"""Figures of a suite run: medians with their spread, ratios, and the table that prints them.

Every ratio is knflow's figure divided by the anchor's, as in issue 11's table: for a rate
(steps/s) below 1× means knflow is slower; for a cost (ms, kB) above 1× means it is dearer.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    """Repeated values of one quantity, summarised by their median."""

    values: tuple[float, ...]
    unit: str

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def render(self) -> str:
        """`median unit (min–max, n=k)`; the spread only when there is one."""
        text = f"{_number(self.median)} {self.unit}".strip()
        if len(self.values) > 1:
            low, high = min(self.values), max(self.values)
            text += f" ({_number(low)}–{_number(high)}, n={len(self.values)})"
        return text


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One line of the table: what was measured, knflow's figure, the anchor's, a note."""

    measure: str
    what: str
    knflow: Figure | None
    anchor_name: str
    anchor: Figure | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ratio(self) -> float | None:
        if self.knflow is None or self.anchor is None or self.anchor.median == 0:
            return None
        return self.knflow.median / self.anchor.median


def figure(values: Sequence[float | None], unit: str) -> Figure | None:
    """A figure of the values that exist, or None when no run produced one."""
    present = tuple(float(v) for v in values if v is not None)
    return Figure(values=present, unit=unit) if present else None


def render_text(rows: Sequence[Row]) -> str:
    """The table for a terminal, notes under their row."""
    lines = []
    for row in rows:
        lines.append(f"{row.measure} {row.what}")
        lines.append(f"    knflow      {_cell(row.knflow)}")
        lines.append(f"    {row.anchor_name:<11} {_cell(row.anchor)}")
        lines.append(f"    ratio       {_ratio(row)}")
        lines.extend(f"    note: {note}" for note in row.notes)
    return "\n".join(lines)


def render_markdown(rows: Sequence[Row]) -> str:
    """The table for the README: measure, knflow, anchor, ratio."""
    lines = ["| measure | knflow | anchor | ratio |", "|---|---|---|---|"]
    for row in rows:
        anchor = f"{row.anchor_name}: {_cell(row.anchor)}" if row.anchor_name else "—"
        notes = "".join(f"<br>{note}" for note in row.notes)
        lines.append(
            f"| {row.measure} {row.what}{notes} | {_cell(row.knflow)} | {anchor} | {_ratio(row)} |"
        )
    return "\n".join(lines)


def _cell(value: Figure | None) -> str:
    return value.render() if value is not None else "—"


def _ratio(row: Row) -> str:
    ratio = row.ratio
    return "—" if ratio is None else f"{_number(ratio)}×"


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"
