"""Workflow expressions: jq (the default) and JSONPath, evaluated against workflow data.

The only module importing `jq` and `jsonpath_ng`. Each distinct jq program is compiled
once per process; per-instance values ($WORKFLOW, $CONST, $SECRET, iteration variables)
travel in the program input, so they never cause a recompilation. It knows nothing of
states, filters or merging (see `engine.dataflow`).
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import jq
from jsonpath_ng import JSONPath
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext.parser import parse as parse_jsonpath

from knflow.errors import ExpressionError
from knflow.workflow.model import Json

JQ: Final = "jq"
JSONPATH: Final = "jsonpath"
LANGUAGES: Final = (JQ, JSONPATH)

_NO_FUNCTIONS: Final[Mapping[str, str]] = MappingProxyType({})
# Scope names; `$SECRETS` is the 0.8 spec's spelling, `$SECRET` SonataFlow's.
_SCOPE_NAMES: Final = ("WORKFLOW", "CONST", "SECRET", "SECRETS")
# jq's own variables, never bound by us.
_DATA_NAME: Final = "__knflow_data"
_JQ_NAMES: Final = frozenset({"ENV", "__loc__", "__prog_args", _DATA_NAME})
# `env` and `$ENV` would hand the process environment (database password included) to
# any workflow author; secrets are reachable only through $SECRET.
_SANDBOX: Final = "def env: {};\n"
_VARIABLE: Final = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTTED_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_NUMBER_LIKE: Final = re.compile(r"-?[0-9]")
# `.a.b`: a path jq would give as ["a", "b"] on any data whose containers are objects.
_FIELD_PATH: Final = re.compile(r"\s*((\.[A-Za-z_][A-Za-z0-9_]*)+)\s*")
# `$item`, `$item.id`: a program that reads a variable, never its input.
_VARIABLE_ONLY: Final = re.compile(
    r"\s*\$[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\s*"
)
_FUNCTION_REF: Final = re.compile(r"fn:\s*([A-Za-z_][A-Za-z0-9_]*)")
_JQ_LOCATION: Final = re.compile(r" at <top-level>, line \d+(, column \d+)?:?$")
_JSONPATH_MAGIC: Final = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)(.*)$", re.DOTALL)
_JSONPATH_PARTS: Final = re.compile(r"(?=\$)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """What an expression can see besides the data."""

    workflow: Json = None
    """$WORKFLOW: {id, name, instanceId, headers, prevActionResult, ...}."""
    constants: Json = None
    """$CONST: the workflow's `constants`."""
    secrets: Mapping[str, str] = field(default_factory=dict)
    """$SECRET and $SECRETS; a missing name reads as null."""
    variables: Mapping[str, Json] = field(default_factory=dict)
    """Extra variables by name, e.g. {"item": 3} is `$item` (foreach iteration)."""


