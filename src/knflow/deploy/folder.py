"""The workflow definitions a deployment is made of: one folder, loaded and checked.

A definition with a part that cannot be loaded (a missing functions file, OpenAPI
document or schema) is refused here, before anything reaches a cluster.
"""

from __future__ import annotations

from pathlib import Path

from knflow.errors import DefinitionError, InputError
from knflow.workflow import loading
from knflow.workflow.loading import WorkflowSource


def load_definitions(folder: Path) -> list[WorkflowSource]:
    """Load every workflow file of `folder`.

    Raises:
        InputError: `folder` is not a folder.
        DefinitionError: a file cannot be parsed or refers to a part that is missing.
    """
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder of workflow definitions")
    sources = loading.load_directory(folder)
    for source in sources:
        if source.problems:
            raise DefinitionError(list(source.problems), source=str(source.path))
    return sources
