"""A leaderboard database with the two demo examples stored and the literature seeded."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app
from tests.conftest import REPO


def seeded_database(url: str, demo_yaml: Path) -> str:
    runner = CliRunner()
    for example in ("demo_gt_noise.npz", "demo_mean_pose.npz"):
        res = runner.invoke(app, ["evaluate", str(REPO / "submissions/examples" / example), "--datasets", str(demo_yaml), "--store", "--db", url])
        assert res.exit_code == 0, res.output
    assert runner.invoke(app, ["db", "seed", "--db", url]).exit_code == 0
    return url
