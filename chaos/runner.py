"""Run the scenarios one after the other and print the table (`make chaos`)."""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx
from tests.conftest import scratch_database
from tests.peers import HttpPeer, Recorded, Reply
from tests.stack import DevStack

from chaos import observe, report, server
from chaos.observe import Arrival, Tally
from chaos.scenarios import SCENARIOS, Scenario
from knflow.devstack.postgres import EmbeddedPostgres

WORKFLOWS: Final = Path(__file__).resolve().parent / "workflows"
CALL_SECONDS: Final = 0.3
"""Latency of the stand-in service: calls are in flight when a fault strikes."""
FINISH_WITHIN: Final = 90.0
"""A scenario's bound: seconds after its fault by which every instance must have completed."""
INDEX_WITHIN: Final = 20.0
START_ATTEMPTS: Final = 20
RETRY_PAUSE: Final = 0.5
START_BODY: Final = {"workflowdata": {}, "initiatorEntity": "user:default/chaos"}
"""An initiator, so that each ended instance sends a notification (to the webhook)."""


@dataclass(slots=True, kw_only=True)
class Run:
    """One scenario under way: its stack, stand-in service and what the callers were told."""

    stack: DevStack
    server: EmbeddedPostgres
    database_url: str
    arrivals: list[Arrival] = field(default_factory=list)
    answers: dict[str, list[int]] = field(default_factory=dict)
    """Per idempotency key, the status of each attempt (0: no answer)."""
    ids: dict[str, str] = field(default_factory=dict)
    """Per idempotency key, the instance id a 2xx answer named."""
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """One scenario's line of the table."""

    scenario: Scenario
    tally: Tally
    finished_after: float | None
    """Seconds from the fault until every instance completed (None: some never did)."""
    redriven_after: float | None
    """Seconds from the fault until a call cut off was made again (kills mid-call)."""

    @property
    def held(self) -> bool:
        """Tell whether nothing was lost, done twice or misreported."""
        tally = self.tally
        return (
            tally.stuck == 0
            and tally.dishonest == 0
            and tally.duplicated_transitions == 0
            and tally.index_mismatches == 0
            and tally.unnotified == 0
            and (self.scenario.cuts_calls or tally.repeated_calls == 0)
            and (self.scenario.cuts_notifications or tally.repeated_notifications == 0)
        )


def main() -> int:
    """Run the scenarios; exit status 1 when any of them lost or repeated something."""
    args = _arguments()
    chosen = [s for s in SCENARIOS if not args.only or s.name in args.only]
    outcomes: list[Outcome] = []
    with (
        server.throwaway_server() as pg,
        server.migrated_template(pg) as template,
        tempfile.TemporaryDirectory(prefix="knflow-chaos-") as work,
    ):
        for scenario in chosen:
            with scratch_database(pg.url, "knflow_chaos", template=template) as url:
                outcome = run_scenario(
                    scenario, pg, url, Path(work) / str(len(outcomes)), args.instances
                )
            outcomes.append(outcome)
            print(report.line(outcome), flush=True)
    print(report.table(outcomes))
    if args.markdown:
        args.markdown.write_text(report.markdown(outcomes), encoding="utf-8")
    return 0 if all(o.held for o in outcomes) else 1


def run_scenario(
    scenario: Scenario,
    pg: EmbeddedPostgres,
    database_url: str,
    work_dir: Path,
    instances: int,
) -> Outcome:
    """Start a stack, start `instances` instances, inject the fault and judge the result."""
    peer = HttpPeer().start()
    stack = DevStack.start(
        workflows_dir=WORKFLOWS,
        database_url=database_url,
        work_dir=work_dir,
        env={
            "KNFLOW_FUNCTION_URL_work": peer.url,
            "NOTIFY_WEBHOOK_URL": f"{peer.url}/notify",
        },
        options=scenario.options,
    )
    run = Run(stack=stack, server=pg, database_url=database_url)
    _serve_calls(peer, run)
    try:
        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as starters:
            started = [
                starters.submit(_start, run, f"{scenario.name}/{i}")
                for i in range(instances)
            ]
            fault_at = scenario.inject(run) if scenario.inject else began
            for future in started:
                future.result()
        finished = _wait_for_completion(run, fault_at)
        tally = _tally(run, peer)
    finally:
        stack.stop()
        peer.stop()
    redriven = (
        observe.first_repeat_after(run.arrivals, fault_at) if scenario.inject else None
    )
    return Outcome(
        scenario=scenario,
        tally=tally,
        finished_after=None if finished is None else finished - fault_at,
        redriven_after=redriven if scenario.cuts_calls else None,
    )


