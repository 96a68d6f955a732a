"""The `harness` command line. Exit codes: 0 ok, 2 bad input, 3 dataset not available, 4 a baseline regressed."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from harness.config import load_config
from harness.errors import BadInput, DatasetUnavailable, HarnessError
from harness.terminal import SafeConsole

app = typer.Typer(add_completion=False, no_args_is_help=True, help="PoseBench: score 3D human pose predictions the same way every time.")
# Markup off: method names, file names and ids come from users and must print literally.
out = SafeConsole()
err = SafeConsole(stderr=True)
_state = {"debug": False}

DatasetsOpt = Annotated[Path | None, typer.Option("--datasets", help="datasets.yaml to use (default: $POSEBENCH_DATASETS, ./datasets.yaml, packaged)")]
ForceOpt = Annotated[bool, typer.Option("--force", help="overwrite an existing output file")]
DbOpt = Annotated[str | None, typer.Option("--db", help="database URL (default: $POSEBENCH_DB_URL, else sqlite:///leaderboard.db)")]
MethodOpt = Annotated[str | None, typer.Option("--method", help="method name to store under (default: the submission's meta.name)")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", min=1, help="CPU threads (default: the config's `threads`; unset, OMP_NUM_THREADS or the idle CPUs)")]
BASELINE_NAMES = "ites, posenet3d or nlrd"  # baselines/registry.py's; tests/test_cli.py checks they agree

db_app = typer.Typer(no_args_is_help=True, help="The leaderboard database: schema migrations and ingest.")
app.add_typer(db_app, name="db")
baseline_app = typer.Typer(no_args_is_help=True, help="Reference baselines: train one from a config, or write a submission from a trained run.")
app.add_typer(baseline_app, name="baseline")
REGRESSED = 4


def one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected errors into one line on stderr and their exit code; --debug shows tracebacks."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HarnessError as exc:
            if _state["debug"]:
                raise
            err.print(f"error: {exc}")
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # never a traceback unless asked for
            if _state["debug"]:
                raise
            err.print(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
            raise typer.Exit(1) from None

    return wrapper


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False) -> None:
    _state["debug"] = debug


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

    for path in (json_out, save_predictions):
        if path is not None:
            check_new(path, force)
    config = load_config(datasets)
    if submission is None and model is None:
        raise BadInput("evaluate: give a submission file (harness evaluate SUB.npz) or a model (--model PATH.py:FACTORY --dataset D --input-2d SOURCE)")
    if submission is not None and model is not None:
        raise BadInput("evaluate: give either a submission file or --model, not both")
    loaded = None
    if model is None:
        from harness.submission import read_submission

        sub = read_submission(submission)
    else:  # before the heavy imports below: the model process starts meanwhile
        from harness.model_run import ModelRequest, factory_options, run_model

        request = ModelRequest(model, dataset, input_2d, device, batch_size, timeout, memory_limit, meta, factory_options(option or []), not no_sandbox)
        sub, loaded = run_model(request, config, err, _sqlite_file(db) if store else None)
    if store:
        _check_storable(str(submission or model), sub.meta, Path(sub.path).name, db, method)
    from harness.evaluate import evaluate_loaded
    from harness.report import print_result
    from harness.results import write_result

    if save_predictions is not None:
        from harness.submission import save_submission

        save_submission(sub, save_predictions, force)
    result = evaluate_loaded(sub, config, benchmark or (), with_ci=not no_ci, loaded=loaded)
    if model is not None:
        result.environment["model_isolation"] = sub.isolation
    if json_out is not None:
        write_result(result, json_out, force=force)
    print_result(result, out)
    for path in (p for p in (save_predictions, json_out) if p is not None):
        out.print(f"wrote {path}")
    if store:
        _store(result, db, method, "unsandboxed" if model is not None and no_sandbox else "verified")


def _sqlite_file(db: str | None) -> Path | None:
    """The database file a model must not see, where the leaderboard is a SQLite file."""
    from leaderboard.db import database_url

    url = database_url(db)
    return Path(url.removeprefix("sqlite:///")).resolve() if url.startswith("sqlite:///") else None


def _check_storable(where: str, meta: Any, file_name: str, db: str | None, method: str | None) -> None:
    """Before scoring: the result could be stored (its method name and fields fit the database, which answers)."""
    from leaderboard.db import make_engine
    from leaderboard.ingest import check_storable
    from leaderboard.schema import current_revision

    check_storable(where, method, meta, file_name)
    current_revision(make_engine(db))


def _store(result: Any, db: str | None, method: str | None, status: str = "verified") -> None:
    from leaderboard.db import make_engine
    from leaderboard.ingest import store
    from leaderboard.schema import ensure_current

    engine = make_engine(db, writer=True)
    ensure_current(engine)
    stored = store(engine, result, method, status)
    state = f"stored as {status}" if stored.created else "already stored (same file, same method)"
    out.print(f"{state}: submission {stored.submission_id} of method '{stored.method}' in {engine.url.render_as_string(hide_password=True)}")


@app.command("export")
@one_line_errors
def export_(
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, json, markdown or latex")] = "markdown",
    benchmark: Annotated[str, typer.Option("--benchmark", "-b", help="benchmark id")] = "h36m",
    data: Annotated[str, typer.Option("--data", help="real or demo (never mixed in one table)")] = "real",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="write here instead of the terminal")] = None,
    force: ForceOpt = False,
    db: DbOpt = None,
) -> None:
    """The leaderboard table of one benchmark, as stored (verified and reported rows)."""
    from leaderboard.db import make_engine
    from leaderboard.export import FORMATS, export
    from leaderboard.queries import leaderboard_table
    from leaderboard.schema import current_revision

    if fmt not in FORMATS:
        raise BadInput(f"--format: expected one of {', '.join(FORMATS)}, got '{fmt}'")
    engine = make_engine(db)
    if current_revision(engine) is None:
        raise BadInput(f"{engine.url.render_as_string(hide_password=True)}: no leaderboard schema; run `harness db upgrade` or store a result first")
    if data not in ("real", "demo"):
        raise BadInput(f"--data: expected 'real' or 'demo', got '{data}'")
    table = leaderboard_table(engine, benchmark, data)
    if table.empty:
        raise BadInput(f"--benchmark: no stored or reported rows for '{benchmark}' on {data} data")
    text = export(table, fmt)
    if output is None:
        sys.stdout.write(text)
        return
    from harness.outputs import write_atomic

    write_atomic(output, lambda fh: fh.write(text.encode()), force)
    out.print(f"wrote {output}: {len(table)} rows of {benchmark}")


@app.command()
@one_line_errors
def leaderboard(
    db: DbOpt = None,
    port: Annotated[int, typer.Option("--port", help="port on 127.0.0.1")] = 8501,
) -> None:
    """Serve the leaderboard page (Streamlit, headless, on 127.0.0.1 only); SIGTERM or Ctrl-C stops the server too."""
    from leaderboard.db import database_url
    from leaderboard.serve import serve

    out.print(f"serving the leaderboard of {database_url(db)} at http://127.0.0.1:{port}")
    raise typer.Exit(serve(database_url(db), port))


@db_app.command("upgrade")
@one_line_errors
def db_upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head", db: DbOpt = None) -> None:
    """Create or migrate the leaderboard schema."""
    from leaderboard.db import make_engine
    from leaderboard.schema import current_revision, upgrade

    engine = make_engine(db, writer=True)
    upgrade(engine, revision)
    out.print(f"{engine.url.render_as_string(hide_password=True)}: schema at revision {current_revision(engine)}")


@db_app.command("downgrade")
@one_line_errors
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="target revision ('base' drops every table)")],
    yes: Annotated[bool, typer.Option("--yes", help="go ahead although the database holds stored rows, which a downgrade may delete")] = False,
    db: DbOpt = None,
) -> None:
    """Migrate the leaderboard schema down (refused while rows are stored, unless --yes)."""
    from leaderboard.db import make_engine
    from leaderboard.schema import current_revision, downgrade, stored_rows

    engine = make_engine(db, writer=True)
    rows = stored_rows(engine)
    if rows and not yes:
        held = ", ".join(f"{n} {table}" for table, n in rows.items())
        raise BadInput(f"{engine.url.render_as_string(hide_password=True)}: downgrading to {revision} may delete what is stored ({held}); back it up, then run again with --yes")
    downgrade(engine, revision)
    out.print(f"{engine.url.render_as_string(hide_password=True)}: schema at revision {current_revision(engine) or 'base (empty)'}")


@db_app.command("seed")
@one_line_errors
def db_seed(db: DbOpt = None) -> None:
    """Load the published numbers of leaderboard/literature.yaml (shown as reported, never verified)."""
    from leaderboard.db import make_engine
    from leaderboard.literature import read_literature, seed
    from leaderboard.schema import ensure_current

    engine = make_engine(db, writer=True)
    ensure_current(engine)
    methods, numbers = seed(engine, read_literature())
    out.print(f"seeded {numbers} reported numbers of {methods} methods into {engine.url.render_as_string(hide_password=True)}")


@db_app.command("ingest")
@one_line_errors
def db_ingest(
    result_json: Annotated[Path, typer.Argument(help="result JSON written by `harness evaluate --json`")],
    submission: Annotated[Path | None, typer.Option("--submission", help="the submission file the JSON names: re-scored here, so the result is stored as verified")] = None,
    db: DbOpt = None,
    method: MethodOpt = None,
    datasets: DatasetsOpt = None,
) -> None:
    """Store a result JSON (one transaction; the same file for the same method is stored once): as imported and
    unverified, or, with --submission, as verified after this harness scored that file again."""
    from leaderboard.ingest import rescored

    if submission is None:
        from harness.results import read_result

        _store(read_result(result_json), db, method, status="imported")
    else:
        _store(rescored(result_json, submission, load_config(datasets)), db, method)


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


@baseline_app.command("train")
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


@baseline_app.command("predict")
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


@app.command()
@one_line_errors
def regress(
    name: Annotated[str | None, typer.Argument(help="baseline to check (default: every one in baselines/reference.yaml)")] = None,
    retrain: Annotated[bool, typer.Option("--retrain", help="train again even if the run is cached")] = False,
    reference_file: Annotated[Path | None, typer.Option("--reference", help="pinned results (default: baselines/reference.yaml)")] = None,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="the run cache (default: $POSEBENCH_CACHE, else ~/.cache/posebench-runs)")] = None,
    datasets: DatasetsOpt = None,
) -> None:
    """Retrain (or reuse the cached run of) each baseline's pinned demo config, score it and compare with the
    pinned metrics; exit 4 if any differs by more than its tolerance."""
    from baselines.regress import REFERENCE, checks, load_reference, measure

    reference = load_reference(reference_file or REFERENCE)
    if name is not None and name not in reference:
        raise BadInput(f"regress: no pinned run for '{name}' in baselines/reference.yaml (have: {', '.join(reference)})")
    config = load_config(datasets)
    failed = 0
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
    if failed:
        err.print(f"error: {failed} pinned metric(s) moved by more than their tolerance (errors are lower-is-better; a pinned value that moved either way no longer describes the code)")
        raise typer.Exit(REGRESSED)


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
