"""Every GraphQL query shape the real Orchestrator plugin sent, replayed against our Data Index.

`tests/data/reference/orchestrator-plugin/backend-8.13.2-calls.txt` records the calls the
published backend plugin (8.13.2) made while each of its services was exercised
(`plugin_queries.recorded_calls` reads them); the replay sends each shape the way the plugin
did (GET, urql).
"""

from __future__ import annotations

import re
from typing import Final

import pytest
from flask.testing import FlaskClient

from tests.graphql.conftest import data
from tests.graphql.plugin_queries import CALLS, Call, recorded_calls

COUNT: Final = re.compile(r"^## GraphQL \(Data Index\), (\d+) distinct shapes$", re.M)


CALLS_RECORDED: Final = recorded_calls()


def test_every_recorded_shape_is_read() -> None:
    stated = COUNT.search(CALLS.read_text(encoding="utf-8"))

    assert stated is not None
    assert len(CALLS_RECORDED) == int(stated[1]) == 43


@pytest.mark.parametrize(
    "call", CALLS_RECORDED, ids=[f"shape-{i:02d}" for i in range(len(CALLS_RECORDED))]
)
def test_the_data_index_answers_the_recorded_shape(
    shared_index: FlaskClient, call: Call
) -> None:
    found = data(shared_index, call.query, call.variables, method=call.method)

    [(field, value)] = found.items()
    assert value is not None, field
