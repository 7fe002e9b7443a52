"""The sweeper: sweeps only when asked, repeats while work is in flight, probes after outages."""

from __future__ import annotations

from datetime import timedelta

from knflow.errors import UnavailableError
from knflow.runtime.sweeper import Sweeper
from tests.waiting import eventually

DELAY = timedelta(milliseconds=20)


def test_a_sweeper_that_was_not_started_never_sweeps() -> None:
    sweeper = Sweeper()
    sweeper.soon()
    sweeper.database_lost()
    assert not sweeper.is_armed


def test_with_nothing_in_flight_one_sweep_runs_and_nothing_is_scheduled_after() -> None:
    sweeps: list[int] = []
    sweeper = Sweeper()
    sweeper.start(lambda: sweeps.append(1) and None, delay=DELAY)
    assert not sweeper.is_armed  # started, but nobody asked yet
    sweeper.soon()
    eventually(lambda: len(sweeps) == 1 and not sweeper.is_armed, timeout=5)
    assert len(sweeps) == 1


def test_while_work_is_in_flight_the_sweeps_go_on() -> None:
    sweeps: list[int] = []

    def in_flight() -> timedelta | None:
        sweeps.append(1)
        return timedelta(0) if len(sweeps) < 3 else None

    sweeper = Sweeper()
    sweeper.start(in_flight, delay=DELAY)
    sweeper.soon()
    eventually(lambda: len(sweeps) == 3 and not sweeper.is_armed, timeout=5)
    assert len(sweeps) == 3


def test_after_a_database_failure_the_sweeper_looks_until_it_answers() -> None:
    sweeps: list[int] = []

    def outage() -> timedelta | None:
        sweeps.append(1)
        if len(sweeps) < 3:
            raise UnavailableError("database is unavailable: the server restarts")
        return None

    sweeper = Sweeper()
    sweeper.start(outage, delay=DELAY)
    sweeper.database_lost()
    eventually(lambda: len(sweeps) == 3 and not sweeper.is_armed, timeout=15)
    assert len(sweeps) == 3


def test_a_zero_delay_turns_sweeping_off() -> None:
    sweeper = Sweeper()
    sweeper.start(lambda: None, delay=timedelta(0))
    sweeper.soon()
    assert not sweeper.is_armed
