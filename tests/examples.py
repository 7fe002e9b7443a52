"""Copies of the reference SonataFlow examples that knflow can run.

Functions of type `service:` are Java classes of the example projects; the copy swaps them for
`sysout` (knflow runs no Java), and `patch` rewrites text such as durations.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import REFERENCE_DATA

SONATAFLOW_EXAMPLES = REFERENCE_DATA / "sonataflow-examples"


def copy_example(
    example: str, folder: Path, *, patch: dict[str, str] | None = None
) -> Path:
    """Copy an example's files into `folder` (created if needed); return `folder`."""
    shutil.copytree(SONATAFLOW_EXAMPLES / example, folder, dirs_exist_ok=True)
    for path in folder.glob("*.sw.*"):
        text = path.read_text()
        if path.suffix == ".json":
            document = json.loads(text)
            for function in document.get("functions", []):
                if str(function.get("operation", "")).startswith("service:"):
                    function["operation"] = "sysout"
            text = json.dumps(document)
        for old, new in (patch or {}).items():
            text = text.replace(old, new)
        path.write_text(text)
    return folder
