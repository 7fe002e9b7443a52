"""`knflow validate FILE...`: check workflow definitions and report every problem.

Exit 0 when every file is valid; otherwise exit 1 with one `FILE: POINTER: REASON` line
per problem on stderr. A folder argument stands for the workflow files directly in it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from knflow.engine.expression_check import find_expression_problems
from knflow.errors import DefinitionError, Problem
from knflow.workflow import loading, validation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="workflow files (.sw.json, .sw.yaml, .sw.yml) or folders holding them",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="accept only what the Serverless Workflow 0.8 JSON schema accepts "
        "(default: also what SonataFlow accepts)",
    )


def run(args: argparse.Namespace) -> int:
    """Validate each file; print the problems; return 1 when any file has one."""
    failed = False
    for path in workflow_files(args.files):
        problems = problems_of(path, strict=args.strict)
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        if problems:
            failed = True
        else:
            print(f"{path}: valid")
    return 1 if failed else 0


def workflow_files(arguments: list[Path]) -> list[Path]:
    """The workflow files named, with a folder standing for the files directly in it."""
    files: list[Path] = []
    for argument in arguments:
        if not argument.is_dir():
            files.append(argument)
            continue
        found = sorted(
            path
            for path in argument.iterdir()
            if path.name.endswith(loading.WORKFLOW_SUFFIXES) and path.is_file()
        )
        files.extend(found or [argument])
    return files


def problems_of(path: Path, *, strict: bool = False) -> list[Problem]:
    """Every problem of one workflow file (none when it is valid)."""
    if path.is_dir():
        return [Problem("", "this folder holds no workflow files")]
    try:
        validation.check(
            loading.load_file(path),
            strict=strict,
            expressions=find_expression_problems,
        )
    except DefinitionError as error:
        return error.problems
    return []
