"""The `harness` command line: the harness's own commands (evaluate, validate, template, list, compare, demo);
the leaderboard and the baselines add theirs through entry points (harness/plugins.py). Exit codes: 0 ok, 2 bad
input, 3 dataset not available, 4 a baseline regressed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from harness.cli_support import DatasetsOpt, DbOpt, ForceOpt, MethodOpt, app, err, one_line_errors, out
from harness.config import load_config
from harness.errors import BadInput, DatasetUnavailable
from harness.plugins import register_commands


@app.command()
@one_line_errors
def evaluate(
    submission: Annotated[Path | None, typer.Argument(help="submission .npz (or use --model)")] = None,
    benchmark: Annotated[list[str] | None, typer.Option("--benchmark", "-b", help="benchmark id (repeatable); default: the standard ones of the submission's dataset")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the result JSON here")] = None,
    force: ForceOpt = False,
    no_ci: Annotated[bool, typer.Option("--no-ci", help="skip bootstrap intervals")] = False,
    store: Annotated[bool, typer.Option("--store", help="store the result in the leaderboard database")] = False,
    db: DbOpt = None,
    method: MethodOpt = None,
    model: Annotated[str | None, typer.Option("--model", help="model entrypoint PATH.py:FACTORY or MODULE:FACTORY, run on the 2D inputs")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", help="dataset to run --model on")] = None,
    input_2d: Annotated[str | None, typer.Option("--input-2d", help="2D source for --model (e.g. gt, cpn)")] = None,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda, passed to the model as $POSEBENCH_DEVICE")] = "cpu",
    batch_size: Annotated[int, typer.Option("--batch-size", help="passed to the model as $POSEBENCH_BATCH_SIZE")] = 1024,
    timeout: Annotated[float, typer.Option("--timeout", help="wall-clock and CPU-time limit of the model process, seconds")] = 3600.0,
    memory_limit: Annotated[float, typer.Option("--memory-limit", help="memory limit of the model's process tree, GB")] = 16.0,
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="run a trusted local model without the bubblewrap sandbox (resource limits only; never stored as verified)")] = False,
    save_predictions: Annotated[Path | None, typer.Option("--save-predictions", help="write the model's predictions as a submission file")] = None,
    meta: Annotated[Path | None, typer.Option("--meta", help="YAML with method name, supervision, training data, 2D input (overrides the module's POSEBENCH_META)")] = None,
    option: Annotated[list[str] | None, typer.Option("--option", help="KEY=VALUE passed to the model's factory as a keyword argument (repeatable)")] = None,
    datasets: DatasetsOpt = None,
) -> None:
    """Score a submission file, or a model entrypoint run on the benchmark's 2D inputs, and print the results."""
    from harness.outputs import check_new
    from harness.plugins import result_store

    for path in (json_out, save_predictions):
        if path is not None:
            check_new(path, force)
    config = load_config(datasets)
    if submission is None and model is None:
        raise BadInput("evaluate: give a submission file (harness evaluate SUB.npz) or a model (--model PATH.py:FACTORY --dataset D --input-2d SOURCE)")
    if submission is not None and model is not None:
        raise BadInput("evaluate: give either a submission file or --model, not both")
    sink = result_store() if store else None  # the leaderboard, found once through its entry point
    loaded = None
    if model is None:
        from harness.submission import read_submission

        sub = read_submission(submission)
    else:  # before the heavy imports below: the model process starts meanwhile
        from harness.model_run import ModelRequest, factory_options, run_model

        request = ModelRequest(model, dataset, input_2d, device, batch_size, timeout, memory_limit, meta, factory_options(option or []), not no_sandbox)
        sub, loaded = run_model(request, config, err, sink.protected_file(db) if sink else None)
    if sink and model is not None and not (method or sub.meta.name):
        raise BadInput(f"--model {model}: a stored result needs a method name: set POSEBENCH_META['name'] in the model or name: in --meta FILE, or pass --method")
    if sink:
        sink.check(str(submission or model), sub.meta, Path(sub.path).name, db, method)
    from harness.evaluate import evaluate_loaded
    from harness.report import print_result
    from harness.results import write_result

    if save_predictions is not None:
        from harness.submission import save_submission

        save_submission(sub, save_predictions, force)
    result = evaluate_loaded(sub, config, benchmark or (), with_ci=not no_ci, loaded=loaded)
    if json_out is not None:
        write_result(result, json_out, force=force)
    print_result(result, out)
    for path in (p for p in (save_predictions, json_out) if p is not None):
        out.print(f"wrote {path}")
    if sink:
        for line in sink.store(result, db, method, "unsandboxed" if model is not None and no_sandbox else "verified"):
            out.print(line)


