"""Compiling every expression of a workflow document up front, for validation.

Each expression found by `workflow.expression_sites` is compiled (never run) by the
same `Evaluator` the engine uses, so that what registration accepts, the engine can
evaluate; each failure is a `Problem` at the expression's JSON pointer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from knflow.engine import expressions
from knflow.engine.expressions import JQ, Evaluator
from knflow.errors import ExpressionError, Problem
from knflow.workflow.expression_sites import Site, SiteKind, expression_sites
from knflow.workflow.model import Json

# SonataFlow reads a bare `a.b` in `toStateData` as the path `.a.b`.
_DOTTED_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def find_expression_problems(document: Json) -> list[Problem]:
    """Return a problem for every jq expression of `document` that does not compile.

    JSONPath workflows and SonataFlow's legacy `{{ }}` expressions (JSONPath inside a jq
    workflow) are left to run time: the engine reads them leniently in ways a compile
    alone cannot predict, and a false refusal would reject a workflow SonataFlow runs.
    """
    if not isinstance(document, dict):
        return []
    if str(document.get("expressionLang") or JQ).strip().lower() != JQ:
        return []
    try:
        evaluator = Evaluator(functions=_expression_functions(document))
    except ExpressionError as error:
        return [Problem("/functions", error.reason)]
    problems: list[Problem] = []
    for site in expression_sites(document):
        for text in _expressions(evaluator, site):
            try:
                evaluator.check(text)
            except ExpressionError as error:
                problems.append(Problem(site.pointer, _reason(text, error)))
                break
    return problems


def _expressions(evaluator: Evaluator, site: Site) -> Iterator[str]:
    if isinstance(site.value, str) and site.value.strip().startswith("{{"):
        return
    if site.kind is SiteKind.EXPRESSION:
        yield str(site.value)
        return
    if site.kind is SiteKind.PATH:
        if not _DOTTED_NAME.fullmatch(str(site.value).strip()):
            yield str(site.value)
        return
    yield from _template_expressions(site.value)


def _template_expressions(value: Any) -> Iterator[str]:
    """The `${ }` expressions inside a template.

    Bare strings stay literal when they do not compile, so only marked ones can be wrong.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and "${" in item:
            yield from expressions.marked_expressions(item)


def _expression_functions(document: dict[str, Any]) -> dict[str, str]:
    functions = document.get("functions")
    return {
        str(function["name"]): str(function["operation"])
        for function in (functions if isinstance(functions, list) else [])
        if isinstance(function, dict)
        and function.get("type") == "expression"
        and isinstance(function.get("name"), str)
        and isinstance(function.get("operation"), str)
    }


def _reason(text: str, error: ExpressionError) -> str:
    return f"the expression '{text}' does not compile: {error.reason}"
