"""What the baselines share: the 2D normalisation, seeded shards, configs with overrides."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from baselines.common.config import config_hash, load_config
from baselines.common.data import HEAD, loader, normalise_2d, pose_split, to_h36m17
from baselines.ites.config import ITESConfig
from harness.errors import BadInput, HarnessError
from harness.skeletons import H36M17, MPI_INF_3DHP17


def test_normalisation_centres_divides_by_focal_and_sets_the_head_distance():
    rng = np.random.default_rng(0)
    kp = rng.uniform(200, 800, (500, 17, 2))
    focal = np.tile([1145.0, 1143.8], (500, 1))
    norm, scale = normalise_2d(kp, focal)
    assert np.abs(norm[:, 0]).max() == 0
    assert np.linalg.norm(norm[:, HEAD], axis=-1).mean() == pytest.approx(0.2, rel=1e-5)
    # a camera with twice the focal length sees the same pose twice as large: identical normalised input
    again, _ = normalise_2d(2 * (kp - kp[:, :1]) + 500.0, 2 * focal, scale)
    assert np.allclose(again, norm, atol=1e-6)
    # a given scale is used as is: here, this split's own factor halves when the poses double
    _, own = normalise_2d(2 * kp, focal)
    assert own == pytest.approx(scale / 2)


def test_3dhp_keypoints_reach_the_h36m_order_by_joint_name():
    kp = np.arange(17)[None, :, None].repeat(2, axis=2).astype(float)[None].repeat(3, axis=0)[:, 0]
    mapped = to_h36m17(kp, MPI_INF_3DHP17.name)
    for i, name in enumerate(H36M17.names):
        assert mapped[0, i, 0] == MPI_INF_3DHP17.index[name]


def test_demo_train_split_is_normalised(demo_config):
    from baselines.common.data import load_split

    split = pose_split(load_split(demo_config, "h36m", "train", "gt"), "gt")
    assert split.kp2d.shape == (len(split.test), 17, 2) and split.test.split == "train"
    assert np.linalg.norm(split.kp2d[:, HEAD], axis=-1).mean() == pytest.approx(0.2, rel=1e-4)
    with pytest.raises(HarnessError, match="cpn"):
        load_split(demo_config, "h36m", "train", "cpn")


def test_shuffling_is_seeded_and_ranks_get_disjoint_shards():
    data = TensorDataset(torch.arange(103))

    def order(seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[int]:
        return torch.cat([b[0] for b in loader(data, 16, seed, epoch, rank, world)]).tolist()

    assert order(0, 0) == order(0, 0) and order(0, 0) != order(0, 1) and order(0, 0) != order(1, 0)
    assert sorted(order(0, 3)) == list(range(103))
    shards = [order(0, 2, r, 2) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 52  # padded to equal length, as DistributedSampler does
    assert set(shards[0]) | set(shards[1]) == set(range(103)) and len(set(shards[0]) & set(shards[1])) <= 1


def test_configs_load_with_overrides_and_reject_unknown_keys(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: mine\nteacher: {epochs: 3}\n")
    cfg = load_config(ITESConfig, path, ["student.lr=0.01", "teacher.lr_milestones=[1, 2]"])
    assert (cfg.name, cfg.teacher.epochs, cfg.student.lr, cfg.teacher.lr_milestones, cfg.student.epochs) == ("mine", 3, 0.01, [1, 2], 40)
    assert config_hash(cfg) != config_hash(load_config(ITESConfig, path))
    with pytest.raises(BadInput, match=r"field teacher\.epoch\b"):
        load_config(ITESConfig, path, ["teacher.epoch=2"])
    with pytest.raises(BadInput, match="teacher.epochs"):
        load_config(ITESConfig, path, ["teacher.epochs=many"])
    with pytest.raises(BadInput, match=r"--set teacher\.lr_milestones=\[1,: the value is not valid YAML"):
        load_config(ITESConfig, path, ["teacher.lr_milestones=[1,"])
    with pytest.raises(BadInput, match="KEY=VALUE"):
        load_config(ITESConfig, path, ["teacher.epochs"])
    with pytest.raises(BadInput, match="not found"):
        load_config(ITESConfig, Path(tmp_path / "nope.yaml"))


@pytest.mark.parametrize("name", ["paper", "demo", "smoke"])
def test_shipped_configs_load(name):
    from baselines.registry import config_file

    cfg = load_config(ITESConfig, config_file("ites", name))
    assert cfg.name == name


def test_batchnorm_recalibration_gives_the_exact_statistics_of_the_inputs():
    """Stale running statistics (as a short schedule leaves them) are replaced by the average over the inputs,
    so eval-mode outputs match what the network computes on a batch of real inputs."""
    from torch import nn

    from baselines.common.training import recalibrate_batchnorm

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    inputs = torch.randn(512, 4) * 3 + 5
    model.eval()
    with torch.no_grad():
        stale = model(inputs)
        model.train()
        batch_mode = model(inputs)  # train mode: normalised by these inputs' own statistics
    recalibrate_batchnorm(model, inputs, lambda m, x: m(x), "cpu", batch_size=128)
    bn = model[1]
    hidden = model[0](inputs).detach()
    assert not model.training and bn.momentum == 0.1
    assert torch.allclose(bn.running_mean, hidden.mean(0), atol=1e-5)
    assert torch.allclose(bn.running_var, hidden.view(4, 128, 8).var(1).mean(0), atol=1e-4)  # per batch, unbiased
    with torch.no_grad():
        calibrated = model(inputs)
    assert (stale - batch_mode).abs().mean() > 0.5
    assert (calibrated - batch_mode).abs().mean() < 0.05


def test_windows_stay_inside_their_sequences():
    import pandas as pd

    from baselines.common.data import WindowDataset, windows

    seqs = pd.DataFrame({"start": [0, 10, 13], "length": [10, 3, 9]})
    index = windows(seqs, 4, 3)
    assert index[:, 0].tolist() == [0, 3, 6, 13, 16] and (np.diff(index, axis=1) == 1).all()
    assert windows(seqs, 11, 1).shape == (0, 11)
    data = WindowDataset(torch.arange(22.0)[:, None], index)
    assert len(data) == 5 and data[3][0][:, 0].tolist() == [13.0, 14.0, 15.0, 16.0]


def test_the_global_batch_divides_among_the_processes():
    """A stage's batch_size is the global batch: one process takes it whole, N take batch_size / N each, and a
    batch that does not divide is a one-line error naming the stage."""
    from baselines.common.training import rank_batch
    from harness.errors import BadInput

    assert rank_batch(128, 1, "teacher") == 128 and rank_batch(128, 4, "teacher") == 32
    with pytest.raises(BadInput, match="teacher.batch_size: 130 is the global batch of all 4 processes"):
        rank_batch(130, 4, "teacher")
