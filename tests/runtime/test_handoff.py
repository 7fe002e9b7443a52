"""Work handed to the background thread: in order, batched, drained before `flush` returns."""

from __future__ import annotations

import threading

from knflow.runtime.handoff import Handoff
from tests.waiting import eventually


class Recorder:
    """A drain that records its batches; the first one waits for `release`."""

    def __init__(self, *, hold_first: bool = False, fail_first: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.release = threading.Event()
        self.started = threading.Event()
        if not hold_first:
            self.release.set()
        self.fail_first = fail_first

    def __call__(self, batch: list[int]) -> None:
        self.started.set()
        self.release.wait(10)
        self.batches.append(batch)
        if self.fail_first and len(self.batches) == 1:
            raise RuntimeError("drain broke")


def test_items_submitted_while_a_batch_runs_go_out_together_in_order() -> None:
    recorder = Recorder(hold_first=True)
    handoff = Handoff(recorder, name="test-handoff")
    handoff.submit([1])
    assert recorder.started.wait(10)
    handoff.submit([2, 3])
    handoff.submit([4])
    recorder.release.set()
    assert handoff.flush(10)
    assert recorder.batches == [[1], [2, 3, 4]]


def test_flush_waits_for_the_batch_under_way() -> None:
    recorder = Recorder(hold_first=True)
    handoff = Handoff(recorder, name="test-handoff")
    handoff.submit([1])
    assert recorder.started.wait(10)
    assert not handoff.flush(0.05)
    recorder.release.set()
    assert handoff.flush(10)
    assert recorder.batches == [[1]]


def test_a_failing_batch_does_not_stop_the_next_ones() -> None:
    recorder = Recorder(fail_first=True)
    handoff = Handoff(recorder, name="test-handoff")
    handoff.submit([1])
    assert handoff.flush(10)
    handoff.submit([2])
    assert handoff.flush(10)
    assert recorder.batches == [[1], [2]]


def test_the_thread_ends_when_idle_and_a_submit_starts_it_again() -> None:
    recorder = Recorder()
    handoff = Handoff(recorder, name="test-handoff", idle_seconds=0.1)
    handoff.submit([1])
    assert handoff.flush(10)
    eventually(lambda: handoff.running, lambda running: not running, timeout=10)
    handoff.submit([2])
    assert handoff.flush(10)
    assert recorder.batches == [[1], [2]]
