"""Workflow files: reading `.sw.json`/`.sw.yaml`/`.sw.yml` into self-contained sources.

A `WorkflowSource` carries the original text and the document with everything it refers
to by file (top-level sections, OpenAPI/AsyncAPI documents, input and output schemas)
already read, so it can be stored as JSON and used by processes that never see the
files. This is the only module that imports `yaml`. Problems with referenced files are
recorded on the source (validation reports them); only an unreadable workflow raises.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Final

import yaml

from knflow import json_limits
from knflow.errors import DefinitionError, InputError, Problem
from knflow.json_limits import JsonLimits
from knflow.workflow import references, schema_inlining
from knflow.workflow.model import Json

WORKFLOW_SUFFIXES: Final = (".sw.json", ".sw.yaml", ".sw.yml")
EXTERNAL_SECTIONS: Final = (
    "functions",
    "events",
    "errors",
    "retries",
    "secrets",
    "constants",
    "timeouts",
    "auth",
)
"""Top-level keys that may be given as the name of a file holding their content."""
OUTPUT_SCHEMA_EXTENSION: Final = "workflow-output-schema"
URI_DEFINITIONS_EXTENSION: Final = "workflow-uri-definitions"
"""SonataFlow extension naming the file behind an operation's document part."""
STORED_FORMAT: Final = 1
_REMOTE_SCHEMES: Final = ("http://", "https://")
# Definitions are stored as text and jsonb, and their schemas are walked recursively.
DEFINITION_LIMITS: Final = JsonLimits()


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowSource:
    """A workflow document with everything it refers to by file already read."""

    text: str
    """The original text, as written."""
    document: dict[str, Json]
    """The parsed document with external top-level sections inlined."""
    path: Path | None = None
    """The file it was read from; None when it came as text."""
    resources: dict[str, Json] = field(default_factory=dict)
    """OpenAPI/AsyncAPI documents, keyed by the file part of operations as written."""
    input_schema: Json | None = None
    """The `dataInputSchema`, self-contained (relative `$ref`s inlined)."""
    fail_on_input_validation: bool = True
    """Whether input violating `input_schema` is refused (else only logged)."""
    output_schema: Json | None = None
    """SonataFlow's `workflow-output-schema` extension, self-contained."""
    fail_on_output_validation: bool = True
    """Whether output violating `output_schema` fails the instance (else only logged)."""
    problems: tuple[Problem, ...] = ()
    """Referenced files that could not be read; `validation.check` reports them."""


def load_file(path: Path) -> WorkflowSource:
    """Read one workflow file and everything it refers to beside it.

    Raises:
        DefinitionError: the file is not a workflow file, cannot be read or does not
            parse; problems with the files it refers to are recorded on the source.
    """
    if not path.name.endswith(WORKFLOW_SUFFIXES):
        reason = "a workflow file name ends in .sw.json, .sw.yaml or .sw.yml"
        raise DefinitionError([Problem("", reason)], source=str(path))
    text = _read_text(path, shown=str(path))
    return load_text(text, name=str(path), folder=path.parent, path=path)


def load_directory(folder: Path) -> list[WorkflowSource]:
    """Read every workflow file directly in `folder`, sorted by file name.

    Sub-folders are not read: `tests/data/workflows/invalid/` keeps bad definitions
    next to good ones this way.

    Raises:
        DefinitionError: the folder does not exist, or a workflow file in it does not
            parse.
    """
    if not folder.is_dir():
        reason = "this is not a folder of workflow files"
        raise DefinitionError([Problem("", reason)], source=str(folder))
    found = [
        path
        for path in folder.iterdir()
        if path.name.endswith(WORKFLOW_SUFFIXES) and path.is_file()
    ]
    return [load_file(path) for path in sorted(found)]


def load_text(
    text: str, *, name: str, folder: Path | None = None, path: Path | None = None
) -> WorkflowSource:
    """Build a source from workflow text; files it refers to are read from `folder`.

    Without a folder, every file reference becomes a problem on the source.

    Raises:
        DefinitionError: the text does not parse, or is not a JSON object.
    """
    document = parse_text(text, name=name)
    if not isinstance(document, dict):
        reason = "a workflow document must be an object"
        raise DefinitionError([Problem("", reason)], source=name)
    files = _Files(folder=folder)
    document = _inline_sections(document, files)
    resources = _resources(document, files)
    input_schema, fail_on_input = _input_schema(document, files)
    output_schema, fail_on_output = _output_schema(document, files)
    return WorkflowSource(
        path=path,
        text=text,
        document=document,
        resources=resources,
        input_schema=input_schema,
        fail_on_input_validation=fail_on_input,
        output_schema=output_schema,
        fail_on_output_validation=fail_on_output,
        problems=tuple(files.problems),
    )


