"""The run cache of `harness regress` and the CPU thread policy of training and prediction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from baselines.common.threads import available_cpus, cpu_threads, use_cpu_threads
from baselines.common.training import distributed_run
from baselines.commands import load_baseline_config
from baselines.regress import load_reference
from baselines.run_cache import cache_root, cached_run, inputs_digest

FINAL = "model.pt"


def writer(body: str = "ok"):
    """A training function that writes a log line and the final checkpoint into its folder."""
    calls: list[Path] = []

    def train(folder: Path) -> None:
        calls.append(folder)
        (folder / "metrics.jsonl").write_text(json.dumps({"trained_in": folder.name}) + "\n")
        (folder / FINAL).write_text(body)

    return train, calls


def test_a_finished_run_is_reused_and_retrain_replaces_it(tmp_path):
    train, calls = writer("first")
    folder, trained = cached_run(tmp_path, "ites-demo-abc", FINAL, train)
    assert trained and folder == tmp_path / "ites-demo-abc" and (folder / FINAL).read_text() == "first"
    assert calls[0] != folder  # trained in a private folder, moved into place when finished
    again, trained = cached_run(tmp_path, "ites-demo-abc", FINAL, train)
    assert not trained and again == folder and len(calls) == 1
    train2, _ = writer("second")
    _, trained = cached_run(tmp_path, "ites-demo-abc", FINAL, train2, retrain=True)
    assert trained and (folder / FINAL).read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["ites-demo-abc"]


def test_a_failed_run_leaves_nothing_that_could_be_reused(tmp_path):
    def broken(folder: Path) -> None:
        (folder / "teacher.ckpt").write_text("half")
        raise KeyboardInterrupt  # interrupted mid-way, as by Ctrl-C

    with pytest.raises(KeyboardInterrupt):
        cached_run(tmp_path, "run", FINAL, broken)
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []
    train, calls = writer()
    _, trained = cached_run(tmp_path, "run", FINAL, train)
    assert trained and len(calls) == 1


def test_a_half_written_folder_and_dead_runs_private_folders_are_not_reused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "teacher.ckpt").write_text("from an older, unlocked version")
    (tmp_path / ".run.dead1").mkdir()  # what a killed run leaves
    train, calls = writer()
    folder, trained = cached_run(tmp_path, "run", FINAL, train)
    assert trained and len(calls) == 1
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.jsonl", FINAL]
    assert not (tmp_path / ".run.dead1").exists()


def test_a_training_that_writes_no_checkpoint_is_an_error_not_a_cached_run(tmp_path):
    with pytest.raises(RuntimeError, match=FINAL):
        cached_run(tmp_path, "run", FINAL, lambda folder: None)
    assert not (tmp_path / "run").exists()


CONCURRENT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from baselines.run_cache import cached_run

    def train(folder):
        for i in range(5):  # slow enough that the other process arrives while this one trains
            with open(folder / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps({"writer": sys.argv[2], "epoch": i}) + "\\n")
            time.sleep(0.3)
        (folder / "model.pt").write_text(sys.argv[2])

    folder, trained = cached_run(Path(sys.argv[1]), "run", "model.pt", train, say=lambda m: print("WAIT", m, flush=True))
    print(json.dumps({"trained": trained, "folder": str(folder)}))
    """
)


def test_two_concurrent_processes_train_once_and_share_the_run(tmp_path):
    """The second process waits on the lock and reuses the first one's run; the log has one writer."""
    script = tmp_path / "train_into_cache.py"
    script.write_text(CONCURRENT)
    root = tmp_path / "cache"
    procs = [subprocess.Popen([sys.executable, str(script), str(root), name], stdout=subprocess.PIPE, text=True) for name in ("a", "b")]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    results = [json.loads(o.strip().splitlines()[-1]) for o in outputs]
    assert sorted(r["trained"] for r in results) == [False, True], outputs
    assert any("WAIT" in o for o in outputs), outputs
    lines = [json.loads(line) for line in (root / "run" / "metrics.jsonl").read_text().splitlines()]
    writers = {line["writer"] for line in lines}
    assert len(writers) == 1 and [line["epoch"] for line in lines] == list(range(5)), lines
    assert (root / "run" / "model.pt").read_text() in writers