class Evaluator:
    """Evaluate the expressions of one workflow definition.

    `functions` maps expression-function names to their expression text, for `fn:name`.
    `lenient` accepts SonataFlow's bare expressions (no `${ }`); strict mode follows the
    0.8 spec, where only `${ }` strings are expressions. An evaluator keeps caches for
    one definition; compiled jq programs are shared by the whole process.
    """

    def __init__(
        self,
        *,
        language: str = JQ,
        functions: Mapping[str, str] = _NO_FUNCTIONS,
        lenient: bool = True,
    ) -> None:
        language = (language or JQ).strip().lower()
        if language not in LANGUAGES:
            problem = "expression language is not supported (use jq or jsonpath)"
            raise ExpressionError(problem, expression=language)
        self.language = language
        self.functions = dict(functions)
        self.lenient = lenient
        self._programs: dict[str, str] = {}
        self._detected: dict[str, bool] = {}
        self._references: dict[str, tuple[str, ...]] = {}
        self._compiled: dict[tuple[str, tuple[str, ...]], Any] = {}
        # Longest first, so that `fn:a-b` finds `a-b` before `a`.
        names = "|".join(map(re.escape, sorted(self.functions, key=len, reverse=True)))
        self._function_ref = re.compile(rf"fn:\s*({names})(?!\w)") if names else None

    def evaluate(self, expression: str, data: Json, scope: Scope) -> Json:
        """Return the first output of `expression` on `data` (null when there is none).

        Raises:
            ExpressionError: the expression does not compile or fails on this data.
        """
        if not isinstance(expression, str):
            return expression
        if self.language == JSONPATH:
            return self._evaluate_jsonpath(expression, data, scope)
        program = self._program(expression)
        if _VARIABLE_ONLY.fullmatch(program):
            # jq would be handed the data as JSON text to ignore it: a foreach iteration's
            # data holds the whole collection, and `$item` would cost all of it.
            data = None
        return self._run_jq(expression, program, data, scope)

    def is_true(self, expression: str, data: Json, scope: Scope) -> bool:
        """Evaluate a condition with jq truthiness; a JSONPath match list counts if any.

        Raises:
            ExpressionError: the expression does not compile or fails on this data.
        """
        if isinstance(expression, bool):
            return expression
        value = self.evaluate(expression, data, scope)
        is_match_list = isinstance(value, list) and self.language == JSONPATH
        # `is`, not `in`: 0 == False in Python, but 0 is true in jq.
        return bool(value) if is_match_list else not (value is None or value is False)

    def resolve(self, template: Json, data: Json, scope: Scope) -> Json:
        """Evaluate every expression string inside `template` (objects, lists, strings).

        Strings that are not expressions stay literal; a whole string that is an
        expression (SonataFlow `arguments: "{a: .b}"`) becomes its value; `${ }` inside
        a longer string (spec example 24: `"Book ${ .book.title } is on loan"`) is
        replaced by the text of its value.

        Raises:
            ExpressionError: an expression inside the template fails.
        """
        if isinstance(template, dict):
            return {k: self.resolve(v, data, scope) for k, v in template.items()}
        if isinstance(template, list):
            return [self.resolve(v, data, scope) for v in template]
        if not isinstance(template, str):
            return template
        if self.is_expression(template):
            return self.evaluate(template, data, scope)
        if "${" in template:
            return self._interpolate(template, data, scope)
        lenient_jsonpath = self.language == JSONPATH and self.lenient
        return _jsonpath_bare_name(template, data) if lenient_jsonpath else template

    def check(self, expression: str) -> None:
        """Compile `expression` without data, for validating a definition up front.

        Variables the scope may supply at run time (`$item`, `$WORKFLOW`) are bound.

        Raises:
            ExpressionError: the expression does not compile.
        """
        if self.language == JSONPATH:
            text = _unwrap(expression, legacy=True)
            if _jsonpath_parts(text) is None and not text.startswith("fn:"):
                raise ExpressionError("is not a valid JSONPath", expression=expression)
            return
        program = self._program(expression)
        names = tuple(sorted(set(_referenced(program))))
        compiled = _compile_jq(_wrap(program, names))
        if isinstance(compiled, str):
            raise ExpressionError(compiled, expression=expression)

    def is_expression(self, text: str) -> bool:
        """Tell whether `text` is an expression rather than a literal string.

        `${ }` always marks one. In lenient mode, so does SonataFlow's rule: a string
        that compiles as an expression of the workflow's language, except plain words
        (`English`), numbers and dates (`2024-01-01`), which stay literal.
        """
        if not isinstance(text, str):
            return False
        stripped = text.strip()
        if stripped.startswith("${") and stripped.endswith("}"):
            return _embedded_expressions(stripped)[:1] == [(0, len(stripped))]
        if not self.lenient:
            return False
        if stripped.startswith("{{") and stripped.endswith("}}"):
            return True
        detected = self._detected.get(stripped)
        if detected is None:
            detected = self._detect(stripped)
            self._detected[stripped] = detected
        return detected

    def assign_path(self, expression: str, data: Json, scope: Scope) -> list[str | int]:
        """Return the path `expression` designates in `data` (jq `path(...)`).

        `.a.b` and `${ .a.b }` give `["a", "b"]`, `.` gives `[]`; lenient mode also
        accepts SonataFlow's bare `a.b`.

        Raises:
            ExpressionError: the expression is not a plain path.
        """
        text = _unwrap(expression, legacy=self.lenient)
        if self.lenient and _DOTTED_NAME.fullmatch(expression.strip()):
            return list(text.split("."))
        if self.language == JSONPATH:
            return _jsonpath_keys(expression, text)
        program = self._program(expression)
        fields = _field_path(program, data)
        if fields is not None:
            return fields
        path = self._run_jq(expression, f"path(\n{program}\n)", data, scope)
        if not isinstance(path, list) or not all(map(_is_path_key, path)):
            raise ExpressionError("selects no plain path", expression=expression)
        return path

    def _interpolate(self, template: str, data: Json, scope: Scope) -> str:
        pieces: list[str] = []
        position = 0
        for start, end in _embedded_expressions(template):
            value = self.evaluate(template[start:end], data, scope)
            text = value if isinstance(value, str) else _to_json_text(value)
            pieces += [template[position:start], text]
            position = end
        return "".join([*pieces, template[position:]])

    def _program(self, expression: str) -> str:
        program = self._programs.get(expression)
        if program is None:
            text = _unwrap(expression, legacy=self.lenient)
            program = self._substitute_functions(text, expression, frozenset())
            self._programs[expression] = program
        return program

    def _substitute_functions(
        self, text: str, expression: str, seen: frozenset[str]
    ) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            problem = (
                "is not defined" if name not in self.functions else "refers to itself"
            )
            if name not in self.functions or name in seen:
                raise ExpressionError(
                    f"expression function '{name}' {problem}", expression=expression
                )
            inner = _unwrap(self.functions[name], legacy=self.lenient)
            inner = self._substitute_functions(inner, expression, seen | {name})
            return f"({inner}\n)"

        if "fn:" not in text:
            return text
        text = self._function_ref.sub(replace, text) if self._function_ref else text
        return _FUNCTION_REF.sub(replace, text)

    def _run_jq(self, expression: str, program: str, data: Json, scope: Scope) -> Json:
        names = self._bound_names(program, scope)
        compiled = self._compiled.get((program, names))
        if compiled is None:
            compiled = _compile_jq(_wrap(program, names))
            self._compiled[(program, names)] = compiled
        if isinstance(compiled, str):
            raise ExpressionError(compiled, expression=expression)
        values: list[Json] = [data, *(_scope_value(name, scope) for name in names)]
        try:
            return next(iter(compiled.input_value(values)), None)
        except (ValueError, TypeError) as error:
            raise ExpressionError(_jq_message(error), expression=expression) from error

    def _bound_names(self, program: str, scope: Scope) -> tuple[str, ...]:
        # Bind only the names the program refers to: less JSON to serialize per call.
        referenced = self._references.get(program)
        if referenced is None:
            referenced = tuple(sorted(set(_referenced(program))))
            self._references[program] = referenced
        return tuple(n for n in referenced if n in _SCOPE_NAMES or n in scope.variables)

    def _detect(self, text: str) -> bool:
        if not text or _IDENTIFIER.fullmatch(text) or _NUMBER_LIKE.match(text):
            return False
        if self.language == JSONPATH:
            return _jsonpath_parts(text) is not None
        try:
            program = self._substitute_functions(text, text, frozenset())
        except ExpressionError:
            return False
        names = tuple(sorted(set(_referenced(program))))
        return not isinstance(_compile_jq(_wrap(program, names)), str)

    def _evaluate_jsonpath(self, expression: str, data: Json, scope: Scope) -> Json:
        text = _unwrap(expression, legacy=True)
        name = text.removeprefix("fn:").strip()
        if text.startswith("fn:") and name in self.functions:
            return self._evaluate_jsonpath(self.functions[name], data, scope)
        parts = _jsonpath_parts(text) or [text]
        if len(parts) == 1:
            return _jsonpath_value(expression, parts[0], data, scope)
        values = (_jsonpath_value(expression, p, data, scope) for p in parts)
        return "".join(v if isinstance(v, str) else _to_json_text(v) for v in values)


