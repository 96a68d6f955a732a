"""NLRD-2D training on the demo data (issue 8, in progress): the pose prior's stage."""

from __future__ import annotations

import json

import torch

from baselines.common.config import load_config
from baselines.common.training import distributed_run
from baselines.nlrd.config import NLRDConfig
from baselines.nlrd.model import bone_lengths
from baselines.nlrd.train import train_prior, unpaired_poses


def prior_run(tmp_path, demo_config, *overrides: str) -> tuple[list[dict], object, torch.Tensor]:
    cfg = load_config(NLRDConfig, None, ["unpaired_frames=1024", "prior.lr=1e-3", "prior.batch_size=128", *overrides])
    poses = unpaired_poses(cfg, demo_config)
    with distributed_run(tmp_path, cfg.seed, "cpu", False) as run:
        encoder, decoder = train_prior(cfg, poses, run)
    log = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    return log, (encoder, decoder), poses


def test_unpaired_source_is_the_training_3d_root_relative(demo_config):
    cfg = load_config(NLRDConfig, None, ["unpaired_frames=500"])
    poses = unpaired_poses(cfg, demo_config)
    assert poses.shape == (500, 17, 3) and torch.equal(poses[:, 0], torch.zeros(500, 3))
    assert 100 < float(bone_lengths(poses).mean()) < 600  # millimetres


def test_reconstruction_phase_learns(tmp_path, demo_config):
    """With the switch out of reach, the prior only reconstructs, and its L1 falls."""
    log, (encoder, decoder), poses = prior_run(tmp_path, demo_config, "prior.epochs=4", "prior.recon_threshold=0")
    assert [r["turn"] for r in log] == [0.0] * 4 and all(r["l_disc"] == 0.0 for r in log)
    assert log[-1]["l_rec"] < 0.8 * log[0]["l_rec"], [r["l_rec"] for r in log]
    with torch.no_grad():
        recon = decoder(encoder(poses[:64]))
    assert torch.allclose(bone_lengths(recon), decoder.lengths.expand(64, -1), atol=1e-4)


def test_the_adversary_plays_once_reconstruction_is_good_enough(tmp_path, demo_config):
    """A threshold reached at once hands the turn to the discriminator, which then trains; the turn is part of
    the saved state, so a resumed run goes on with the same player."""
    log, _, _ = prior_run(tmp_path, demo_config, "prior.epochs=2", "prior.recon_threshold=100")
    assert log[0]["turn"] > 0.9 and log[0]["l_disc"] > 0
    assert all(0.0 <= r["real_acc"] <= 1.0 and 0.0 <= r["fake_acc"] <= 1.0 for r in log)
    state = torch.load(tmp_path / "prior.ckpt", weights_only=False)["model"]
    assert "turn" in state and int(state["turn"]) in (1, 2)
