"""`harness baseline import ites`: the authors' released checkpoints, loaded strictly and scored.

The released files themselves are not available offline, so the checkpoints here come from an independent
build of the official layout, written for this test from a reading of the official code
(github.com/sjtuxcx/ITES, common/model_teacher.py and common/model_student.py): the same module tree, hence the
same state-dict keys, shapes and order, and the official forward passes (1x1 convolutions on (B, C, 1, 1)
features, the literal concatenation non-local block, the teacher's 3D as the input 2D back-projected with its
depth). It is saved the way the official training scripts save, in the legacy (torch < 1.6) and zip formats.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from baselines.commands import predict
from baselines.common.data import pose_split
from baselines.ites.model import Student, Teacher, parameter_count
from baselines.ites.official import read_weights
from harness.config import load_config
from harness.datasets import load_dataset
from tests.baseline_runs import cli
from tests.submission_cases import assert_one_line_error

N_JOINTS = 17
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)  # the official h36m skeleton, 17 kept joints
GROUPS = [[2, 3], [5, 6], [1, 4], [0, 7], [8, 10], [15, 16], [12, 13], [11, 14], [9]]
EVERY = 50  # compare every 50th demo test frame with the independent build


# ---- the official teacher: Teacher_net (fe_net of ConvBNLayer + ResLayers, four 1x1-convolution heads) ----


class _StemLayer(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(n_in, n_out, 1)
        self.bn1 = nn.BatchNorm2d(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn1(self.conv1(x)))


class _ResLayer(nn.Module):
    def __init__(self, width: int, narrow: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(width, narrow, 1), nn.BatchNorm2d(narrow)
        self.conv2, self.bn2 = nn.Conv2d(narrow, narrow, 1), nn.BatchNorm2d(narrow)
        self.conv3, self.bn3 = nn.Conv2d(narrow, width, 1), nn.BatchNorm2d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        return F.relu(self.bn3(self.conv3(y)) + x)


def _axis_angle_to_matrix(v: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """The official so3_exponential_map: Rodrigues with 1 / (|v| + eps)."""
    theta = v.norm(dim=1)
    k = torch.zeros(len(v), 3, 3)
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 0], k[:, 1, 2], k[:, 2, 0], k[:, 2, 1] = -v[:, 2], v[:, 1], v[:, 2], -v[:, 0], -v[:, 1], v[:, 0]
    a = torch.sin(theta) / (theta + eps)
    b = (1 - torch.cos(theta)) / (theta + eps) ** 2
    return torch.eye(3) + a[:, None, None] * k + b[:, None, None] * (k @ k)


class OfficialTeacher(nn.Module):
    def __init__(self, width: int = 1024, blocks: int = 6, basis: int = 12) -> None:
        super().__init__()
        self.fe_net = nn.Sequential(_StemLayer(2 * N_JOINTS, width), *[_ResLayer(width, width // 4) for _ in range(blocks)])
        self.alpha_layer = nn.Conv2d(width, basis, 1)
        self.shape_layer = nn.Conv2d(basis, 3 * N_JOINTS, 1)
        self.rot_layer = nn.Conv2d(width, 3, 1)
        self.trans_layer = nn.Conv2d(width, 1, 1)

    def depth(self, kp: torch.Tensor) -> torch.Tensor:
        """z of the canonical shape rotated into the camera."""
        feats = self.fe_net((kp - kp[:, :1]).reshape(len(kp), -1)[:, :, None, None])
        shape = self.shape_layer(self.alpha_layer(feats))[:, :, 0, 0].view(len(kp), N_JOINTS, 3)
        camera = torch.bmm(shape, _axis_angle_to_matrix(self.rot_layer(feats)[:, :, 0, 0]))
        return camera[:, :, 2:3]

    def forward(self, kp: torch.Tensor) -> torch.Tensor:
        """test_teacher.py's 3D: the input 2D back-projected with the teacher's depth (no clamp there)."""
        z = self.depth(kp)
        return torch.cat([kp * (5 + z), z], dim=2)


# ---- the official student: Student_net (SemGraphConv layers, grouped concatenation non-local blocks) ----


def _adjacency() -> torch.Tensor:
    adj = torch.eye(N_JOINTS)
    for j, p in enumerate(PARENTS):
        if p >= 0:
            adj[j, p] = adj[p, j] = 1
    return adj


class _SemGraphConv(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.mask = _adjacency() > 0  # a plain attribute: not in the state dict
        self.W = nn.Parameter(torch.zeros(2, n_in, n_out))
        self.e = nn.Parameter(torch.ones(1, int(self.mask.sum())))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.full((N_JOINTS, N_JOINTS), -9e15)
        logits[self.mask] = self.e[0]
        a = torch.softmax(logits, dim=1)
        eye = torch.eye(N_JOINTS)
        return (a * eye) @ (x @ self.W[0]) + (a * (1 - eye)) @ (x @ self.W[1]) + self.bias


class _NonLocal(nn.Module):
    def __init__(self, c: int, pool: int) -> None:
        super().__init__()
        self.inter = c // 2
        self.g = nn.Sequential(nn.Conv1d(c, self.inter, 1), nn.MaxPool1d(pool))
        self.theta = nn.Conv1d(c, self.inter, 1)
        self.phi = nn.Sequential(nn.Conv1d(c, self.inter, 1), nn.MaxPool1d(pool))
        self.concat_project = nn.Sequential(nn.Conv2d(2 * self.inter, 1, 1, bias=False), nn.ReLU())
        self.W = nn.Sequential(nn.Conv1d(self.inter, c, 1), nn.BatchNorm1d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, J)
        g = self.g(x).permute(0, 2, 1)
        theta = self.theta(x)[:, :, :, None]
        phi = self.phi(x)[:, :, None, :]
        h, w = theta.shape[2], phi.shape[3]
        f = self.concat_project(torch.cat([theta.expand(-1, -1, -1, w), phi.expand(-1, -1, h, -1)], dim=1))[:, 0] / w
        y = (f @ g).permute(0, 2, 1)
        return self.W(y) + x


class _GroupedNonLocal(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.order = [j for group in GROUPS for j in group]
        self.restore = [self.order.index(j) for j in range(N_JOINTS)]
        self.non_local = _NonLocal(c, len(GROUPS[0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, J, C)
        return self.non_local(x[:, self.order].transpose(1, 2)).transpose(1, 2)[:, self.restore]


class _GraphLayer(nn.Module):
    def __init__(self, n_in: int, n_out: int, non_local: bool) -> None:
        super().__init__()
        self.gconv = _SemGraphConv(n_in, n_out)
        if non_local:
            self.non_local = _GroupedNonLocal(n_out)
        self.bn = nn.BatchNorm1d(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.gconv(x) + (self.non_local(x) if hasattr(self, "non_local") else 0)
        return F.relu(self.bn(y.transpose(1, 2)).transpose(1, 2))


class _ResBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.gconv1, self.gconv2 = _GraphLayer(width, width, True), _GraphLayer(width, width, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gconv2(self.gconv1(x))


class OfficialStudent(nn.Module):
    def __init__(self, hidden: int = 128, blocks: int = 4) -> None:
        super().__init__()
        self.gconv_input = nn.Sequential(_GraphLayer(2, hidden, False))
        self.gconv_layers = nn.Sequential(*[_ResBlock(hidden) for _ in range(blocks)])
        self.gconv_output = _SemGraphConv(hidden, 1)

    def forward(self, kp: torch.Tensor) -> torch.Tensor:
        """test_student.py's 3D: per-joint depth d, then (u, v) * max(d + 5, 1) and d."""
        d = self.gconv_output(self.gconv_layers(self.gconv_input(kp)))
        return torch.cat([kp * torch.clamp(d + 5, min=1), d], dim=2)


