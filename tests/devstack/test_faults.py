"""Delivery faults of the development broker (`knflow dev --faults`, used by `make chaos`)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest

from knflow.devstack.faults import DeliveryFaults, Fate, parse_faults
from knflow.errors import InputError


def test_faults_are_read_from_their_option() -> None:
    faults = parse_faults("drop=0.2, duplicate=0.3,delay=0.5,types=a.b|c.d")
    assert faults == DeliveryFaults(
        drop=0.2,
        duplicate=0.3,
        delay=timedelta(seconds=0.5),
        types=frozenset({"a.b", "c.d"}),
    )
    assert faults.applies_to("a.b")
    assert not faults.applies_to("e.f")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("lose=0.1", "--faults takes drop=P"),
        ("drop=2", "drop is a share from 0 to 1"),
        ("drop=0.6,duplicate=0.6", "may not add up to more than 1"),
        ("delay=soon", "delay must be a number of at least 0, not 'soon'"),
        ("duplicate=-1", "duplicate must be a number of at least 0"),
    ],
    ids=[
        "unknown-name",
        "share-above-one",
        "sum-above-one",
        "not-a-number",
        "negative",
    ],
)
def test_invalid_faults_are_refused_naming_the_problem(text: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        parse_faults(text)


def test_fates_come_in_the_configured_shares() -> None:
    faults = DeliveryFaults(drop=0.2, duplicate=0.3)
    draw = random.Random(7)
    fates = Counter(faults.fate(draw) for _ in range(10_000))
    assert 1800 < fates[Fate.DROP] < 2200
    assert 2700 < fates[Fate.DUPLICATE] < 3300
    assert fates[Fate.DELIVER] == 10_000 - fates[Fate.DROP] - fates[Fate.DUPLICATE]


def test_no_faults_by_default() -> None:
    faults = parse_faults("")
    assert faults.fate(random.Random(1)) is Fate.DELIVER
    assert faults.hold(random.Random(1)) == timedelta(0)
