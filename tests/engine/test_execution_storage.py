"""The execution document as stored: fields at their defaults left out, everything restored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from knflow.engine.execution import MAIN, Execution, Stage, Thread, ThreadStatus
from knflow.engine.thread_waits import CallWait


def test_a_thread_at_its_defaults_is_stored_with_only_where_it_is() -> None:
    execution = Execution(
        threads={MAIN: Thread(id=MAIN, state="s0", data={"n": 1})}, counter=2
    )

    stored = execution.to_json()

    assert stored == {
        "threads": {
            MAIN: {
                "id": MAIN,
                "state": "s0",
                "stage": "enter",
                "status": "RUNNABLE",
                "data": {"n": 1},
            }
        },
        "counter": 2,
    }
    assert Execution.from_json(stored) == execution


def test_every_field_away_from_its_default_survives_storage() -> None:
    child = Thread(
        id="main/p#1/branch1",
        parent=MAIN,
        state="p",
        stage=Stage.RUN,
        role="branch",
        index=1,
        pc=2,
        data={"b": True},
        status=ThreadStatus.BLOCKED,
        seq=7,
        wait=CallWait(
            key="k1",
            function="echo",
            arguments={"n": 1},
            node="node-1",
            timeout=timedelta(seconds=5),
            claimed_until=datetime(2030, 1, 1, tzinfo=UTC),
        ),
        last_result={"n": 2},
        contributions=[[0, {"n": 2}]],
        error={"kind": "call", "message": "boom"},
        node="node-1",
        scratch={"visits": 3},
    )
    execution = Execution(
        threads={MAIN: Thread(id=MAIN, state="p", data={"a": 1}), child.id: child},
        counter=9,
        completed=["p"],
        compensating={"pending": ["undo"]},
        timed_out=True,
        expiring=True,
        variables={"item": 4},
    )

    assert Execution.from_json(execution.to_json()) == execution


def test_falsy_values_that_are_not_the_default_are_kept() -> None:
    """`0`, `False` and `""` are results like any other, not "no result"."""
    for result in (0, False, "", [], {}):
        thread = Thread(id="main/s#1/action0", parent=MAIN, last_result=result)
        execution = Execution(threads={thread.id: thread})

        stored = execution.to_json()
        restored = Execution.from_json(stored).threads[thread.id]

        assert stored["threads"][thread.id]["last_result"] == result
        assert type(restored.last_result) is type(result)


def test_the_main_threads_input_equal_to_the_data_is_restored_from_the_data_column() -> (
    None
):
    data = {"n": 3}
    main = Thread(id=MAIN, state="s1", data=data, scratch={"input": data})
    execution = Execution(threads={MAIN: main})

    stored = execution.to_json(workflow_data=data)

    assert "data" not in stored["threads"][MAIN]
    assert "scratch" not in stored["threads"][MAIN]
    assert Execution.from_json(stored, workflow_data=data) == execution
