"""Dates as the Data Index prints them: the `DateTime` scalar and the execution summary's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from knflow.graphql.scalars import render
from knflow.graphql.summary import java_date

PARIS_SUMMER = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("moment", "printed"),
    [
        (datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC), "2024-05-06T07:08:09.123Z"),
        (datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC), "2024-05-06T07:08:09.000Z"),
        (datetime(2024, 5, 6, 1, 0, tzinfo=PARIS_SUMMER), "2024-05-05T23:00:00.000Z"),
        (datetime(999, 1, 2, 3, 4, 5, 6000, tzinfo=UTC), "0999-01-02T03:04:05.006Z"),
    ],
)
def test_the_scalar_prints_utc_milliseconds_and_z(
    moment: datetime, printed: str
) -> None:
    assert render(moment) == printed


@pytest.mark.parametrize(
    ("moment", "printed"),
    [
        (datetime(2024, 5, 6, 7, 8, tzinfo=UTC), "2024-05-06T07:08Z"),
        (datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC), "2024-05-06T07:08:09Z"),
        (datetime(2024, 5, 6, 7, 8, 0, 120000, tzinfo=UTC), "2024-05-06T07:08:00.120Z"),
        (
            datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
            "2024-05-06T07:08:09.123456Z",
        ),
        (datetime(2024, 5, 6, 9, 8, tzinfo=PARIS_SUMMER), "2024-05-06T07:08Z"),
        (datetime(999, 1, 2, 3, 4, tzinfo=UTC), "0999-01-02T03:04Z"),
        (None, "null"),
    ],
)
def test_the_summary_prints_as_javas_zoned_date_time(
    moment: datetime | None, printed: str
) -> None:
    assert java_date(moment) == printed
