"""`knflow run FILE`: register a workflow and run one instance to its end in this process."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from knflow import json_limits
from knflow.commands import environment
from knflow.config import Settings
from knflow.errors import DefinitionError, InputError, KnflowError
from knflow.json_limits import JsonLimits
from knflow.outbound import sysout
from knflow.runtime import local_run
from knflow.runtime.services import Services
from knflow.runtime.start_workflow import registration, starting
from knflow.store import db
from knflow.workflow import loading

WORKFLOW_SUFFIXES = (".sw.json", ".sw.yaml", ".sw.yml")
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument(
        "file", type=Path, help="the workflow definition (.sw.json, .sw.yaml, .sw.yml)"
    )
    parser.add_argument(
        "--input", default=None, help="input data as JSON, or @file.json"
    )
    parser.add_argument(
        "--workflows",
        type=Path,
        default=None,
        help="folder of other definitions to register, for subflows (default: the file's folder)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="give up after this many seconds"
    )


def run(args: argparse.Namespace) -> int:
    """Run the instance; print its output on stdout (exit 0) or its failure on stderr (exit 1)."""
    with _logs_on_stderr():
        return _run(args)


@contextlib.contextmanager
def _logs_on_stderr() -> Iterator[None]:
    """Show `sysout` messages (every level) and other warnings on stderr while running.

    Stdout stays the workflow's output alone, so it can be piped.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(_SysoutOrWarning())
    root = logging.getLogger()
    sysout_logger = logging.getLogger(sysout.LOGGER_NAME)
    levels = (root.level, sysout_logger.level)
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.WARNING, logging.WARNING))
    sysout_logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        sysout_logger.setLevel(levels[1])


class _SysoutOrWarning(logging.Filter):
    """Pass every `sysout` record and the warnings and errors of other loggers."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name == sysout.LOGGER_NAME or record.levelno >= logging.WARNING


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_environment()
    try:
        data = _read_input(args.input)
        source = loading.load_file(args.file)
        with (
            environment.database(
                settings, data_dir=Path.cwd() / ".pgdata" / "run"
            ) as url,
            environment.services(settings, url) as services,
        ):
            _register_others(
                services, args.workflows or args.file.parent, skip=args.file
            )
            with db.transaction(services.pool) as conn:
                registration.register_source(
                    conn, source, settings=settings, now=services.clock()
                )
            workflow_id = str(source.document.get("id") or source.document.get("key"))
            row = starting.start_instance(
                services,
                starting.StartRequest(
                    workflow_id=workflow_id, data=data, variables={}, headers={}
                ),
            )
            view = local_run.run_to_end(
                services, row.id, timeout=timedelta(seconds=args.timeout)
            )
    except InputError as error:
        _print_input_problems(error)
        return 1
    except KnflowError as error:
        print(f"knflow run: {error}", file=sys.stderr)
        return 1
    if view.status == "COMPLETED":
        print(json.dumps(view.data, indent=2, ensure_ascii=False))
        return 0
    if view.status == "ERROR":
        print(
            f"knflow run: instance {row.id} failed in state '{view.error_state}':"
            f" {view.error_message}",
            file=sys.stderr,
        )
        return 1
    reason = "waits for an event" if view.waiting else "did not finish in time"
    print(
        f"knflow run: instance {row.id} is {view.status} and {reason}", file=sys.stderr
    )
    return 1


def _register_others(services: Services, folder: Path, *, skip: Path) -> None:
    """Register the folder's other definitions for subflows; invalid ones are skipped with a warning."""
    for path in sorted(folder.iterdir()):
        if path.resolve() == skip.resolve() or not path.name.endswith(
            WORKFLOW_SUFFIXES
        ):
            continue
        try:
            with db.transaction(services.pool) as conn:
                registration.register_source(
                    conn,
                    loading.load_file(path),
                    settings=services.settings,
                    now=services.clock(),
                )
        except DefinitionError as error:
            print(f"knflow run: skipping {path.name}: {error}", file=sys.stderr)


def _print_input_problems(error: InputError) -> None:
    """Every schema violation on its own line; other input errors as one line."""
    if not error.problems:
        print(f"knflow run: {error}", file=sys.stderr)
        return
    for problem in error.problems:
        print(f"knflow run: input {problem}", file=sys.stderr)


def _read_input(raw: str | None) -> Any:
    """The `--input` JSON object, given inline or as `@file`.

    Raises:
        InputError: the file cannot be read, or the text is not a JSON object that
            workflow data can be.
    """
    if raw is None:
        return {}
    text = _input_text(raw)
    data = json_limits.decode(text, limits=JsonLimits(), what="--input")
    if not isinstance(data, dict):
        raise InputError("--input must be a JSON object (the workflow data)")
    json_limits.check_data(data, limits=JsonLimits(), what="--input")
    return data


def _input_text(raw: str) -> str:
    if not raw.startswith("@"):
        return raw
    path = Path(raw[1:])
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(
            f"--input file '{path}' cannot be read: {error.strerror or error}"
        ) from error
    except UnicodeDecodeError as error:
        raise InputError(f"--input file '{path}' is not UTF-8 text") from error
