"""Runtime tests share the function tests' services fixtures."""

from tests.functions.conftest import register, services

__all__ = ["register", "services"]
