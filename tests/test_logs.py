"""knflow.logs: one JSON object per record, naming instance, workflow and trace as operators do."""

from __future__ import annotations

import json
import logging

from knflow import logs


def _render(record: logging.LogRecord) -> dict[str, object]:
    logs.ContextFilter().filter(record)
    rendered: dict[str, object] = json.loads(logs.JsonFormatter().format(record))
    return rendered


def _record(message: str, **extra: object) -> logging.LogRecord:
    return logging.makeLogRecord({"msg": message, "levelname": "INFO", **extra})


def test_a_line_names_the_instance_workflow_and_trace_of_its_context() -> None:
    with logs.context(instance_id="i1", workflow_id="hello", trace_id="ab" * 16):
        line = _render(_record("instance started"))
    assert line["message"] == "instance started"
    assert (line["instanceId"], line["workflowId"], line["traceId"]) == (
        "i1",
        "hello",
        "ab" * 16,
    )
    assert "instance_id" not in line


def test_extras_are_rendered_with_the_same_names() -> None:
    line = _render(_record("function call failed", workflow_id="w", kind="HTTP:500"))
    assert (line["workflowId"], line["kind"]) == ("w", "HTTP:500")


def test_outside_any_context_a_line_has_no_instance() -> None:
    line = _render(_record("functions stopped"))
    assert "instanceId" not in line
    assert line["level"] == "INFO"


def test_http_clients_log_each_request_only_at_debug() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logs.configure("INFO")
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert logging.getLogger("knflow.runtime").isEnabledFor(logging.INFO)
        logs.configure("DEBUG")
        assert logging.getLogger("httpx").isEnabledFor(logging.DEBUG)
    finally:
        root.handlers[:], root.level = saved
        for name in logs.CHATTY_LIBRARIES:
            logging.getLogger(name).setLevel(logging.NOTSET)
