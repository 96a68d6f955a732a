"""What the baselines' end-to-end tests share: the CLI, a run's metrics log, a smoke run, and one run scored
both as a prediction file and as a model entrypoint."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from harness.cli import app
from harness.results import ResultFile

runner = CliRunner()


def cli(*args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def records(folder: Path) -> list[dict]:
    """The run's metrics.jsonl, one dict a line."""
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def train_smoke(name: str, folder: Path, demo_yaml: Path) -> Path:
    res = cli("baseline", "train", name, "--config", "smoke", "--out", folder, "--datasets", demo_yaml)
    assert res.exit_code == 0, res.output
    return folder


def scored_both_ways(name: str, checkpoint: Path, demo_yaml: Path, tmp_path: Path) -> tuple[ResultFile, ResultFile]:
    """The run scored through `baseline predict` + `evaluate FILE`, and through `evaluate --model`."""
    sub = tmp_path / f"{name}.npz"
    res = cli("baseline", "predict", name, "--checkpoint", checkpoint, "-o", sub, "--datasets", demo_yaml)
    assert res.exit_code == 0, res.output
    a, b = tmp_path / "file.json", tmp_path / "model.json"
    assert cli("evaluate", sub, "--json", a, "--no-ci", "--datasets", demo_yaml).exit_code == 0
    res = cli(
        "evaluate", "--model", f"baselines.{name}:entrypoint", "--option", f"checkpoint={checkpoint}",
        "--dataset", "h36m", "--input-2d", "gt", "--json", b, "--no-ci", "--datasets", demo_yaml,
    )
    assert res.exit_code == 0, res.output
    return ResultFile.model_validate_json(a.read_text()), ResultFile.model_validate_json(b.read_text())
