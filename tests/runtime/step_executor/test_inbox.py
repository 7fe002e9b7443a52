"""step-executor's intake of consumed events: an event and a new wait that cross still meet."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from knflow.engine.outcome import InstanceStatus
from knflow.runtime.services import Services
from knflow.runtime.step_executor import inbox
from tests.runtime import runs

APPROVAL = {
    "id": "approval",
    "version": "1.0",
    "specVersion": "0.8",
    "start": "prepare",
    "events": [{"name": "approved", "type": "org.example.approval", "source": ""}],
    "states": [
        {
            "name": "prepare",
            "type": "inject",
            "data": {"ready": True},
            "transition": "wait",
        },
        {
            "name": "wait",
            "type": "event",
            "onEvents": [{"eventRefs": ["approved"]}],
            "end": True,
        },
    ],
}


def test_an_event_that_crossed_a_new_wait_is_offered_again_after_its_commit(
    services: Services,
    register: Callable[[Path], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "approval.sw.json").write_text(json.dumps(APPROVAL))
    register(tmp_path)
    instance_id = runs.start(services, "approval", {})
    assert runs.finish(services, instance_id).waiting
    looks: list[str] = []
    real_resume = inbox._resume_waiting

    def first_look_misses_the_wait(work, event):  # type: ignore[no-untyped-def]
        # The wait's subscription committed just after the delivery looked for waits.
        looks.append(event.type)
        return [] if len(looks) == 1 else real_resume(work, event)

    monkeypatch.setattr(inbox, "_resume_waiting", first_look_misses_the_wait)

    runs.send(
        services, "org.example.approval", {"ok": True}, kogitoprocrefid=instance_id
    )

    assert looks == ["org.example.approval", "org.example.approval"]
    assert runs.finish(services, instance_id).status is InstanceStatus.COMPLETED
