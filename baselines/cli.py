"""The baselines' commands (`harness baseline train|predict|import`, `harness regress`), contributed to the `harness`
app through entry points (pyproject.toml)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from baselines.registry import BASELINES
from harness.cli_support import DatasetsOpt, ForceOpt, err, one_line_errors, out
from harness.config import load_config
from harness.errors import BadInput

ThreadsOpt = Annotated[int | None, typer.Option("--threads", min=1, help="CPU threads (default: the config's `threads`; unset, OMP_NUM_THREADS or the idle CPUs)")]
BASELINE_NAMES = ", ".join(BASELINES)
REGRESSED = 4  # the exit code of a regression


@one_line_errors
def baseline_train(
    name: Annotated[str, typer.Argument(help=f"baseline: {BASELINE_NAMES}")],
    config: Annotated[str, typer.Option("--config", help="config YAML, or the name of one of the baseline's own: demo (minutes on a CPU), smoke (seconds), paper (days on a CPU: a GPU job)")] = "demo",
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a config key, e.g. teacher.epochs=2 (repeatable)")] = None,
    threads: ThreadsOpt = None,
    folder: Annotated[Path | None, typer.Option("--out", help="run folder (default: runs/NAME-CONFIG-HASH); an unfinished run there resumes")] = None,
    datasets: DatasetsOpt = None,
) -> None:
    """Train a baseline on its dataset's training split (2D only); under torchrun, on every process given."""
    from baselines.commands import default_folder, load_baseline_config, train

    cfg = load_baseline_config(name, config, [*(set_ or []), *([f"threads={threads}"] if threads else [])])
    final = train(name, cfg, folder or default_folder(name, cfg), load_config(datasets))
    out.print(f"trained {name} '{cfg.name}': {final}")


@one_line_errors
def baseline_predict(
    name: Annotated[str, typer.Argument(help=f"baseline: {BASELINE_NAMES}")],
    checkpoint: Annotated[Path, typer.Option("--checkpoint", help="the run's final checkpoint (e.g. runs/.../ites.pt)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="submission .npz to write")],
    dataset: Annotated[str, typer.Option("--dataset", help="dataset whose test split to predict")] = "h36m",
    input_2d: Annotated[str | None, typer.Option("--input-2d", help="2D source (default: the one it was trained on)")] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="which network predicts (default: the final one; ites: student or teacher; posenet3d: student, teacher, student-stage2 or teacher-stage1; nlrd: adapted or source)")] = None,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda")] = "cpu",
    threads: ThreadsOpt = None,
    force: ForceOpt = False,
    datasets: DatasetsOpt = None,
) -> None:
    """Write a trained baseline's predictions for a test split as an ordinary submission file."""
    from baselines.commands import predict
    from harness.outputs import check_new
    from harness.submission import save_submission

    check_new(output, force)
    sub, test = predict(name, checkpoint, load_config(datasets), dataset, input_2d, stage, device, threads)
    save_submission(sub, output, force)
    out.print(f"wrote {output}: {len(test)} samples of {dataset}, {getattr(sub.meta, 'stage', None)} of {checkpoint}")


@one_line_errors
def baseline_import(
    name: Annotated[str, typer.Argument(help="baseline whose authors released weights: ites")],
    teacher: Annotated[Path, typer.Option("--teacher", help="the authors' teacher checkpoint (ITES: checkpoint/teacher/ckpt_teacher.bin)")],
    student: Annotated[Path, typer.Option("--student", help="the authors' student checkpoint (ITES: checkpoint/student/ckpt_student.bin)")],
    folder: Annotated[Path, typer.Option("--out", "-o", help="run folder to write the run (ites.pt) into")],
    dataset: Annotated[str, typer.Option("--dataset", help="dataset whose training 2D sets the metric scale (the weights were trained on h36m)")] = "h36m",
    input_2d: Annotated[str, typer.Option("--input-2d", help="2D source the weights were trained on, predicted from by default (official README: gt)")] = "gt",
    threads: ThreadsOpt = None,
    force: ForceOpt = False,
    datasets: DatasetsOpt = None,
) -> None:
    """Turn the authors' released weights into a run that `baseline predict` and the model entrypoint accept:
    loaded strictly (every key and shape), from the legacy (torch < 1.6) or the zip format."""
    if name != "ites":
        raise BadInput(f"baseline import {name}: only ites has released weights to import")
    from baselines.ites.official import import_official

    final = import_official(teacher, student, folder, load_config(datasets), dataset, input_2d, threads, force)
    out.print(f"wrote {final}: the authors' ITES teacher and student; score it with `harness baseline predict ites --checkpoint {final} -o ites-official.npz`")