@app.command()
@one_line_errors
def validate(submission: Annotated[Path, typer.Argument(help="submission .npz")], datasets: DatasetsOpt = None) -> None:
    """Check a submission without scoring it: format, values, units, the exact id set, and the joint order."""
    from harness.datasets import load_dataset
    from harness.joint_order import check_joint_order
    from harness.submission import match_to_test_set, read_submission

    sub = read_submission(submission)
    out.print(f"{submission}: format ok: {len(sub)} samples, dataset {sub.dataset}, units {sub.units}, joint set {sub.joint_set}")
    try:
        test = load_dataset(load_config(datasets), sub.dataset)
    except DatasetUnavailable as exc:
        raise DatasetUnavailable(f"{exc} (the sample ids could not be checked)") from None
    pred, scored = match_to_test_set(sub, test)
    if scored.joint_set != test.joint_set:
        out.print(f"{submission}: {scored.notes[-1]}")
    mistake = check_joint_order(pred, scored.gt3d, scored.joint_set)
    if mistake is not None:
        out.print(f"{submission}: warning: {mistake.message}")
    out.print(f"{submission}: ids ok: exactly the {len(test)} samples of {sub.dataset} {test.split}{' (demo data)' if test.is_demo else ''}")


@app.command()
@one_line_errors
def template(
    dataset: Annotated[str, typer.Argument(help="dataset name in datasets.yaml, e.g. h36m")],
    output: Annotated[Path, typer.Option("-o", "--output", help="template .npz to write")],
    force: ForceOpt = False,
    datasets: DatasetsOpt = None,
) -> None:
    """Write sample ids, 2D inputs, intrinsics and sequence boundaries; add `pose3d` and submit."""
    from harness.datasets import load_dataset
    from harness.template import write_template

    config = load_config(datasets)
    entry = config.entry(dataset)
    sources = entry.present_inputs_2d()
    test = load_dataset(config, dataset, inputs_2d=sources)
    write_template(test, output, force=force)
    skipped = sorted(set(entry.inputs_2d) - set(sources))
    note = f" (files not found for: {', '.join(skipped)})" if skipped else ""
    out.print(f"wrote {output}: {len(test)} samples, 2D sources {', '.join(test.inputs_2d) or 'none'}{note}")


@app.command("list")
@one_line_errors
def list_(
    what: Annotated[str, typer.Argument(help="benchmarks, datasets or joints")] = "benchmarks",
    name: Annotated[str | None, typer.Argument(help="for joints: one joint set (default: the submission joint sets)")] = None,
    datasets: DatasetsOpt = None,
) -> None:
    """List the benchmarks, the configured datasets and whether their files are there, or joint orders."""
    from harness.report import benchmarks_text, datasets_table, joints_table

    if what == "benchmarks":
        for line in benchmarks_text():
            out.print(line)
    elif what == "datasets":
        out.print(datasets_table(load_config(datasets)))
    elif what == "joints":
        from harness.skeletons import joint_set
        from harness.submission import SUBMISSION_JOINT_SETS

        try:
            sets = [joint_set(name)] if name else [joint_set(n) for n in SUBMISSION_JOINT_SETS]
        except KeyError as exc:
            raise BadInput(f"list joints: {exc.args[0]}") from None
        for js in sets:
            out.print(joints_table(js))
    else:
        raise BadInput(f"list: expected 'benchmarks', 'datasets' or 'joints', got '{what}'")


@app.command()
@one_line_errors
def compare(
    a: Annotated[Path, typer.Argument(help="result JSON of submission A")],
    b: Annotated[Path, typer.Argument(help="result JSON of submission B")],
) -> None:
    """Paired difference A - B on the same frames, with a bootstrap interval over takes."""
    from harness.compare import caveats, paired_differences
    from harness.report import print_differences
    from harness.results import read_result

    labels = (a.stem, b.stem) if a.stem != b.stem else ("A", "B")
    ra, rb = read_result(a), read_result(b)
    print_differences(paired_differences(ra, rb, labels), labels, out)
    for caveat in caveats(ra, rb, labels):
        out.print(f"note: {caveat}")


@app.command()
@one_line_errors
def demo(
    data_root: Annotated[Path | None, typer.Option("--data-root", help="where to write (default: data_root of datasets.yaml)")] = None,
    datasets: DatasetsOpt = None,
) -> None:
    """Write the built-in demo dataset (real motion in Human3.6M's file formats) under the data root."""
    from harness.demo.h36m import write_demo
    from harness.demo.mpi_inf_3dhp import write_demo_3dhp
    from harness.demo.pw3d import write_demo_3dpw

    root = data_root or load_config(datasets).data_root
    try:
        written = {"Human3.6M": write_demo(root), "MPI-INF-3DHP": write_demo_3dhp(root), "3DPW": write_demo_3dpw(root)}
    except OSError as exc:
        raise BadInput(f"{root}: cannot write the demo data there ({exc.strerror or exc})") from None
    for name, where in written.items():
        out.print(f"wrote the demo {name} files to {where}")
    out.print("next: harness evaluate submissions/examples/demo_gt_noise.npz")


def main_entry() -> None:
    """Console entry point: command-line usage errors become one `error:` line (exit 2), not a boxed panel.

    Typer raises the usage errors of the click it brings (vendored in recent typer), so they are recognised
    by their interface (`format_message`, `exit_code`) rather than by class.
    """
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        err.print("aborted")
        code = 1
    except Exception as exc:
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            raise
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            out.print(ctx.get_help())
        else:
            where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            err.print(f"error: {exc.format_message()}{where}")
        code = exc.exit_code
    sys.exit(code if isinstance(code, int) else 0)


register_commands(app)  # last: the packages' commands come after the harness's own
