"""Fixtures for calls out of knflow: the shared HTTP client and function calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from knflow.outbound import http
from knflow.outbound.function_call import FunctionCall

MakeCall = Callable[..., FunctionCall]


@pytest.fixture
def client() -> Iterator[http.HttpClient]:
    """The process HTTP client, as `serving` creates it."""
    opened = http.new_client(timedelta(seconds=10))
    yield opened
    opened.close()


@pytest.fixture
def make_call() -> MakeCall:
    """Build a `FunctionCall` with test defaults; keywords override any field."""

    def build(**fields: Any) -> FunctionCall:
        defaults: dict[str, Any] = {
            "function_name": "greet",
            "function_type": "custom",
            "operation": "sysout",
            "arguments": {},
            "resources": {},
            "instance_id": "0b5f5a4e-8c1f-4c6e-9d57-1f6f8b0c2a11",
            "workflow_id": "greeting",
        }
        return FunctionCall(**{**defaults, **fields})

    return build
