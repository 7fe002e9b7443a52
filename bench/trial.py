"""One side of one measure in a fresh process: `python -m bench.trial module:function JSON`.

The function takes the JSON parameters and returns a dict of figures, printed on the last
line after `RESULT_MARK`. A fresh process per trial keeps imports, caches and DBOS's global
state from leaking between knflow's runs and the anchor's.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Final

RESULT_MARK: Final = "BENCH-RESULT "


def main() -> None:
    """Run the named trial and print its figures."""
    module_name, _, function_name = sys.argv[1].partition(":")
    trial = getattr(importlib.import_module(module_name), function_name)
    figures = trial(json.loads(sys.argv[2]))
    sys.stdout.write(RESULT_MARK + json.dumps(figures) + "\n")
    sys.stdout.flush()
    # A bounded trial may leave work running in a thread (an instance past its budget):
    # leave without waiting for it; the runner drops the database.
    os._exit(0)


if __name__ == "__main__":
    main()
