"""`knflow dev` refuses to start, with a clear message, when its inputs are wrong."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.stack import KNFLOW, ROOT, free_port_base


def _dev(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    command = [str(KNFLOW), "dev", "--port-base", str(free_port_base()), *args]
    environment = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def test_a_missing_workflows_folder_stops_knflow_dev_with_exit_code_1(
    tmp_path: Path, database_url: str
) -> None:
    result = _dev("--workflows", str(tmp_path / "missing"), database_url=database_url)
    assert result.returncode == 1
    assert "knflow dev:" in result.stderr
    assert "not a folder of workflow files" in result.stderr


def test_an_invalid_manifest_stops_knflow_dev_naming_the_object(
    tmp_path: Path, database_url: str
) -> None:
    (tmp_path / "trigger-bad.yaml").write_text(
        "kind: Trigger\nmetadata: {name: bad}\n"
        "spec: {broker: default, subscriber: {uri: 'http://x'}, filters: [{cesql: 'a'}]}\n"
    )
    result = _dev(
        "--eventing",
        str(tmp_path),
        "--workflows",
        str(ROOT / "workflows"),
        database_url=database_url,
    )
    assert result.returncode == 1
    assert (
        "Trigger 'bad'/spec/filters/0: cesql filters are not supported" in result.stderr
    )
