"""The parsed form of a Serverless Workflow 0.8 definition (filled in by the engine work)."""

from __future__ import annotations

from typing import Any, TypeAlias

Json: TypeAlias = Any
"""Workflow data: what `json.loads` returns (dict, list, str, int, float, bool or None)."""
