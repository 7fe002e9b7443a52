"""`python -m bench`: run the suite (see bench/runner.py)."""

import sys

from bench import runner

sys.exit(runner.main())
