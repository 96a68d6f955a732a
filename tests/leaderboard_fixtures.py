"""A leaderboard database with the two demo examples stored and the literature seeded."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app
from harness.results import ResultWarning, read_result
from leaderboard.db import make_engine
from leaderboard.ingest import Stored, store
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


def stored_again(url: str, result_json: Path, method: str, sha: str, scale: float = 1.0, real: bool = False, drop: tuple[str, ...] = ()) -> Stored:
    """The scored demo result `result_json` stored once more as a new submission (another sha256) of `method`,
    its errors times `scale`, as real data if `real`, without the metrics in `drop`: a second submission, a
    worse one, or a real-data row, built as `harness evaluate` would have written it."""
    result = read_result(result_json)
    result.submission.sha256 = sha
    result.results = [e.model_copy(update={"value": e.value if e.unit == "%" else e.value * scale, "ci95": None, "demo": e.demo and not real}) for e in result.results if e.metric not in drop]
    return store(make_engine(url, writer=True), result, method)


def scored_json(folder: Path, demo_yaml: Path, example: str = "demo_mean_pose.npz") -> Path:
    """The result JSON of a demo example, written into `folder` (scored once per folder)."""
    out = folder / f"{example}.json"
    if not out.exists():
        res = CliRunner().invoke(app, ["evaluate", str(REPO / "submissions/examples" / example), "--datasets", str(demo_yaml), "--json", str(out), "--force"])
        assert res.exit_code == 0, res.output
    return out
