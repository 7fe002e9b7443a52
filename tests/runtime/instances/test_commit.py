"""Committing: an instance that ends in the commit creating it still leaves nothing behind."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from knflow.runtime.services import Services
from knflow.runtime.start_workflow import starting
from tests.functions.conftest import TEST_TOKEN_KEY

Register = Callable[[Path], list[str]]

PURE = {
    "id": "pure",
    "specVersion": "0.8",
    "start": "hello",
    "states": [
        {"name": "hello", "type": "inject", "data": {"hello": True}, "end": True}
    ],
}


def _sealed_count(services: Services, instance_id: str) -> int:
    with services.pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM instance_tokens WHERE instance_id = %s",
            (instance_id,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_start_that_ends_at_once_drops_the_tokens_it_sealed(
    services: Services, register: Register, tmp_path: Path
) -> None:
    (tmp_path / "pure.sw.json").write_text(json.dumps(PURE))
    register(tmp_path)
    sealing = dataclasses.replace(
        services,
        settings=dataclasses.replace(services.settings, token_keys=(TEST_TOKEN_KEY,)),
    )
    request = starting.StartRequest(
        workflow_id="pure", data={}, tokens={"X-Authorization-Github": "ghp_s3cret"}
    )
    row = starting.start_instance(sealing, request)
    assert row.status.value == "COMPLETED"
    assert _sealed_count(services, row.id) == 0
