from pathlib import Path

import pytest

from harness.config import load_config
from harness.errors import BadInput
from tests.conftest import REPO


def test_env_expansion_and_data_root_reference(tmp_path, monkeypatch):
    cfg = tmp_path / "d.yaml"
    cfg.write_text("data_root: ${MY_ROOT:-/fallback}\ndatasets:\n  h36m: {format: videopose3d, path: '${data_root}/h36m', inputs_2d: {gt: g.npz}}\n")
    assert load_config(cfg).datasets["h36m"].path == Path("/fallback/h36m")
    monkeypatch.setenv("MY_ROOT", str(tmp_path))
    c = load_config(cfg)
    assert c.data_root == tmp_path and c.datasets["h36m"].path == tmp_path / "h36m" and c.file == str(cfg)


def test_lookup_order_env_then_cwd_then_packaged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("POSEBENCH_DATASETS", raising=False)
    monkeypatch.setenv("POSEBENCH_DATA", str(tmp_path / "root"))
    assert load_config().file == "<packaged default>"
    assert load_config().datasets["h36m"].path == tmp_path / "root" / "demo" / "h36m"
    (tmp_path / "datasets.yaml").write_text("data_root: /a\ndatasets: {}\n")
    assert load_config().file == "datasets.yaml"
    other = tmp_path / "other.yaml"
    other.write_text("data_root: /b\ndatasets: {}\n")
    monkeypatch.setenv("POSEBENCH_DATASETS", str(other))
    assert load_config().data_root == Path("/b")


def test_packaged_default_is_the_top_level_file():
    assert (REPO / "datasets.yaml").read_text() == (REPO / "harness" / "data" / "datasets.yaml").read_text()


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("datasets: [1, 2]", "expected a mapping"),
        ("data_root: /x\ndatasets:\n  h36m: {format: videopose3d}\n", "datasets.h36m.path"),
        ("data_root: /x\ndatasets:\n  h36m: {format: videopose3d, path: /p, colour: red}\n", "datasets.h36m.colour"),
        ("data_root: /x\ndatasets:\n  h36m: 3\n", "datasets.h36m"),
        ("{unclosed", "not valid YAML"),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path, text, fragment):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(BadInput, match=fragment) as info:
        load_config(cfg)
    assert str(cfg) in str(info.value) and "\n" not in str(info.value)


def test_unset_variable_without_default_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("POSEBENCH_NOT_SET", raising=False)
    cfg = tmp_path / "d.yaml"
    cfg.write_text("data_root: /r\ndatasets:\n  h36m: {format: videopose3d, path: '${POSEBENCH_NOT_SET}/h36m'}\n")
    with pytest.raises(BadInput, match=r"datasets.h36m.path: \$\{POSEBENCH_NOT_SET\} is not set"):
        load_config(cfg)
    cfg.write_text("data_root: [1]\ndatasets: {}\n")
    with pytest.raises(BadInput, match="data_root: expected a path"):
        load_config(cfg)


def test_relative_paths_are_relative_to_the_file(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    cfg = tmp_path / "conf" / "d.yaml"
    cfg.write_text("data_root: data\ndatasets:\n  h36m: {format: videopose3d, path: '${data_root}/h36m'}\n  other: {format: videopose3d, path: rel}\n")
    monkeypatch.chdir("/")
    c = load_config(cfg)
    assert c.data_root == tmp_path / "conf" / "data"
    assert c.datasets["h36m"].path == tmp_path / "conf" / "data" / "h36m"
    assert c.datasets["other"].path == tmp_path / "conf" / "rel"
