"""`knflow index rebuild`: recompute the Data Index projection from the runtime's tables.

The projection is replaced in one transaction from the registered definitions and every
Data Index event in the outbox, so a lost or mis-merged event is repaired; GraphQL keeps
answering from the previous rows until the rebuild commits.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from knflow.config import Settings
from knflow.errors import KnflowError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the sub-action and options."""
    parser.add_argument("action", choices=["rebuild"], help="what to do")
    parser.add_argument("--database-url", help="libpq URL (default: DATABASE_URL)")


def run(args: argparse.Namespace) -> int:
    """Rebuild the projection; print what was replayed."""
    from knflow.outbound.http import new_client
    from knflow.runtime.data_index import rebuild
    from knflow.runtime.services import Services
    from knflow.store import db

    settings = Settings.from_environment()
    if args.database_url:
        settings = dataclasses.replace(settings, database_url=args.database_url)
    try:
        pool = db.open_pool(settings.database_url, max_size=2)
    except KnflowError as error:
        sys.stderr.write(f"knflow index: {error}\n")
        return 1
    try:
        with new_client(settings.action_timeout) as http:
            services = Services(settings=settings, pool=pool, http=http)
            report = rebuild.rebuild(services)
    except KnflowError as error:
        sys.stderr.write(f"knflow index: {error}\n")
        return 1
    finally:
        pool.close()
    sys.stdout.write(
        f"index rebuilt: {report.definitions} definition(s), {report.events} event(s)"
        f" replayed, {report.skipped} skipped, {report.instances} instance(s) and"
        f" {report.jobs} job(s) applied from the runtime\n"
    )
    return 0
