"""SonataFlow's `sysout` custom function."""

from __future__ import annotations

import logging

import pytest

from knflow.config import Settings
from knflow.outbound.functions import invoke
from knflow.outbound.http import HttpClient
from tests.outbound.conftest import MakeCall


@pytest.mark.parametrize(
    ("operation", "level"),
    [
        ("sysout", logging.INFO),
        ("sysout:WARN", logging.WARNING),
        ("sysout:error", logging.ERROR),
        ("sysout:TRACE", logging.DEBUG),
        ("sysout:LOUD", logging.INFO),
    ],
    ids=["default", "warn", "lowercase-error", "trace", "unknown"],
)
def test_sysout_logs_the_message_at_its_level_and_returns_no_data(
    client: HttpClient,
    make_call: MakeCall,
    caplog: pytest.LogCaptureFixture,
    operation: str,
    level: int,
) -> None:
    caplog.set_level(logging.DEBUG, logger="knflow.sysout")
    call = make_call(operation=operation, arguments={"message": "Hello John"})

    result = invoke(client, Settings(), call)

    [record] = [r for r in caplog.records if r.name == "knflow.sysout"]
    assert result == {}
    assert (record.levelno, record.getMessage()) == (level, "Hello John")


def test_sysout_logs_non_text_arguments_as_json(
    client: HttpClient, make_call: MakeCall, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="knflow.sysout")
    call = make_call(operation="sysout", arguments={"message": {"sum": 387}})

    invoke(client, Settings(), call)

    assert [r.getMessage() for r in caplog.records] == ['{"sum": 387}']
