"""A leaderboard database with the two demo examples stored and the literature seeded."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app
from harness.results import ResultWarning, read_result
from leaderboard.db import make_engine
from leaderboard.ingest import store
from tests.conftest import REPO

SWAP_WARNING = ResultWarning(
    code="joint-order", benchmark="h36m", joints=["l_wrist", "r_wrist"],
    message="left and right wrists look exchanged: the error drops from 210 mm to 40 mm when they are swapped back",
)


def seeded_database(url: str, demo_yaml: Path, warning_on: str | None = None) -> str:
    """Both demo examples scored and stored, the literature seeded; `warning_on` names the example whose scored
    result also carries SWAP_WARNING (built here, as `harness evaluate` would add it for a swapped submission)."""
    runner = CliRunner()
    for example in ("demo_gt_noise.npz", "demo_mean_pose.npz"):
        if example != warning_on:
            res = runner.invoke(app, ["evaluate", str(REPO / "submissions/examples" / example), "--datasets", str(demo_yaml), "--store", "--db", url])
            assert res.exit_code == 0, res.output
            continue
        out = Path(make_engine(url).url.database).with_name(f"{example}.json")
        res = runner.invoke(app, ["evaluate", str(REPO / "submissions/examples" / example), "--datasets", str(demo_yaml), "--json", str(out), "--force"])
        assert res.exit_code == 0, res.output
        result = read_result(out)
        result.warnings = [SWAP_WARNING]
        assert runner.invoke(app, ["db", "upgrade", "--db", url]).exit_code == 0
        store(make_engine(url, writer=True), result)
    assert runner.invoke(app, ["db", "seed", "--db", url]).exit_code == 0
    return url
