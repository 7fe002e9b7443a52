"""JSON log lines on stdout, with the current instance, event and trace added to every record.

Code names the facts in snake_case (`logs.context(instance_id=...)`, `extra={"workflow_id": ...}`);
a line names the ones operators search by as the Data Index and OpenTelemetry do: `instanceId`,
`workflowId`, `traceId`.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Final

_CONTEXT: ContextVar[dict[str, str]] = ContextVar("knflow_log_context", default={})  # noqa: B039
_STANDARD_FIELDS: Final = frozenset(vars(logging.makeLogRecord({})))
_RENAMED: Final = {
    "instance_id": "instanceId",
    "workflow_id": "workflowId",
    "trace_id": "traceId",
}


CHATTY_LIBRARIES: Final = ("httpx", "httpcore")
"""Libraries that log every request at INFO: a line per service call and per published
event. They speak at WARNING unless knflow itself runs at DEBUG."""


def configure(level: str = "INFO") -> None:
    """Send JSON lines to stdout; called once by `serving` and the CLI at startup."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet = logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(quiet)


@contextmanager
def context(**values: str) -> Iterator[None]:
    """Add `values` (instance_id, ce_id, ...) to every record logged inside the block."""
    token = _CONTEXT.set({**_CONTEXT.get(), **values})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    """Copy the current log context onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _CONTEXT.get().items():
            setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(
            {
                _RENAMED.get(k, k): v
                for k, v in vars(record).items()
                if k not in _STANDARD_FIELDS
            }
        )
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)