def parse_text(text: str, *, name: str) -> Json:
    """Parse JSON or YAML text; `name` (a file name) picks the format and names errors.

    Raises:
        DefinitionError: the text does not parse.
    """
    try:
        if _is_json(text, name):
            document = json.loads(text)
        else:
            loaded = yaml.load(text, Loader=_JsonCompatibleLoader)
            document = _json_compatible(loaded, "")
        _check_storable(text, document)
        return document
    except RecursionError as error:
        reason = "the document nests too deeply to be read"
        raise DefinitionError([Problem("", reason)], source=name) from error
    except InputError as error:
        raise DefinitionError([Problem("", str(error))], source=name) from error
    except json.JSONDecodeError as error:
        reason = f"the text does not parse as JSON: {_lower_first(error.msg)} "
        reason += f"at line {error.lineno}, column {error.colno}"
        raise DefinitionError([Problem("", reason)], source=name) from error
    except yaml.YAMLError as error:
        reason = f"the text does not parse as YAML: {_yaml_reason(error)}"
        raise DefinitionError([Problem("", reason)], source=name) from error


def _check_storable(text: str, document: Json) -> None:
    """Refuse what PostgreSQL could not store: NUL characters, nesting past the limit.

    Raises:
        InputError: naming the place.
    """
    json_limits.check(
        text, limits=DEFINITION_LIMITS, what="the definition text", depth=1
    )
    json_limits.check(
        document,
        limits=DEFINITION_LIMITS,
        what="the definition",
        depth=DEFINITION_LIMITS.document_depth,
    )


def to_stored(source: WorkflowSource) -> Json:
    """Render a source as JSON for a jsonb column; `from_stored` rebuilds it."""
    return {
        "format": STORED_FORMAT,
        "path": None if source.path is None else str(source.path),
        "text": source.text,
        "document": source.document,
        "resources": source.resources,
        "input_schema": source.input_schema,
        "fail_on_input_validation": source.fail_on_input_validation,
        "output_schema": source.output_schema,
        "fail_on_output_validation": source.fail_on_output_validation,
        "problems": [
            {"pointer": p.pointer, "reason": p.reason} for p in source.problems
        ],
    }


def from_stored(stored: Json) -> WorkflowSource:
    """Rebuild a source rendered by `to_stored`, without touching the file system.

    Raises:
        DefinitionError: `stored` is not what `to_stored` writes.
    """
    if not isinstance(stored, dict) or stored.get("format") != STORED_FORMAT:
        raise _malformed(
            f"it is not a stored workflow source of format {STORED_FORMAT}"
        )
    for key, kind in _STORED_TYPES.items():
        if not isinstance(stored.get(key), kind):
            raise _malformed(f"'{key}' is missing or of the wrong type")
    return WorkflowSource(
        path=None if stored["path"] is None else Path(stored["path"]),
        text=stored["text"],
        document=stored["document"],
        resources=stored["resources"],
        input_schema=stored.get("input_schema"),
        fail_on_input_validation=stored["fail_on_input_validation"],
        output_schema=stored.get("output_schema"),
        fail_on_output_validation=stored["fail_on_output_validation"],
        problems=tuple(_stored_problems(stored["problems"])),
    )


def locate_file(reference: str, base: Path, *, root: Path) -> Path | None:
    """Turn a file reference into a path; None for a remote (`http(s)://`) address.

    `classpath:` references start at `root` (the workflow folder, SonataFlow's resources
    folder); `file:` prefixes are dropped; other relative references start at `base`.
    """
    if reference.startswith(_REMOTE_SCHEMES):
        return None
    if reference.startswith("classpath:"):
        return root / reference.removeprefix("classpath:").lstrip("/")
    for prefix in ("file://", "file:"):
        if reference.startswith(prefix):
            reference = reference.removeprefix(prefix)
            break
    return base / reference


