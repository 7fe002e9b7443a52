"""SonataFlow's `sysout[:LEVEL]` custom function: log the `message` argument.

The message goes to the `knflow.sysout` logger at the named level (TRACE and DEBUG log
at DEBUG, WARN at WARNING; INFO when no or an unknown level is given). The call leaves
the workflow data unchanged.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Final

from knflow.workflow.model import Json

if TYPE_CHECKING:
    from knflow.outbound.function_call import FunctionCall

LOGGER_NAME: Final = "knflow.sysout"
LEVELS: Final = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}

logger = logging.getLogger(LOGGER_NAME)


def log_message(call: FunctionCall) -> Json:
    """Log the call's `message` argument (or its whole arguments) and return `{}`."""
    _, _, level_name = call.operation.partition(":")
    level = LEVELS.get(level_name.strip().upper(), logging.INFO)
    arguments = call.arguments
    message = (
        arguments["message"]
        if isinstance(arguments, dict) and "message" in arguments
        else arguments
    )
    text = message if isinstance(message, str) else json.dumps(message)
    logger.log(level, "%s", text, extra={"function": call.function_name})
    return {}