def _serve_calls(peer: HttpPeer, run: Run) -> None:
    def work(request: Recorded) -> Reply:
        body = request.json() or {}
        step = request.path.rsplit("/", 1)[-1]
        with run.lock:
            run.arrivals.append(
                Arrival(
                    at=time.monotonic(),
                    instance_id=str(body.get("instance")),
                    step=step,
                )
            )
        time.sleep(CALL_SECONDS)  # the service's own latency
        return Reply(body={"step": step})

    peer.route("POST", "/work/*", work)
    peer.route("POST", "/notify", Reply(200, {}))


def _start(run: Run, key: str) -> None:
    """Start one instance as a careful caller does: retry errors with the same key."""
    url = f"{run.stack.url('start-workflow')}/{observe.WORKFLOW_ID}"
    for _ in range(START_ATTEMPTS):
        try:
            answer = httpx.post(
                url, json=START_BODY, headers={"Idempotency-Key": key}, timeout=60
            )
        except httpx.HTTPError:
            status = 0
        else:
            status = answer.status_code
        with run.lock:
            run.answers.setdefault(key, []).append(status)
            if status in (200, 201):
                run.ids[key] = str(answer.json()["id"])
                return
        time.sleep(RETRY_PAUSE)  # a caller's pause between retries


def _wait_for_completion(run: Run, fault_at: float) -> float | None:
    def all_completed() -> bool:
        found = observe.statuses(run.database_url)
        return all(found.get(i) == "COMPLETED" for i in run.ids.values())

    done = observe.wait_until(all_completed, deadline=fault_at + FINISH_WITHIN)
    return time.monotonic() if done else None


def _tally(run: Run, peer: HttpPeer) -> Tally:
    found = observe.statuses(run.database_url)

    def index_matches() -> bool:
        index = observe.index_states(run.stack)
        return all(index.get(i) == found.get(i) for i in run.ids.values())

    observe.wait_until(index_matches, deadline=time.monotonic() + INDEX_WITHIN)
    index = observe.index_states(run.stack)
    completed_ids = {i for i in run.ids.values() if found.get(i) == "COMPLETED"}
    completed = len(completed_ids)
    observe.wait_until(
        lambda: completed_ids <= observe.notified(peer),
        deadline=time.monotonic() + INDEX_WITHIN,
    )
    return Tally(
        started=len(run.ids),
        completed=completed,
        stuck=len(run.answers) - completed,
        dishonest=sum(_misreported(statuses) for statuses in run.answers.values()),
        duplicated_transitions=observe.duplicated_transitions(run.database_url),
        index_mismatches=sum(index.get(i) != found.get(i) for i in run.ids.values()),
        repeated_calls=observe.repeated_calls(run.arrivals),
        repeated_notifications=observe.repeated_notifications(peer),
        unnotified=len(completed_ids - observe.notified(peer)),
    )


def _misreported(statuses: list[int]) -> bool:
    """A 5xx followed by a replayed start (200): the failed answer had started it."""
    failed = [i for i, status in enumerate(statuses) if status >= 500]
    return bool(failed) and statuses[-1] == 200 and failed[0] < len(statuses) - 1


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__)
    parser.add_argument(
        "--instances", type=int, default=12, help="instances per scenario (default 12)"
    )
    parser.add_argument(
        "--only", action="append", help="run only this scenario (repeatable)"
    )
    parser.add_argument(
        "--markdown", type=Path, help="also write the table as Markdown to this file"
    )
    return parser.parse_args()
