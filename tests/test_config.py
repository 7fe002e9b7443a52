"""Settings read from the environment: the rerun settings, their defaults and refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from knflow.config import Settings
from knflow.errors import InputError


def test_the_rerun_settings_default_to_a_gentle_rate_and_a_day_of_kept_tokens() -> None:
    settings = Settings.from_environment({})

    assert (
        settings.bulk_retrigger_rate,
        settings.bulk_retrigger_max,
        settings.failed_tokens_kept,
    ) == (5.0, 100, timedelta(days=1))


def test_the_rerun_settings_are_read_from_their_variables() -> None:
    settings = Settings.from_environment(
        {
            "KNFLOW_BULK_RETRIGGER_PER_SECOND": "0.5",
            "KNFLOW_BULK_RETRIGGER_MAX": "20",
            "KNFLOW_FAILED_TOKENS_KEPT_SECONDS": "0",
        }
    )

    assert (
        settings.bulk_retrigger_rate,
        settings.bulk_retrigger_max,
        settings.failed_tokens_kept,
    ) == (0.5, 20, timedelta(0))


@pytest.mark.parametrize(
    "value",
    ["0", "-1", "fast", "nan", "inf"],
    ids=["zero", "negative", "text", "nan", "inf"],
)
def test_a_bulk_rate_that_is_not_a_positive_number_is_refused(value: str) -> None:
    with pytest.raises(
        InputError, match="KNFLOW_BULK_RETRIGGER_PER_SECOND must be a positive number"
    ):
        Settings.from_environment({"KNFLOW_BULK_RETRIGGER_PER_SECOND": value})
