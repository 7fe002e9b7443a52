"""The embedded PostgreSQL of `make run`: its user reaches data under root's private folders."""

from __future__ import annotations

import stat
from pathlib import Path

from knflow.devstack import postgres


def test_a_private_folder_above_the_data_becomes_traversable_not_listable(
    tmp_path: Path,
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    data_dir = private / "checkout" / ".pgdata"
    data_dir.mkdir(parents=True)

    postgres._let_through(data_dir.parent)

    mode = private.stat().st_mode
    assert mode & stat.S_IXOTH
    assert not mode & stat.S_IROTH
