"""The anchor: the same workflows written with DBOS Transact, in this process.

Each step makes the same HTTP call as knflow's `rest:` action, to the same echo service,
with the same client library (httpx, one pooled client per process). Imported only by
trials that run the anchor, so knflow's trials never pay for importing DBOS.
"""

from __future__ import annotations

import uuid
from typing import Final

import httpx
from dbos import DBOS, SetWorkflowID

APP_NAME: Final = "knflowbench"
_client: dict[str, httpx.Client] = {}


def launch(database_url: str, echo_url: str) -> None:
    """Configure and launch DBOS on `database_url` (its system database; created if absent)."""
    _client["echo"] = httpx.Client(base_url=echo_url, timeout=30.0)
    DBOS(
        config={
            "name": APP_NAME,
            "system_database_url": database_url,
            "log_level": "WARNING",
        }
    )
    DBOS.launch()


def shutdown() -> None:
    """Stop DBOS and close the HTTP client."""
    DBOS.destroy()
    _client.pop("echo").close()


@DBOS.step()
def call(number: int) -> int:
    """One durable step: POST `{"n": number}` to the echo service, return its `n`."""
    answer = _client["echo"].post("/step", json={"n": number})
    answer.raise_for_status()
    return int(answer.json()["n"])


@DBOS.workflow()
def chain(count: int, number: int) -> int:
    """`count` steps in a row, each carrying the number forward (knflow's chain)."""
    for _ in range(count):
        number = call(number)
    return number


def run_chain(count: int) -> int:
    """Run one chain workflow under a fresh workflow id."""
    with SetWorkflowID(str(uuid.uuid4())):
        return chain(count, 0)