def _randomised(net: nn.Module, seed: int) -> nn.Module:
    """Trained-looking weights: every parameter and BatchNorm statistic moved off its initial value."""
    gen = torch.Generator().manual_seed(seed)

    def normal(t: torch.Tensor, std: float, mean: float = 0.0) -> torch.Tensor:
        return torch.randn(t.shape, generator=gen) * std + mean

    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith("num_batches_tracked"):
                t.fill_(12345)
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif name.endswith(".e"):
                t.copy_(normal(t, 1.0, 1.0))
            elif t.dim() == 1:  # BatchNorm weights near 1 (the non-local ones start at 0), biases and means near 0
                t.copy_(normal(t, 0.1, 1.0 if name.endswith("weight") else 0.0))
            else:  # convolutions (out, in, ...) and graph convolutions (2, in, out)
                fan_in = t.shape[1] if name.endswith(".W") else t[0].numel()
                t.copy_(normal(t, fan_in**-0.5))
    return net.eval()


@pytest.fixture(scope="module")
def official() -> dict[str, nn.Module]:
    teacher, student = _randomised(OfficialTeacher(), 1), _randomised(OfficialStudent(), 2)
    with torch.no_grad():  # depths of a body's scale (a few tenths of a unit; the 2D is about 1 unit tall at depth 5)
        teacher.shape_layer.weight.mul_(0.2)
        student.gconv_output.W.mul_(0.03)
    return {"teacher": teacher, "student": student}


