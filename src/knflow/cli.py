"""The `knflow` command line: parses arguments and hands over to one `commands` module.

Command modules are imported only when chosen, so `knflow validate` does not pay for Flask,
strawberry or the Kubernetes client.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Final, NoReturn, Protocol

from knflow.errors import KnflowError

# (name, module under knflow.commands, help)
COMMANDS: Final = (
    ("validate", "validate", "check workflow definitions and report every problem"),
    ("run", "run", "run one workflow instance to completion in-process"),
    ("migrate", "migrate", "apply pending database migrations"),
    ("schema", "schema", "print the schema the migrations produce"),
    ("dev", "dev", "run every function, the development broker and PostgreSQL locally"),
    ("deploy", "deploy", "register definitions in the database or on a cluster"),
    (
        "gen-manifest",
        "gen_manifest",
        "write the cluster objects for a folder of workflows",
    ),
    ("index", "index", "maintain the Data Index projection (rebuild)"),
)


class CommandModule(Protocol):
    """What each `knflow.commands.<name>` module provides."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line: `knflow <command>: <problem>`."""

    def error(self, message: str) -> NoReturn:
        """Print the problem and where help is, then exit with status 2."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named in `argv` and return its exit code.

    Every failure is one line on stderr, `knflow <command>: <what is wrong and what to
    do>`, with exit status 1 (2 for a usage error), never a traceback.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = OneLineParser(prog="knflow", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, _module, summary in COMMANDS:
        subparsers.add_parser(name, help=summary, add_help=False)
    if not argv or argv[0] not in {name for name, _, _ in COMMANDS}:
        parser.parse_args(argv)  # prints the problem and exits
        return 2
    name = argv[0]
    module = _command_module(name)
    sub = OneLineParser(
        prog=f"knflow {name}", description=dict((n, h) for n, _, h in COMMANDS)[name]
    )
    module.add_arguments(sub)
    return _run(name, module, sub.parse_args(argv[1:]))


def _run(name: str, module: CommandModule, args: argparse.Namespace) -> int:
    """Run a command; failures it did not report itself become its one line."""
    try:
        return module.run(args)
    except KnflowError as error:
        sys.stderr.write(f"knflow {name}: {error}\n")
    except OSError as error:
        target = f" {error.filename}" if error.filename else ""
        sys.stderr.write(f"knflow {name}: cannot use{target}: {error.strerror}\n")
    except KeyboardInterrupt:
        return 130
    return 1


def _command_module(name: str) -> CommandModule:
    module_name = next(module for command, module, _ in COMMANDS if command == name)
    module: CommandModule = importlib.import_module(f"knflow.commands.{module_name}")
    return module


if __name__ == "__main__":
    sys.exit(main())