def marked_expressions(template: str) -> list[str]:
    """Return each balanced `${ ... }` of a string, as written (for validation)."""
    return [template[start:end] for start, end in _embedded_expressions(template)]


def compile_cache_info() -> functools._CacheInfo:
    """Report hits and misses of the process-wide cache of compiled jq programs."""
    return _compile_jq.cache_info()


@functools.lru_cache(maxsize=4096)
def _compile_jq(program: str) -> Any:
    """Compile once per process; a compile error is cached as its message."""
    try:
        return jq.compile(program)
    except ValueError as error:
        return _jq_message(error)


def _wrap(program: str, names: tuple[str, ...]) -> str:
    bound = ", ".join(f"${name}" for name in (_DATA_NAME, *names))
    return f"{_SANDBOX}. as [{bound}] | {{}} as $ENV | ${_DATA_NAME} |\n{program}"


def _referenced(program: str) -> list[str]:
    return [name for name in _VARIABLE.findall(program) if name not in _JQ_NAMES]


def _field_path(program: str, data: Json) -> list[str | int] | None:
    """Return the keys of a `.a.b` program without running jq, when jq would give them.

    jq's `path(.a.b)` is `["a", "b"]` as long as each container on the way is an object
    or missing; anything else makes jq raise, so it is left to jq. Running jq would cost
    serialising all the data.
    """
    match = _FIELD_PATH.fullmatch(program)
    if match is None:
        return None
    keys: list[str | int] = list(match.group(1).split(".")[1:])
    found: Json = data
    for key in keys:
        if found is None:
            continue
        if not isinstance(found, dict):
            return None
        found = found.get(str(key))
    return keys


