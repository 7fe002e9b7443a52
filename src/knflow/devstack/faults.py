"""Delivery faults the development broker can inject: what an in-memory channel does on a bad day.

`knflow dev --faults drop=0.2,duplicate=0.3,delay=0.5,types=knflow.step.ready` makes the broker
drop a fifth of the deliveries of those types, deliver three in ten twice, and hold each for up
to half a second first (which reorders them). `make chaos` uses it; off by default.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from knflow.errors import InputError


class Fate(StrEnum):
    """What happens to one delivery."""

    DELIVER = "DELIVER"
    """Delivered once, as asked."""
    DROP = "DROP"
    """Never delivered (as if the broker gave up on it)."""
    DUPLICATE = "DUPLICATE"
    """Delivered twice."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryFaults:
    """How often deliveries are dropped, duplicated and held back."""

    drop: float = 0.0
    """Share of deliveries never made (0 to 1)."""
    duplicate: float = 0.0
    """Share of deliveries made twice (0 to 1)."""
    delay: timedelta = timedelta(0)
    """Longest random wait before a delivery: deliveries overtake each other."""
    types: frozenset[str] = frozenset()
    """Event types the faults apply to; empty: every type."""

    def applies_to(self, event_type: str) -> bool:
        """Tell whether deliveries of this type may meet a fault."""
        return not self.types or event_type in self.types

    def fate(self, draw: random.Random) -> Fate:
        """Decide one delivery's fate."""
        roll = draw.random()
        if roll < self.drop:
            return Fate.DROP
        if roll < self.drop + self.duplicate:
            return Fate.DUPLICATE
        return Fate.DELIVER

    def hold(self, draw: random.Random) -> timedelta:
        """How long to hold one delivery back."""
        return self.delay * draw.random()


def parse_faults(text: str) -> DeliveryFaults:
    """Read `drop=P,duplicate=P,delay=SECONDS,types=T1|T2`.

    Raises:
        InputError: an unknown name, or a value out of range.
    """
    values: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep or name not in ("drop", "duplicate", "delay", "types"):
            raise InputError(
                f"--faults takes drop=P,duplicate=P,delay=SECONDS,types=T1|T2, not '{part}'"
            )
        values[name] = value.strip()
    drop = _share(values, "drop")
    duplicate = _share(values, "duplicate")
    if drop + duplicate > 1:
        raise InputError("--faults: drop and duplicate may not add up to more than 1")
    return DeliveryFaults(
        drop=drop,
        duplicate=duplicate,
        delay=timedelta(seconds=_number(values, "delay")),
        types=frozenset(t for t in values.get("types", "").split("|") if t),
    )


def _share(values: dict[str, str], name: str) -> float:
    share = _number(values, name)
    if share > 1:
        raise InputError(f"--faults: {name} is a share from 0 to 1, not {share}")
    return share


def _number(values: dict[str, str], name: str) -> float:
    raw = values.get(name, "0")
    try:
        number = float(raw)
    except ValueError:
        number = -1.0
    if not number >= 0:
        raise InputError(
            f"--faults: {name} must be a number of at least 0, not '{raw}'"
        )
    return number
