"""Registering definitions: stored once, announced to the Data Index, re-registration a no-op."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from knflow.events import types
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import registration
from tests.conftest import REFERENCE_DATA

EXPRESSION = (
    REFERENCE_DATA / "sonataflow-examples" / "serverless-workflow-expression-quarkus"
)


def _definition_events(services: Services) -> list[dict[str, Any]]:
    with services.pool.connection() as conn:
        rows = conn.execute(
            "SELECT event FROM outbox WHERE event_type = %s ORDER BY id",
            (types.PROCESS_DEFINITION,),
        )
        return [r[0] for r in rows.fetchall()]


def test_registering_announces_the_definition_in_the_kogito_shape(
    services: Services, register: Callable[[Path], list[str]]
) -> None:
    assert register(EXPRESSION) == ["expression"]
    [event] = _definition_events(services)
    data = event["data"]
    assert data["id"] == "expression"
    assert data["endpoint"] == f"{services.settings.service_url}/expression"
    assert '"id": "expression"' in data["source"]
    assert data["metadata"]["status"] == "available"
    assert [n["name"] for n in data["nodes"]][1:3] == ["max", "square"]


def test_registering_an_unchanged_definition_again_is_a_no_op(
    services: Services, register: Callable[[Path], list[str]]
) -> None:
    register(EXPRESSION)
    assert register(EXPRESSION) == []
    assert len(_definition_events(services)) == 1


def test_withdrawn_definitions_are_announced_unavailable(
    services: Services, register: Callable[[Path], list[str]]
) -> None:
    register(EXPRESSION)
    assert registration.mark_unavailable_except(services, []) == ["expression"]
    assert (
        _definition_events(services)[-1]["data"]["metadata"]["status"] == "unavailable"
    )
