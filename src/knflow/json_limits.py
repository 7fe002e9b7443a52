"""JSON received from outside, decoded under limits: nesting depth, NUL, surrogates, numbers.

Every edge (HTTP bodies, CloudEvents in both modes, GraphQL variables, the development
broker, function call results) decodes through `decode`, so the same input gets the same
answer everywhere. What is refused, and why:

- nesting deeper than the limit: Python's parser and serialiser recurse, so a deep
  document would otherwise end in a `RecursionError` somewhere between the edge and the
  database;
- NUL characters (`\\u0000`) in strings and keys: PostgreSQL's `text` and `jsonb` cannot
  store them, so data holding one could never be saved (refused rather than altered);
- unpaired surrogates (`\\ud800`): they are not Unicode scalar values and cannot be
  encoded as UTF-8;
- `NaN`, `Infinity` and `-Infinity`: not JSON (RFC 8259), and `jsonb` refuses them.

The walk is iterative: no recursion on data, whatever its depth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from knflow.errors import InputError

DEFAULT_MAX_DEPTH: Final = 128
"""Default deepest nesting of workflow data (objects and arrays)."""
ENVELOPE_DEPTH: Final = 8
"""Levels a transport document may add around workflow data (a CloudEvent, a grouped
Kogito event, `{"workflowdata": ...}`), so that events carrying data at the limit pass."""
DEPTH_SETTING: Final = "KNFLOW_MAX_JSON_DEPTH"


@dataclass(frozen=True, slots=True, kw_only=True)
class JsonLimits:
    """How deep received JSON may nest."""

    max_depth: int = DEFAULT_MAX_DEPTH
    """Deepest nesting of workflow data; whole documents may add `ENVELOPE_DEPTH`."""

    @property
    def document_depth(self) -> int:
        """Deepest nesting of a whole received document (data plus its envelope)."""
        return self.max_depth + ENVELOPE_DEPTH


def decode(raw: bytes | str, *, limits: JsonLimits, what: str) -> Any:
    """Parse a whole received document and check it (`what` names it in messages).

    Raises:
        InputError: not JSON, nested deeper than the document limit, or holding a value
            PostgreSQL cannot store.
    """
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError as error:
        raise InputError(_too_deep(what, limits)) from error
    except UnicodeDecodeError as error:
        raise InputError(f"{what} is not UTF-8 text: {error.reason}") from error
    except ValueError as error:
        raise InputError(f"{what} is not valid JSON: {error}") from error
    check(value, limits=limits, what=what, depth=limits.document_depth)
    return value


def decode_or_text(raw: bytes, *, limits: JsonLimits, what: str) -> Any:
    """Parse `raw` as a whole document when it is JSON; otherwise return its text.

    CloudEvent data need not be JSON; text that does not parse is kept as text (with
    undecodable bytes replaced), but JSON that parses is held to the same limits.

    Raises:
        InputError: JSON nested deeper than the document limit, or any unstorable text.
    """
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError as error:
        raise InputError(_too_deep(what, limits)) from error
    except _NotJsonNumberError as error:
        raise InputError(f"{what} is not valid JSON: {error}") from error
    except ValueError:
        value = raw.decode("utf-8", errors="replace")
    check(value, limits=limits, what=what, depth=limits.document_depth)
    return value


def check_data(value: Any, *, limits: JsonLimits, what: str) -> None:
    """Check a value that becomes workflow data against the data depth limit.

    Raises:
        InputError: nested deeper than the limit, or holding a value PostgreSQL cannot
            store.
    """
    check(value, limits=limits, what=what, depth=limits.max_depth)


def check(value: Any, *, limits: JsonLimits, what: str, depth: int) -> None:
    """Walk `value` once, iteratively; refuse nesting beyond `depth` and unstorable text.

    Raises:
        InputError: naming the JSON pointer of the first offending place.
    """
    pending: list[tuple[Any, int, str]] = [(value, 0, "")]
    while pending:
        item, level, pointer = pending.pop()
        if isinstance(item, str):
            _check_text(item, what=what, pointer=pointer)
            continue
        if isinstance(item, float) and not _is_finite(item):
            raise InputError(f"{what} holds a non-finite number at {pointer or '/'}")
        if not isinstance(item, dict | list):
            continue
        if level >= depth:
            raise InputError(_too_deep(what, limits))
        if isinstance(item, dict):
            for key, child in item.items():
                child_pointer = f"{pointer}/{_escape(str(key))}"
                _check_text(str(key), what=what, pointer=child_pointer, is_key=True)
                pending.append((child, level + 1, child_pointer))
        else:
            pending.extend(
                (child, level + 1, f"{pointer}/{index}")
                for index, child in enumerate(item)
            )


def depth_of(value: Any) -> int:
    """Return how deeply `value` nests (a scalar is 0, `[]` is 1, `[[]]` is 2)."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            deepest = max(deepest, level + 1)
            pending.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, level + 1)
            pending.extend((child, level + 1) for child in item)
    return deepest


def _too_deep(what: str, limits: JsonLimits) -> str:
    return (
        f"{what} nests deeper than allowed: workflow data may nest at most"
        f" {limits.max_depth} levels ({DEPTH_SETTING})"
    )


def _check_text(text: str, *, what: str, pointer: str, is_key: bool = False) -> None:
    where = f"{'a key at' if is_key else 'the text at'} {pointer or '/'}"
    if "\x00" in text:
        raise InputError(
            f"{what} holds a NUL character (\\u0000) in {where}; PostgreSQL cannot"
            " store it: remove it or encode the value (base64, for instance)"
        )
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise InputError(
                f"{what} holds an unpaired surrogate ({text[error.start]!a}) in"
                f" {where}; send valid Unicode"
            ) from error


class _NotJsonNumberError(ValueError):
    """`NaN` or `Infinity`, which Python's parser accepts and JSON does not."""


def _refuse_constant(name: str) -> Any:
    raise _NotJsonNumberError(f"{name} is not a JSON number")


def _is_finite(number: float) -> bool:
    return number - number == 0.0


def _escape(key: str) -> str:
    escaped = key.replace("~", "~0").replace("/", "~1")
    return escaped.replace("\x00", "\\u0000")
