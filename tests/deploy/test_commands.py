"""`knflow deploy --dry-run` and `knflow gen-manifest`: the objects of a folder of
workflows, as YAML on stdout or as files, including updates and removals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from knflow.cli import main
from knflow.deploy import documents
from tests.conftest import ROOT
from tests.manifests.schemas import object_problems


def _workflow(
    folder: Path, workflow_id: str, *, version: str = "1.0", consumes: str = ""
) -> None:
    events = [{"name": "done", "type": "org.shop.done", "kind": "produced"}]
    if consumes:
        events.append(
            {"name": "in", "type": consumes, "kind": "consumed", "source": "shop"}
        )
    document = {
        "id": workflow_id,
        "version": version,
        "specVersion": "0.8",
        "name": workflow_id,
        "start": "Hello",
        "events": events,
        "states": [{"name": "Hello", "type": "inject", "data": {}, "end": True}],
    }
    folder.mkdir(exist_ok=True)
    (folder / f"{workflow_id}.sw.json").write_text(
        json.dumps(document), encoding="utf-8"
    )


def _dry_run(folder: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    code = main(["deploy", str(folder), "--namespace", "shop", "--dry-run"])
    assert code == 0
    return documents.parse(capsys.readouterr().out, name="stdout")


def _kinds_and_names(objects: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(obj["kind"], obj["metadata"]["name"]) for obj in objects]


def test_dry_run_prints_a_config_map_per_definition_and_a_trigger_per_consumed_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _workflow(tmp_path / "defs", "order", consumes="org.shop.paid")
    _workflow(tmp_path / "defs", "refund", consumes="org.shop.paid")

    printed = _dry_run(tmp_path / "defs", capsys)

    kinds = [kind for kind, _name in _kinds_and_names(printed)]
    assert kinds == ["ConfigMap", "ConfigMap", "Trigger"]
    assert printed[2]["spec"]["filter"]["attributes"]["type"] == "org.shop.paid"
    assert printed[0]["data"]["order.sw.json"].startswith('{"id": "order"')
    assert {obj["metadata"]["namespace"] for obj in printed} == {"shop"}


def test_dry_run_objects_of_the_example_workflows_are_valid_for_the_cluster(
    capsys: pytest.CaptureFixture[str],
) -> None:
    printed = _dry_run(ROOT / "workflows", capsys)

    config_maps = [obj for obj in printed if obj["kind"] == "ConfigMap"]
    assert len(config_maps) == len(list((ROOT / "workflows").glob("*.sw.*")))
    assert [problem for obj in printed for problem in object_problems(obj)] == []


def test_deploy_to_a_cluster_needs_a_namespace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _workflow(tmp_path / "defs", "order")

    code = main(["deploy", str(tmp_path / "defs"), "--dry-run"])

    assert code == 1
    assert "--namespace" in capsys.readouterr().err


def test_deploy_of_a_missing_folder_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["deploy", str(tmp_path / "nowhere"), "--namespace", "shop", "--dry-run"]
    )

    assert code == 1
    assert "is not a folder of workflow definitions" in capsys.readouterr().err


def test_gen_manifest_writes_one_file_per_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _workflow(tmp_path / "defs", "order", consumes="org.shop.paid")
    out = tmp_path / "out"

    code = main(["gen-manifest", str(tmp_path / "defs"), "--output", str(out)])

    names = sorted(path.name for path in out.iterdir())
    assert code == 0
    assert names[0] == "configmap-workflow-order.yaml"
    assert names[1].startswith("trigger-step-executor-consumed-org-shop-paid-")
    assert len(names) == 2


def test_gen_manifest_updates_changed_definitions_and_removes_dropped_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    defs, out = tmp_path / "defs", tmp_path / "out"
    _workflow(defs, "order", consumes="org.shop.paid")
    _workflow(defs, "refund", consumes="org.shop.refunded")
    main(["gen-manifest", str(defs), "--output", str(out)])
    (out / "configmap-handmade.yaml").write_text(
        "kind: ConfigMap\nmetadata: {name: handmade}\n"
    )
    (defs / "refund.sw.json").unlink()
    _workflow(defs, "order", version="2.0", consumes="org.shop.paid")

    main(["gen-manifest", str(defs), "--output", str(out)])

    names = sorted(path.name for path in out.iterdir())
    [order] = documents.read(out / "configmap-workflow-order.yaml")
    assert order["metadata"]["annotations"]["knflow.dev/workflow-version"] == "2.0"
    assert [n for n in names if "refund" in n] == []
    assert "configmap-handmade.yaml" in names
    assert "removed" in capsys.readouterr().out