@one_line_errors
def regress(
    name: Annotated[str | None, typer.Argument(help="pinned run to check, e.g. ites or nlrd-gap (default: every one in baselines/reference.yaml)")] = None,
    retrain: Annotated[bool, typer.Option("--retrain", help="train again even if the run is cached")] = False,
    reference_file: Annotated[Path | None, typer.Option("--reference", help="pinned results (default: baselines/reference.yaml)")] = None,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="the run cache (default: $POSEBENCH_CACHE, else ~/.cache/posebench-runs)")] = None,
    datasets: DatasetsOpt = None,
) -> None:
    """Retrain (or reuse the cached run of) each pinned demo run, score it and compare with the pinned metrics
    and verdicts; exit 4 if a metric differs by more than its tolerance or a verdict no longer holds."""
    from baselines.regress import REFERENCE, checks, judged, load_reference, measure

    reference = load_reference(reference_file or REFERENCE)
    if name is not None and name not in reference:
        raise BadInput(f"regress: no pinned run for '{name}' in baselines/reference.yaml (have: {', '.join(reference)})")
    config = load_config(datasets)
    failed = failed_verdicts = 0
    for baseline, pinned in reference.items():
        if name not in (None, baseline):
            continue
        folder, trained, measured = measure(baseline, pinned, config, retrain, cache_dir, err.print)
        how = "trained now" if trained else "reused from the cache"
        out.print(f"{baseline}: run {folder}, {how} (frame-mean; mm, mpjve mm/frame, accel mm/frame^2; reference -> measured)")
        for c in checks(baseline, pinned, measured):
            failed += not c.ok
            status = "ok" if c.ok else ("REGRESSED" if c.measured > c.reference else "IMPROVED beyond tolerance: re-pin it")
            out.print(f"  {c.stage:14} {c.benchmark:10} {c.metric:8} {c.reference:8.2f} -> {c.measured:8.2f}  ({c.measured - c.reference:+.2f}, tolerance {c.tolerance:g})  {status}")
        for j in judged(pinned, measured):
            failed_verdicts += not j.ok
            v = j.verdict
            out.print(f"  verdict: {v.says}: {v.stage} {j.value:.2f} vs {v.than} {j.than:.2f} {v.benchmark} {v.metric} (ratio {j.value / j.than:.3f}, at most {v.ratio:g})  {'holds' if j.ok else 'FAILS'}")
    if failed:
        err.print(f"error: {failed} pinned metric(s) moved by more than their tolerance (errors are lower-is-better; a pinned value that moved either way no longer describes the code)")
    if failed_verdicts:
        err.print(f"error: {failed_verdicts} verdict(s) no longer hold (the pinned runs stopped showing what baselines/reference.yaml says they show)")
    if failed or failed_verdicts:
        raise typer.Exit(REGRESSED)


def register(app: typer.Typer) -> None:
    """Add the baselines' commands to the `harness` app (the entry point of group posebench.commands)."""
    baseline_app = typer.Typer(no_args_is_help=True, help="Reference baselines: train one from a config, import the authors' released weights, or write a submission from a run.")
    baseline_app.command("train")(baseline_train)
    baseline_app.command("predict")(baseline_predict)
    baseline_app.command("import")(baseline_import)
    app.add_typer(baseline_app, name="baseline")
    app.command("regress")(regress)