def _is_path_key(key: Json) -> bool:
    return isinstance(key, str) or (isinstance(key, int) and not isinstance(key, bool))


def _scope_value(name: str, scope: Scope) -> Json:
    if name == "WORKFLOW":
        return scope.workflow
    if name == "CONST":
        return scope.constants
    if name in ("SECRET", "SECRETS"):
        return _secret_tree(scope.secrets)
    return scope.variables[name]


def _secret_tree(secrets: Mapping[str, str]) -> dict[str, Json]:
    """Return the secrets by name, and dotted names also as nested objects.

    SonataFlow reads `$SECRET.expression.my_name` from the property
    `expression.my_name`; the flat name stays readable as `$SECRET["expression.my_name"]`.
    """
    tree: dict[str, Json] = dict(secrets)
    for name, value in secrets.items():
        *parents, leaf = name.split(".")
        node = tree
        for part in parents:
            branch = node.setdefault(part, {})
            if not isinstance(branch, dict):
                break
            node = branch
        else:
            node.setdefault(leaf, value)
    return tree


def _jq_message(error: Exception) -> str:
    first = (str(error).strip() or "failed").splitlines()[0]
    return _JQ_LOCATION.sub("", first.removeprefix("jq: error: "))


def _embedded_expressions(template: str) -> list[tuple[int, int]]:
    """Find each balanced `${ ... }` in `template`, skipping braces in jq strings."""
    found: list[tuple[int, int]] = []
    start = template.find("${")
    while start >= 0:
        end = _closing_brace(template, start + 2)
        if end < 0:
            break
        found.append((start, end + 1))
        start = template.find("${", end + 1)
    return found


def _closing_brace(text: str, position: int) -> int:
    depth, quoted, escaped = 1, False, False
    for index in range(position, len(text)):
        char = text[index]
        if escaped:
            escaped = False
        elif quoted:
            escaped = char == "\\"
            quoted = char != '"'
        elif char == '"':
            quoted = True
        elif char in "{}":
            depth += 1 if char == "{" else -1
            if depth == 0:
                return index
    return -1


def _to_json_text(value: Json) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _unwrap(expression: str, *, legacy: bool) -> str:
    text = expression.strip()
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1].strip()
    if legacy and text.startswith("{{") and text.endswith("}}"):
        return text[2:-2].strip()
    return text


def _jsonpath_value(expression: str, text: str, data: Json, scope: Scope) -> Json:
    """Read a JSONPath as Jayway: a definite path's value (or null), else all matches.

    A path written from the root without `$` (`.data`, as SonataFlow's event tests do)
    is read from the root.
    """
    if text.startswith(".") and len(text) > 1 and text[1] not in "./":
        text = "$" + text
    if not text.startswith(("$", "@")):
        raise ExpressionError("is not a JSONPath expression", expression=expression)
    root, path_text = _jsonpath_root(text, data, scope)
    path = _parse_jsonpath(expression, path_text)
    try:
        matches = [m.value for m in path.find(root)]
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise ExpressionError(str(error), expression=expression) from error
    if _collect_keys(path, []):
        return matches[0] if matches else None
    return matches


