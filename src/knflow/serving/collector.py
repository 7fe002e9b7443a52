"""The cyclic garbage collector around module loading: paused meanwhile, then told to skip.

Loading modules allocates long-lived objects only (functions, classes, code, psycopg's
adapters and exception classes), yet their allocation triggers collections that scan
everything loaded so far, for no garbage: measured at ~50 ms of the ~380 ms of CPU that
start-workflow's use cases take to load. Resumed as it was, the collector would still scan
them all once at its next collection, and again at every full one: `gc.freeze` moves them
out of its reach instead (and, in the gunicorn worker forked from the process that loaded
them, keeps collections from writing to, hence copying, their memory pages).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def loading() -> Iterator[None]:
    """Pause the collector for the block, then freeze everything allocated so far.

    A frozen object is still freed when nothing refers to it: only a reference cycle among
    objects alive at the freeze (the loading's, a request's running meanwhile) is never
    collected. Left alone if something else had disabled the collector.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
