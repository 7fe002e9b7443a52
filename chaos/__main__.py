"""`python -m chaos`: run the scenarios (see chaos/runner.py)."""

import sys

from chaos import runner

sys.exit(runner.main())