def _jsonpath_root(text: str, data: Json, scope: Scope) -> tuple[Json, str]:
    """Resolve SonataFlow's roots `$WORKFLOW.x`, `$CONST.x`, `$SECRET.x` and `$item`."""
    match = _JSONPATH_MAGIC.match(text)
    name = match.group(1) if match else ""
    if match is None or not (name in _SCOPE_NAMES or name in scope.variables):
        return data, _normalize_jsonpath(text)
    return _scope_value(name, scope), _normalize_jsonpath("$" + match.group(2))


def _normalize_jsonpath(text: str) -> str:
    # Jayway accepts `$.[?(...)]` and `@` as the root; jsonpath-ng wants `$[?(...)]`.
    if text.startswith("@"):
        text = "$" + text[1:]
    return text.replace(".[", "[")


@functools.lru_cache(maxsize=1024)
def _cached_jsonpath(text: str) -> JSONPath | str:
    # jsonpath-ng's own deprecated operators (`|`, `&`) are not Jayway syntax: refused.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            parsed: JSONPath = _object_filters(parse_jsonpath(text))
        except (JsonPathParserError, JsonPathLexerError, ValueError, Warning) as error:
            return str(error) or "invalid JSONPath"
    return parsed


def _parse_jsonpath(expression: str, text: str) -> JSONPath:
    parsed = _cached_jsonpath(text)
    if isinstance(parsed, str):
        raise ExpressionError(parsed, expression=expression)
    return parsed


def _jsonpath_parts(text: str) -> list[str] | None:
    """Split one path, or SonataFlow's `$.a $.b` (values joined as text); else None."""
    if _is_jsonpath(text):
        return [text]
    parts = [p.strip() for p in _JSONPATH_PARTS.split(text) if p.strip()]
    return parts if len(parts) > 1 and all(map(_is_jsonpath, parts)) else None


def _is_jsonpath(text: str) -> bool:
    match = _JSONPATH_MAGIC.match(text)
    path = "$" + match.group(2) if match else text
    parsed = _cached_jsonpath(_normalize_jsonpath(path))
    return text.startswith(("$", "@")) and not isinstance(parsed, str)


def _jsonpath_keys(expression: str, text: str) -> list[str | int]:
    path = _parse_jsonpath(expression, _normalize_jsonpath(text))
    keys: list[str | int] = []
    if not _collect_keys(path, keys):
        raise ExpressionError("is not a plain path", expression=expression)
    return keys


def _collect_keys(node: Any, keys: list[str | int]) -> bool:
    name = type(node).__name__
    if name in ("Root", "This"):
        return True
    if name == "Child":
        return _collect_keys(node.left, keys) and _collect_keys(node.right, keys)
    if name == "Fields" and len(node.fields) == 1 and node.fields[0] != "*":
        keys.append(node.fields[0])
        return True
    if name == "Index" and len(node.indices) == 1:
        keys.append(node.indices[0])
        return True
    return False


def _jsonpath_bare_name(text: str, data: Json) -> Json:
    """SonataFlow reads a bare `name` as `$.name` when the data has it, else as text."""
    stripped = text.strip()
    if not _DOTTED_NAME.fullmatch(stripped):
        return text
    value = data
    for key in stripped.split("."):
        if not isinstance(value, dict) or key not in value:
            return text
        value = value[key]
    return value


def _object_filters(node: Any) -> Any:
    """Apply `[?(...)]` on an object to the object itself, as Jayway does."""
    if type(node).__name__ == "Filter":
        return _ObjectFilter(node)
    for attribute in ("left", "right"):
        child = getattr(node, attribute, None)
        if isinstance(child, JSONPath):
            setattr(node, attribute, _object_filters(child))
    return node


class _ObjectFilter(JSONPath):
    """A filter that tests an object itself instead of its member values."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def find(self, datum: Any) -> list[Any]:
        value = getattr(datum, "value", datum)
        return list(self.inner.find([value] if isinstance(value, dict) else datum))
