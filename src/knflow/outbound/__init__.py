"""Calls out of knflow: workflow functions (REST, OpenAPI, Knative), the broker sink, Backstage.

httpx imports its command line (`httpx._main`: click, rich, pygments) whenever those happen to
be installed, ~150 ms of a cold start for a tool knflow never runs. A production install has
neither rich nor pygments (only the dev tools bring them), so there the import fails and httpx
keeps a stub; marking the module absent before any `outbound` module imports httpx makes every
install start alike, the dev venv the benchmark runs in included.
"""

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