def _save(net: nn.Module, path: Path, fmt: str, state: dict | None = None) -> Path:
    """As the official training scripts save: epoch, lr, the SGD state and the weights under 'model_pos'."""
    params = [p.detach().clone().requires_grad_() for p in net.parameters()]
    sgd = torch.optim.SGD(params, lr=1e-3, momentum=0.9, weight_decay=5e-4)
    for p in params:
        p.grad = torch.zeros_like(p)
    sgd.step()  # momentum buffers, as after an epoch
    saved = {"epoch": 50, "lr": 1.25e-4, "optimizer": sgd.state_dict(), "model_pos": state if state is not None else net.state_dict()}
    torch.save(saved, path, _use_new_zipfile_serialization=fmt == "zip")
    return path


@pytest.fixture(scope="module")
def released(official, tmp_path_factory) -> dict[str, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("ites-released")
    return {fmt: {stage: _save(net, folder / f"ckpt_{stage}_{fmt}.bin", fmt) for stage, net in official.items()} for fmt in ("legacy", "zip")}


def test_the_independent_build_has_posebenchs_layout(official):
    """Same keys, shapes and order (141 and 187 keys), same parameter counts as the published architecture."""
    for net, ours in ((official["teacher"], Teacher()), (official["student"], Student())):
        assert [(k, v.shape) for k, v in net.state_dict().items()] == [(k, v.shape) for k, v in ours.state_dict().items()]
        assert parameter_count(net) == parameter_count(ours)
    assert (len(official["teacher"].state_dict()), len(official["student"].state_dict())) == (141, 187)
    assert (parameter_count(official["teacher"]), parameter_count(official["student"])) == (3_621_543, 534_635)


def _import(files: dict[str, Path], run: Path, demo_yaml: Path, *more: str):
    return cli("baseline", "import", "ites", "--teacher", files["teacher"], "--student", files["student"], "-o", run, "--datasets", demo_yaml, *more)


@pytest.fixture(scope="module")
def imported(released, demo_yaml, tmp_path_factory) -> dict[str, Path]:
    """Each format imported once; the metric scale set on 500 training frames instead of SCALE_FRAMES (speed)."""
    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("baselines.ites.official.SCALE_FRAMES", 500)
        for fmt, files in released.items():
            runs[fmt] = tmp_path_factory.mktemp(f"ites-official-{fmt}") / "run"
            res = _import(files, runs[fmt], demo_yaml, "--threads", "2")
            assert res.exit_code == 0, res.output
    return {fmt: run / "ites.pt" for fmt, run in runs.items()}


def test_both_formats_import_to_the_same_run(released, imported):
    legacy, zipped = (torch.load(imported[fmt], weights_only=False) for fmt in ("legacy", "zip"))
    assert not zipfile.is_zipfile(released["legacy"]["teacher"]) and zipfile.is_zipfile(released["zip"]["teacher"])
    assert [legacy["origin"][s]["serialisation"] for s in ("teacher", "student")] == ["legacy", "legacy"]
    assert [zipped["origin"][s]["serialisation"] for s in ("teacher", "student")] == ["zip", "zip"]
    assert legacy["config"] == zipped["config"] and legacy["config"]["data"]["scale_from"] == "split"
    assert legacy["mm_per_unit"] == zipped["mm_per_unit"]
    for stage in ("teacher", "student"):
        assert list(legacy[stage]) == list(zipped[stage])
        assert all(torch.equal(legacy[stage][k], zipped[stage][k]) for k in legacy[stage])


def test_imported_weights_predict_as_the_official_networks(official, imported, demo_yaml):
    """`baseline predict` on the imported run equals the independent build on the officially normalised 2D."""
    config = load_config(demo_yaml)
    scales = torch.load(imported["legacy"], weights_only=False)["mm_per_unit"]
    test = load_dataset(config, "h36m", "test", inputs_2d=["gt"])
    kp = pose_split(test, "gt").tensor()[::EVERY]  # the official normalisation: the test split scaled on its own
    for stage, net in official.items():
        sub, _ = predict("ites", imported["legacy"], config, "h36m", None, stage, threads=2)
        with torch.no_grad():
            if stage == "teacher":
                assert (net.depth(kp) > -4).all()  # where PoseBench's clamp at depth 1 and the official unclamped teacher agree
            expected = net(kp)
        expected = (expected - expected[:, :1]).numpy() * scales[stage]
        np.testing.assert_allclose(sub.pose3d[::EVERY], expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
        assert sub.meta.name == "ITES (authors' released weights)" and "ckpt_teacher_legacy.bin" in sub.meta.training_data


def test_an_imported_run_is_scored_by_predict_and_as_a_model(released, imported, demo_yaml, tmp_path):
    res = cli("baseline", "predict", "ites", "--checkpoint", imported["zip"], "--stage", "teacher", "-o", tmp_path / "s.npz", "--threads", "2", "--datasets", demo_yaml)
    assert res.exit_code == 0, res.output
    res = cli(
        "evaluate", "--model", "baselines.ites:entrypoint", "--option", f"checkpoint={imported['zip']}", "--option", "stage=teacher",
        "--dataset", "h36m", "--input-2d", "gt", "--json", tmp_path / "m.json", "--no-ci", "--datasets", demo_yaml,
    )
    assert res.exit_code == 0, res.output
    assert "authors' released weights" in (tmp_path / "m.json").read_text()
    assert_one_line_error(_import(released["zip"], imported["zip"].parent, demo_yaml), 2, "ites.pt: already exists")


def test_bare_and_data_parallel_state_dicts_are_read(official, tmp_path):
    state = official["student"].state_dict()
    torch.save({f"module.{k}": v for k, v in state.items()}, tmp_path / "dp.bin")
    torch.save(state, tmp_path / "bare.bin", _use_new_zipfile_serialization=False)
    for name in ("dp.bin", "bare.bin"):
        assert list(read_weights(tmp_path / name)) == list(state)


def _broken(official, tmp_path, stage: str, change) -> Path:
    state = dict(official[stage].state_dict())
    change(state)
    return _save(official[stage], tmp_path / f"broken_{stage}.bin", "legacy", state)


@pytest.mark.parametrize(
    ("stage", "change", "fragment"),
    [
        ("teacher", lambda s: s.pop("trans_layer.bias"), "key 'trans_layer.bias' is missing (the checkpoint has 140 keys, the network 141)"),
        ("teacher", lambda s: s.update({"fe_net.7.conv1.weight": torch.zeros(256, 1024, 1, 1)}), "unexpected key 'fe_net.7.conv1.weight'"),
        ("student", lambda s: s.update({"gconv_output.W": torch.zeros(2, 128, 3)}), "key 'gconv_output.W' has shape (2, 128, 3), the network (2, 128, 1)"),
        ("student", lambda s: s.update({"gconv_layers.0.gconv1.non_local.non_local.g.0.weight": torch.zeros(64, 128)}), "key 'gconv_layers.0.gconv1.non_local.non_local.g.0.weight' has shape (64, 128)"),
    ],
)
def test_a_checkpoint_that_does_not_match_fails_in_one_line(stage, change, fragment, official, released, demo_yaml, tmp_path):
    files = dict(released["zip"]) | {stage: _broken(official, tmp_path, stage, change)}
    assert_one_line_error(_import(files, tmp_path / "run", demo_yaml), 2, f"broken_{stage}.bin", fragment)
    assert not (tmp_path / "run").exists()


def test_unreadable_and_unsafe_files_fail_in_one_line(official, released, demo_yaml, tmp_path):
    torch.save({"args": argparse.Namespace(lr=1e-3), "model_pos": official["teacher"].state_dict()}, tmp_path / "pickled.bin")
    (tmp_path / "text.bin").write_text("not a checkpoint")
    torch.save({"epoch": 3}, tmp_path / "empty.bin")
    student = released["zip"]["student"]
    for name, fragment in [
        ("pickled.bin", "refused by torch.load(weights_only=True): it pickles argparse.Namespace"),
        ("text.bin", "not a readable torch checkpoint"),
        ("empty.bin", "expected a state dict of tensors, bare or under 'model_pos'"),
        ("missing.bin", "checkpoint not found"),
    ]:
        assert_one_line_error(_import({"teacher": tmp_path / name, "student": student}, tmp_path / "run", demo_yaml), 2, name, fragment)
    assert_one_line_error(cli("baseline", "import", "posenet3d", "--teacher", student, "--student", student, "-o", tmp_path / "r"), 2, "only ites has released weights")
