"""Shared fixtures: the demo dataset written once per test session, a datasets.yaml pointing at it, and a run
cache of the session's own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.config import DatasetsConfig, load_config
from harness.datasets import TestSet, load_dataset
from harness.demo.h36m import write_demo
from tests.submission_cases import Demo, make_demo, scores

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def own_run_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`harness regress` trains into this session's own cache: no test reuses a run trained outside it, so a
    green run means the pins were reproduced from scratch on this machine."""
    folder = tmp_path_factory.mktemp("posebench-runs")
    old = os.environ.get("POSEBENCH_CACHE")
    os.environ["POSEBENCH_CACHE"] = str(folder)
    yield folder
    if old is None:
        del os.environ["POSEBENCH_CACHE"]
    else:
        os.environ["POSEBENCH_CACHE"] = old


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("posebench-data")
    write_demo(root)
    return root


@pytest.fixture(scope="session")
def demo_yaml(demo_root: Path) -> Path:
    path = demo_root / "datasets.yaml"
    path.write_text(
        f"data_root: {demo_root}\n"
        "datasets:\n"
        "  h36m:\n"
        "    format: videopose3d\n"
        "    path: ${data_root}/demo/h36m\n"
        "    inputs_2d: {gt: data_2d_h36m_gt.npz, gt_noisy: data_2d_h36m_gt_noisy.npz}\n"
    )
    return path


@pytest.fixture(scope="session")
def demo_config(demo_yaml: Path) -> DatasetsConfig:
    return load_config(demo_yaml)


@pytest.fixture(scope="session")
def demo_test(demo_config: DatasetsConfig) -> TestSet:
    return load_dataset(demo_config, "h36m", "test", inputs_2d=("gt", "gt_noisy"))


@pytest.fixture(scope="session")
def demo(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The submission tests' demo: the session's demo data with a plain valid submission (tests/submission_cases.py)."""
    return make_demo(tmp_path_factory.mktemp("submission-demo"), demo_root)


@pytest.fixture(scope="session")
def reference(demo: Demo) -> dict[tuple[str, str, str], float]:
    """The scores of that valid submission, to compare other valid spellings of it with."""
    return scores(demo.gt_path, demo)