_STORED_TYPES: Final[Mapping[str, type | tuple[type, ...]]] = {
    "path": (str, type(None)),
    "text": str,
    "document": dict,
    "resources": dict,
    "fail_on_input_validation": bool,
    "fail_on_output_validation": bool,
    "problems": list,
}


class _JsonCompatibleLoader(yaml.SafeLoader):
    """A safe YAML loader that keeps timestamps as strings, so documents stay JSON."""

    yaml_constructors: ClassVar[dict[Any, Any]] = {
        **yaml.SafeLoader.yaml_constructors,
        "tag:yaml.org,2002:timestamp": yaml.SafeLoader.construct_yaml_str,
    }


@dataclass(slots=True, kw_only=True)
class _Files:
    """Reads the files a workflow refers to, recording what went wrong as problems."""

    folder: Path | None
    problems: list[Problem] = field(default_factory=list)

    def read(self, reference: str, pointer: str) -> Json | None:
        path = self.locate(reference, pointer)
        if path is None:
            return None
        try:
            return self.read_path(path)
        except DefinitionError as error:
            self.problems.extend(Problem(pointer, p.reason) for p in error.problems)
            return None

    def locate(self, reference: str, pointer: str) -> Path | None:
        if self.folder is None:
            reason = f"file '{reference}' cannot be read: the workflow has no folder"
            self.problems.append(Problem(pointer, reason))
            return None
        path = locate_file(reference, self.folder, root=self.folder)
        if path is None:
            reason = f"'{reference}' is a remote address; knflow reads local files only"
            self.problems.append(Problem(pointer, reason))
        return path

    def read_path(self, path: Path) -> Json:
        shown = self.shown(path)
        text = _read_text(path, shown=shown)
        try:
            return parse_text(text, name=path.name)
        except DefinitionError as error:
            reason = error.problems[0].reason.replace("the text", f"file '{shown}'", 1)
            raise DefinitionError([Problem("", reason)], source=shown) from error

    def shown(self, path: Path) -> str:
        if self.folder is not None and path.is_relative_to(self.folder):
            return path.relative_to(self.folder).as_posix()
        return str(path)

    def inline_schema(self, schema: Json, origin: Path, pointer: str) -> Json | None:
        root = origin.parent if self.folder is None else self.folder

        def locate(reference: str, base: Path) -> Path | None:
            return locate_file(reference, base, root=root)

        try:
            return schema_inlining.inline_schema(
                schema, origin, read=self.read_path, locate=locate
            )
        except DefinitionError as error:
            self.problems.extend(Problem(pointer, p.reason) for p in error.problems)
            return None


def _inline_sections(document: dict[str, Json], files: _Files) -> dict[str, Json]:
    inlined = dict(document)
    for key in EXTERNAL_SECTIONS:
        reference = document.get(key)
        if not isinstance(reference, str):
            continue
        content = files.read(reference, f"/{key}")
        if content is not None:
            inlined[key] = _unwrap(content, key)
    return inlined


def _unwrap(content: Json, key: str) -> Json:
    # A definitions file holds `{"functions": [...]}` or the bare list; a constants
    # file is the constants object itself unless it only wraps one under `constants`.
    wrapped = isinstance(content, dict) and key in content
    if wrapped and (key != "constants" or len(content) == 1):
        return content[key]
    return content


def _resources(document: Mapping[str, Json], files: _Files) -> dict[str, Json]:
    loaded: dict[str, Json] = {}
    failed: set[str] = set()
    aliases = uri_definitions(document)
    functions = document.get("functions")
    for index, function in enumerate(functions if isinstance(functions, list) else []):
        source = _operation_source(function)
        if source is None or source in loaded:
            continue
        pointer = f"/functions/{index}/operation"
        if source in failed:
            reason = (
                f"document '{source}' is not loaded (see the first function using it)"
            )
            files.problems.append(Problem(pointer, reason))
            continue
        content = files.read(aliases.get(source, source), pointer)
        if content is None:
            failed.add(source)
        else:
            loaded[source] = content
    return loaded


