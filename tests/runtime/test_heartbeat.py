"""The process's heartbeat thread: renewals at their period, only while their block runs."""

from __future__ import annotations

import threading

from knflow.runtime.heartbeat import Heartbeat
from tests.waiting import eventually

PERIOD = 0.05


class Counting:
    """A renewal that counts its calls and answers `keep` (or raises when `fail`)."""

    def __init__(self, *, keep: bool = True, fail: bool = False) -> None:
        self.calls = 0
        self.keep = keep
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self) -> bool:
        with self.lock:
            self.calls += 1
        if self.fail:
            raise RuntimeError("renewal broke")
        return self.keep


def test_renewals_run_every_period_while_their_block_runs_and_not_after() -> None:
    heartbeat = Heartbeat()
    first, second = Counting(), Counting()
    with heartbeat.beating(first, every=PERIOD):
        with heartbeat.beating(second, every=PERIOD):
            eventually(lambda: second.calls, lambda calls: calls >= 3, timeout=10)
        ended_at = second.calls
        eventually(lambda: first.calls, lambda calls: calls >= ended_at + 3, timeout=10)
    assert second.calls <= ended_at + 1  # at most one renewal already under way


def test_a_block_shorter_than_its_period_never_renews() -> None:
    heartbeat = Heartbeat()
    quick, slow = Counting(), Counting()
    with heartbeat.beating(slow, every=PERIOD):
        with heartbeat.beating(quick, every=60.0):
            pass
        eventually(lambda: slow.calls, lambda calls: calls >= 2, timeout=10)
    assert quick.calls == 0


def test_a_renewal_that_answers_false_is_not_called_again() -> None:
    heartbeat = Heartbeat()
    lost, witness = Counting(keep=False), Counting()
    with (
        heartbeat.beating(lost, every=PERIOD),
        heartbeat.beating(witness, every=PERIOD),
    ):
        eventually(lambda: witness.calls, lambda calls: calls >= 5, timeout=10)
    assert lost.calls == 1


def test_a_failing_renewal_does_not_stop_the_others() -> None:
    heartbeat = Heartbeat()
    broken, witness = Counting(fail=True), Counting()
    with (
        heartbeat.beating(broken, every=PERIOD),
        heartbeat.beating(witness, every=PERIOD),
    ):
        eventually(lambda: witness.calls, lambda calls: calls >= 3, timeout=10)
    assert broken.calls >= 2


def test_the_thread_ends_when_idle_and_a_new_call_starts_it_again() -> None:
    heartbeat = Heartbeat(idle_seconds=0.1)
    assert not heartbeat.running
    with heartbeat.beating(Counting(), every=60.0):
        assert heartbeat.running
    eventually(lambda: heartbeat.running, lambda running: not running, timeout=10)
    again = Counting()
    with heartbeat.beating(again, every=PERIOD):
        eventually(lambda: again.calls, lambda calls: calls >= 2, timeout=10)


def test_a_renewal_due_sooner_than_the_one_waited_for_runs_on_time() -> None:
    heartbeat = Heartbeat()
    slow, quick = Counting(), Counting()
    with heartbeat.beating(slow, every=60.0):
        eventually(lambda: heartbeat.running, lambda running: running, timeout=10)
        with heartbeat.beating(quick, every=PERIOD):
            eventually(lambda: quick.calls, lambda calls: calls >= 2, timeout=10)
    assert slow.calls == 0


def test_calls_in_a_row_leave_the_idle_time_to_start_after_the_last() -> None:
    heartbeat = Heartbeat(idle_seconds=0.2)
    for _ in range(5):
        with heartbeat.beating(Counting(), every=60.0):
            pass
    assert heartbeat.running
    eventually(lambda: heartbeat.running, lambda running: not running, timeout=10)
