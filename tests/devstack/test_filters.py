"""Trigger filters: the legacy attributes filter and the `filters` dialects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from knflow.devstack import filters
from knflow.errors import InputError
from knflow.events.codec import Event

EVENT = Event(
    id="1",
    source="/orders/eu",
    type="order.created.v1",
    subject="order-7",
    time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    extensions={"region": "eu", "empty": ""},
)


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({}, True),
        ({"type": "order.created.v1"}, True),
        ({"type": "order.created.v1", "source": "/orders/eu"}, True),
        ({"type": "order.created"}, False),
        ({"region": ""}, True),
        ({"empty": ""}, False),
        ({"missing": ""}, False),
        ({"time": "2026-01-02T03:04:05Z"}, True),
    ],
    ids=[
        "no-filter-passes-everything",
        "exact-type",
        "all-attributes-must-match",
        "no-prefix-matching",
        "empty-value-means-present",
        "empty-value-rejects-empty-attribute",
        "empty-value-rejects-missing-extension",
        "time-as-rfc3339",
    ],
)
def test_legacy_attributes_filter(attributes: dict[str, str], expected: bool) -> None:
    assert filters.parse_attributes(attributes).matches(EVENT) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([{"exact": {"type": "order.created.v1"}}], True),
        ([{"exact": {"type": "order"}}], False),
        ([{"prefix": {"type": "order."}}], True),
        ([{"suffix": {"type": ".v1", "source": "/eu"}}], True),
        ([{"suffix": {"type": ".v2"}}], False),
        ([{"prefix": {"missing": "x"}}], False),
        ([{"prefix": {"type": "order."}}, {"exact": {"region": "us"}}], False),
        ([{"all": [{"prefix": {"type": "order"}}, {"exact": {"region": "eu"}}]}], True),
        ([{"any": [{"exact": {"type": "x"}}, {"exact": {"region": "eu"}}]}], True),
        ([{"any": [{"exact": {"type": "x"}}, {"exact": {"region": "us"}}]}], False),
        ([{"not": {"exact": {"region": "us"}}}], True),
        ([{"not": {"any": [{"exact": {"region": "eu"}}]}}], False),
    ],
    ids=[
        "exact",
        "exact-mismatch",
        "prefix",
        "suffix-every-attribute",
        "suffix-mismatch",
        "missing-attribute-fails",
        "list-is-and",
        "all",
        "any-one-passes",
        "any-none-passes",
        "not",
        "not-of-any",
    ],
)
def test_new_filter_dialects(raw: list[Any], expected: bool) -> None:
    assert filters.parse_filters(raw, "filters").matches(EVENT) is expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ([{"cesql": "type = 'a'"}], "cesql filters are not supported"),
        ([{"exact": {"type": "a"}, "prefix": {"type": "b"}}], "exactly one dialect"),
        ([{"exact": {"type": ""}}], "non-empty"),
        ([{"any": []}], "at least one filter"),
        ([{"regex": {"type": "a"}}], "unknown filter dialect 'regex'"),
        ({"exact": {"type": "a"}}, "filters is a list"),
    ],
    ids=["cesql", "two-dialects", "empty-value", "empty-any", "unknown", "not-a-list"],
)
def test_invalid_filters_are_refused_with_their_place(raw: Any, reason: str) -> None:
    with pytest.raises(InputError, match=reason) as raised:
        filters.parse_filters(raw, "Trigger 't'/spec/filters")
    assert str(raised.value).startswith("Trigger 't'/spec/filters")
