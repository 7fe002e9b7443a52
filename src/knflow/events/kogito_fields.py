"""Typed reads of the fields of incoming Kogito events; each refusal names its field.

A field of the wrong type (a list where an id belongs, a word where a number belongs, a
date outside the calendar) makes the whole event unprocessable: it is refused with an
`InputError`, so data-index-sink answers 400 at once instead of storing garbage or
failing with a 500 the broker would retry forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from knflow.errors import InputError

INT32: Final = 2**31
"""Java `int` fields (counts, retries, priority)."""
INT64: Final = 2**63
"""Java `long` fields (`repeatInterval`) and epoch milliseconds."""
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST: Final = datetime(1, 1, 2, tzinfo=UTC)
LATEST: Final = datetime(9999, 12, 30, tzinfo=UTC)
"""A day inside Python's calendar on each side, so that any offset converts to UTC."""


def text(data: Mapping[str, Any], name: str) -> str | None:
    """A string field; null and blank give None.

    Raises:
        InputError: the field is not a string.
    """
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"field '{name}' must be a string, not {_kind(value)}")
    return value if value.strip() else None


def integer(data: Mapping[str, Any], name: str, *, bound: int = INT32) -> int | None:
    """A whole number (or its decimal text) within ±`bound`; null and "" give None.

    Raises:
        InputError: the field is not a whole number in range.
    """
    value = data.get(name)
    if value is None or value == "":
        return None
    number = _whole(value)
    if number is None or not -bound <= number < bound:
        raise InputError(
            f"field '{name}' must be a whole number between {-bound} and {bound - 1}"
        )
    return number


def boolean(data: Mapping[str, Any], name: str) -> bool | None:
    """A boolean field; null gives None.

    Raises:
        InputError: the field is not a boolean.
    """
    value = data.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise InputError(f"field '{name}' must be true or false, not {_kind(value)}")


def strings(data: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
    """A list of strings; null gives None.

    Raises:
        InputError: the field is not a list of strings.
    """
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"field '{name}' must be a list of strings")
    return tuple(value)


def mapping(data: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """A JSON object field; null gives None.

    Raises:
        InputError: the field is not an object.
    """
    value = data.get(name)
    if value is None or isinstance(value, dict):
        return value
    raise InputError(f"field '{name}' must be a JSON object, not {_kind(value)}")


def objects(data: Mapping[str, Any], name: str) -> tuple[dict[str, Any], ...] | None:
    """A list of JSON objects; null gives None.

    Raises:
        InputError: the field is not a list of objects.
    """
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InputError(f"field '{name}' must be a list of JSON objects")
    return tuple(value)


def date(data: Mapping[str, Any], name: str) -> datetime | None:
    """A date field; see `parse_date`.

    Raises:
        InputError: naming the field.
    """
    try:
        return parse_date(data.get(name))
    except InputError as error:
        raise InputError(f"field '{name}': {error}") from error


def parse_date(value: object) -> datetime | None:
    """Parse a Kogito date: ISO-8601 text or epoch milliseconds; blank gives None.

    Raises:
        InputError: the value is neither, or lies outside years 1 to 9999.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(
            f"a date must be ISO-8601 text or epoch milliseconds, not {_kind(value)}"
        )
    if not isinstance(value, str) or value.strip().lstrip("-").isdigit():
        return _from_epoch_millis(value)
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise InputError(f"date '{value}' is not ISO-8601") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _in_calendar(moment)


def _from_epoch_millis(value: int | float | str) -> datetime:
    millis = _whole(value) if not isinstance(value, float) else value
    if millis is None or millis != millis or not -INT64 <= millis < INT64:
        raise InputError(f"date {value!r} is not a number of epoch milliseconds")
    try:
        moment = EPOCH + timedelta(milliseconds=millis)
    except OverflowError as error:
        raise InputError(f"date {value!r} lies outside years 1 to 9999") from error
    return _in_calendar(moment)


def _in_calendar(moment: datetime) -> datetime:
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise InputError(f"date '{moment.isoformat()}' lies outside years 1 to 9999")
    return utc


def _whole(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        digits = value.strip()
        return int(digits) if len(digits) <= 20 else None
    return None


def _kind(value: object) -> str:
    """The JSON kind of a value, for messages (never a Python class name)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"
