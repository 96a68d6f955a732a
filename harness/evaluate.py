"""One evaluation: submission file in, `ResultFile` out (no printing, no writing)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.benchmarks import benchmarks_for, score
from harness.config import DatasetsConfig
from harness.datasets import TestSet, load_dataset
from harness.joint_order import check_joint_order
from harness.results import MethodInfo, ResultFile, ResultWarning, SubmissionInfo, environment, now_utc
from harness.submission import Submission, match_to_test_set, read_submission


def evaluate_submission(path: Path, config: DatasetsConfig, benchmark_ids: Sequence[str] = (), with_ci: bool = True) -> ResultFile:
    """Validate `path`, score it on the requested benchmarks (default: the standard ones of its dataset)."""
    return evaluate_loaded(read_submission(path), config, benchmark_ids, with_ci)


def evaluate_loaded(
    sub: Submission, config: DatasetsConfig, benchmark_ids: Sequence[str] = (), with_ci: bool = True, loaded: TestSet | None = None
) -> ResultFile:
    """Score an already validated submission (from a file or a model run); `loaded` is a test set already in
    memory (a model run's), reused for the benchmarks of its dataset and ground truth."""
    path = sub.path
    entry = config.datasets.get(sub.dataset)
    with_smpl = entry is not None and entry.smpl_model_dir is not None
    benches = benchmarks_for(sub.dataset, benchmark_ids, with_smpl, "--benchmark", f"{path}: key 'dataset'")

    results, breakdowns, curves, per_take, worst, missing, notes, warnings = [], {}, {}, {}, {}, {}, {}, []
    tests = {} if loaded is None else {(loaded.dataset, loaded.split, None): loaded}
    for bench in benches:
        key = (bench.dataset, bench.split, bench.load_gt)
        if key not in tests:
            tests[key] = load_dataset(config, bench.dataset, split=bench.split, gt=bench.load_gt)
        pred, test = match_to_test_set(sub, tests[key])
        mistake = check_joint_order(pred, test.gt3d, test.joint_set)
        if mistake is not None:
            warnings.append(ResultWarning(code="joint-order", benchmark=bench.id, message=mistake.message, joints=mistake.joints))
        outcome = score(bench, test, pred, with_ci=with_ci)
        results.extend(outcome.results)
        breakdowns[bench.id] = outcome.breakdown
        curves[bench.id] = outcome.curve
        per_take[bench.id] = outcome.per_take
        worst[bench.id] = outcome.worst_frames
        if test.missing:
            missing[bench.id] = test.missing
        if outcome.notes:
            notes[bench.id] = outcome.notes
    return ResultFile(
        created_at=now_utc(),
        submission=SubmissionInfo(
            file=Path(path).name, sha256=sub.sha256, n_samples=len(sub), dataset=sub.dataset, units=sub.units, joint_set=sub.joint_set
        ),
        method=MethodInfo.model_validate(sub.meta.model_dump()),
        results=results,
        breakdowns=breakdowns,
        curves=curves,
        per_take=per_take,
        worst_frames=worst,
        missing=missing,
        notes=notes,
        warnings=warnings,
        environment={**environment(), **({"model_isolation": sub.isolation} if sub.isolation else {})},
    )
