"""Settings read from the environment: the bulk retrigger settings, defaults and refusals."""

from __future__ import annotations

import pytest

from knflow.config import Settings
from knflow.errors import InputError


def test_a_bulk_retrigger_defaults_to_five_a_second_and_a_hundred_a_request() -> None:
    settings = Settings.from_environment({})

    assert (settings.bulk_retrigger_rate, settings.bulk_retrigger_max) == (5.0, 100)


def test_the_bulk_retrigger_settings_are_read_from_their_variables() -> None:
    settings = Settings.from_environment(
        {"KNFLOW_BULK_RETRIGGER_PER_SECOND": "0.5", "KNFLOW_BULK_RETRIGGER_MAX": "20"}
    )

    assert (settings.bulk_retrigger_rate, settings.bulk_retrigger_max) == (0.5, 20)


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


def test_the_repr_of_settings_shows_no_secret() -> None:
    settings = Settings(
        database_url="postgresql://knflow:db-password@db/knflow",
        secrets={"API_KEY": "secret-value"},
        backstage_token="backstage-token",
        token_keys=("sealing-key",),
    )

    shown = repr(settings)

    assert [
        secret
        for secret in ("db-password", "secret-value", "backstage-token", "sealing-key")
        if secret in shown
    ] == []