def uri_definitions(document: Mapping[str, Json]) -> dict[str, str]:
    """Return the `workflow-uri-definitions` extension's map of names to files.

    With it, `"operation": "multiplication#Do Operation"` reads the document of the file
    the extension gives for `multiplication`; resources stay keyed by the name.
    """
    found: dict[str, str] = {}
    for extension in _extensions(document, URI_DEFINITIONS_EXTENSION):
        definitions = extension.get("definitions")
        if isinstance(definitions, dict):
            found.update(
                (name, uri) for name, uri in definitions.items() if isinstance(uri, str)
            )
    return found


def _extensions(
    document: Mapping[str, Json], extension_id: str
) -> list[Mapping[str, Json]]:
    extensions = document.get("extensions")
    return [
        extension
        for extension in (extensions if isinstance(extensions, list) else [])
        if isinstance(extension, dict) and extension.get("extensionid") == extension_id
    ]


def _operation_source(function: Json) -> str | None:
    if not isinstance(function, dict):
        return None
    if function.get("type", "rest") not in ("rest", "asyncapi"):
        return None
    operation = function.get("operation")
    if not isinstance(operation, str):
        return None
    source = references.operation_document(operation)
    if source is None or source.startswith(_REMOTE_SCHEMES):
        return None
    return source


def _input_schema(document: Mapping[str, Json], files: _Files) -> tuple[Json, bool]:
    declared = document.get("dataInputSchema")
    if isinstance(declared, dict):
        fail = declared.get("failOnValidationErrors", True) is not False
        return _schema(declared.get("schema"), files, "/dataInputSchema"), fail
    return _schema(declared, files, "/dataInputSchema"), True


def _output_schema(document: Mapping[str, Json], files: _Files) -> tuple[Json, bool]:
    extensions = document.get("extensions")
    for index, extension in enumerate(
        extensions if isinstance(extensions, list) else []
    ):
        if not isinstance(extension, dict):
            continue
        if extension.get("extensionid") != OUTPUT_SCHEMA_EXTENSION:
            continue
        declared = extension.get("outputSchema")
        pointer = f"/extensions/{index}/outputSchema"
        if isinstance(declared, dict) and "schema" in declared:
            fail = declared.get("failOnValidationErrors", True) is not False
            return _schema(declared["schema"], files, pointer), fail
        return _schema(declared, files, pointer), True
    return None, True


def _schema(declared: Json, files: _Files, pointer: str) -> Json | None:
    if isinstance(declared, dict):
        beside = (files.folder or Path()) / "inline.schema.json"
        return files.inline_schema(declared, beside, pointer)
    if not isinstance(declared, str):
        return None
    origin = files.locate(declared, pointer)
    if origin is None:
        return None
    content = files.read(declared, pointer)
    if content is None:
        return None
    return files.inline_schema(content, origin, pointer)


def _read_text(path: Path, *, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        reason = f"file '{shown}' does not exist"
        raise DefinitionError([Problem("", reason)], source=shown) from error
    except (OSError, UnicodeDecodeError) as error:
        reason = f"file '{shown}' cannot be read: {error}"
        raise DefinitionError([Problem("", reason)], source=shown) from error


def _is_json(text: str, name: str) -> bool:
    if name.endswith(".json"):
        return True
    if name.endswith((".yaml", ".yml")):
        return False
    return text.lstrip().startswith(("{", "["))


def _json_compatible(value: Any, pointer: str) -> Json:
    # YAML allows non-string keys (`200:` in OpenAPI responses); JSON has string keys.
    if isinstance(value, dict):
        return {
            str(key): _json_compatible(element, f"{pointer}/{key}")
            for key, element in value.items()
        }
    if isinstance(value, list):
        return [
            _json_compatible(element, f"{pointer}/{index}")
            for index, element in enumerate(value)
        ]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    kind = type(value).__name__
    raise yaml.YAMLError(f"the value at {pointer or '/'} is not JSON but {kind}")


def _yaml_reason(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        context = f" ({error.context})" if error.context else ""
        return f"{error.problem}{where}{context}"
    return str(error)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _malformed(reason: str) -> DefinitionError:
    reason = f"the stored workflow source is malformed: {reason}"
    return DefinitionError([Problem("", reason)])


def _stored_problems(stored: list[Json]) -> list[Problem]:
    problems = []
    for entry in stored:
        if not isinstance(entry, dict) or not isinstance(entry.get("reason"), str):
            raise _malformed("a problem has no reason")
        problems.append(Problem(str(entry.get("pointer", "")), entry["reason"]))
    return problems
