"""Validation of workflow definitions: every problem at once, each with a JSON pointer.

Two modes: strict accepts what the Serverless Workflow 0.8 JSON schema accepts; lenient
(the default) also accepts what SonataFlow accepts (no `specVersion`, `arguments` as a
jq string or a list, callbacks without `resultEventRef`, switches without
`defaultCondition`, nameless branches, an extra `name` in `functionRef`, `eventTimeout` at
state level, inline input schemas), and reads the document through
`dialect.to_canonical` first (string booleans, `$CONST` timeouts...).
Bare expressions without `${ }` are plain strings to the schema, so both modes accept
them; how they are read is the engine's business. Reference rules apply in both modes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

from knflow.errors import DefinitionError, Problem
from knflow.workflow import dialect, references, structure, values
from knflow.workflow.loading import WorkflowSource
from knflow.workflow.model import Json


def find_problems(
    document: Json,
    *,
    strict: bool = False,
    resources: Mapping[str, Json] | None = None,
) -> list[Problem]:
    """Return every structural and reference problem of a workflow document.

    `resources` holds the OpenAPI/AsyncAPI documents of `rest`/`asyncapi` functions,
    keyed as written before the `#`; when None, operations are not checked.
    """
    if not strict and isinstance(document, dict):
        document = dialect.to_canonical(document)
    found = structure.find_structure_problems(document, strict=strict)
    found += references.find_reference_problems(
        document, strict=strict, resources=resources
    )
    found += values.find_value_problems(document)
    return _unique(found)


ExpressionCheck = Callable[[Json], list[Problem]]
"""Compiles every expression of a document (`engine.expression_check`, which this pure
layer cannot import); callers that register or validate definitions pass it."""


def check(
    source: WorkflowSource,
    *,
    strict: bool = False,
    expressions: ExpressionCheck | None = None,
) -> None:
    """Return normally when the source is valid.

    Problems found while loading the files it refers to come first; a pointer they
    already explain is not reported again. With `expressions`, every expression is
    compiled too and reported at its pointer.

    Raises:
        DefinitionError: with every problem found.
    """
    problems = list(source.problems)
    explained = {problem.pointer for problem in problems}
    problems += [
        problem
        for problem in find_problems(
            source.document, strict=strict, resources=source.resources
        )
        if problem.pointer not in explained
    ]
    problems += _schema_problems(source.input_schema, "/dataInputSchema")
    if expressions is not None:
        problems += expressions(source.document)
    if problems:
        raise DefinitionError(problems, source=_label(source))


def _schema_problems(schema: Json, pointer: str) -> list[Problem]:
    if schema is None:
        return []
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as error:
        where = "/".join(str(part) for part in error.absolute_path)
        at = f" at /{where}" if where else ""
        reason = f"the input schema is not a valid JSON schema{at}: {error.message}"
        return [Problem(pointer, reason)]
    return []


def _label(source: WorkflowSource) -> str:
    if source.path is not None:
        return str(source.path)
    workflow_id = source.document.get("id") or source.document.get("key")
    return str(workflow_id) if workflow_id else ""


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))
