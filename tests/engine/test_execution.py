"""The execution's storage form: what it leaves out and how it is rebuilt."""

from __future__ import annotations

from knflow.engine.execution import DATA_OVER_PARENT, MAIN, Execution, Thread

BIG = list(range(1000))


def _family(child_data: object) -> Execution:
    parent_data = {"items": BIG, "n": 0}
    execution = Execution()
    execution.threads[MAIN] = Thread(id=MAIN, data=parent_data)
    execution.threads["main/each#1/iteration0"] = Thread(
        id="main/each#1/iteration0", parent=MAIN, role="iteration", data=child_data
    )
    return execution


def test_a_child_stores_only_what_differs_from_its_parents_data() -> None:
    execution = _family(None)
    main = execution.threads[MAIN]
    child = execution.threads["main/each#1/iteration0"]
    child.data = {**main.data, "item": 0, "n": 1}

    stored = execution.to_json(workflow_data=main.data)
    rebuilt = Execution.from_json(stored, workflow_data=main.data)

    assert stored["threads"][child.id][DATA_OVER_PARENT] == {"item": 0, "n": 1}
    assert "data" not in stored["threads"][child.id]
    assert rebuilt.threads[child.id].data == {"items": BIG, "n": 1, "item": 0}


def test_an_equal_but_separate_value_is_stored_as_the_childs_own() -> None:
    execution = _family({"items": list(BIG), "n": True})

    stored = execution.to_json()
    rebuilt = Execution.from_json(stored)

    child = rebuilt.threads["main/each#1/iteration0"]
    assert stored["threads"][child.id][DATA_OVER_PARENT] == {"items": BIG, "n": True}
    assert child.data["n"] is True


def test_a_child_without_every_member_of_its_parent_keeps_its_whole_data() -> None:
    execution = _family({"n": 5})

    stored = execution.to_json()
    rebuilt = Execution.from_json(stored)

    assert stored["threads"]["main/each#1/iteration0"]["data"] == {"n": 5}
    assert rebuilt.threads["main/each#1/iteration0"].data == {"n": 5}