def test_the_cache_location_is_the_option_then_the_environment_then_home(monkeypatch, tmp_path):
    assert cache_root(tmp_path / "opt") == tmp_path / "opt"
    monkeypatch.setenv("POSEBENCH_CACHE", str(tmp_path / "env"))
    assert cache_root() == tmp_path / "env"
    monkeypatch.delenv("POSEBENCH_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "posebench-runs"


def test_the_test_session_has_a_run_cache_of_its_own(own_run_cache):
    assert cache_root() == own_run_cache and own_run_cache.is_dir()
    assert not cache_root().is_relative_to(Path.home())


def test_thread_policy(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert cpu_threads(3) == 3
    auto = cpu_threads()
    assert 1 <= auto <= available_cpus()
    monkeypatch.setattr(os, "getloadavg", lambda: (available_cpus() + 5.0, 0.0, 0.0))
    assert cpu_threads() == 1  # a busy machine gets one thread, not one per core
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert cpu_threads() == available_cpus()
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(available_cpus() * 2))
    assert cpu_threads() == 1  # torchrun's processes share the CPUs, never fewer than one thread each
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    assert cpu_threads() == 7 and cpu_threads(2) == 2  # the user's setting, unless the config names a count


def test_a_run_sets_and_records_its_threads(tmp_path):
    before = torch.get_num_threads()
    try:
        with distributed_run(tmp_path, 0, "cpu", False, threads=1) as run:
            assert run.threads == 1 and torch.get_num_threads() == 1 and "1 CPU thread(s)" in run.where
        assert use_cpu_threads(2) == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("name", sorted(load_reference()))
def test_every_pinned_run_fixes_its_thread_count(name):
    """A pin measured at one thread count is no check at another: the reduction order changes the weights."""
    pinned = load_reference()[name]
    assert load_baseline_config(pinned.baseline, pinned.config, []).threads is not None


def test_the_run_key_changes_with_the_data_and_not_with_the_folder(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    a.write_bytes(b"one")
    b.write_bytes(b"one")
    assert inputs_digest([a]) == inputs_digest([a]) != inputs_digest([])
    b.write_bytes(b"two")
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / "a.npz").write_bytes(b"one")
    assert inputs_digest([moved / "a.npz"]) == inputs_digest([a])  # another checkout or data folder, same key
    a.write_bytes(b"two")
    assert inputs_digest([a]) != inputs_digest([moved / "a.npz"])


def test_regress_refuses_data_that_is_not_the_demo(tmp_path):
    """The pins describe the built-in demo data: a real (or any other) copy is one line before any training."""
    from typer.testing import CliRunner

    from harness.cli import app

    (tmp_path / "h36m").mkdir()
    yaml_file = tmp_path / "datasets.yaml"
    yaml_file.write_text(f"datasets:\n  h36m: {{format: videopose3d, path: {tmp_path / 'h36m'}}}\n")
    res = CliRunner().invoke(app, ["regress", "ites", "--datasets", str(yaml_file), "--cache-dir", str(tmp_path / "cache")])
    assert res.exit_code == 2 and "not the built-in demo data" in res.output and len(res.output.strip().splitlines()) == 1, res.output
    yaml_file.write_text(f"datasets:\n  h36m: {{format: videopose3d, path: {tmp_path / 'missing'}}}\n")
    res = CliRunner().invoke(app, ["regress", "ites", "--datasets", str(yaml_file), "--cache-dir", str(tmp_path / "cache")])
    assert res.exit_code == 3 and "harness demo" in res.output, res.output
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
