"""NLRD-2D's parts (issue 8, in progress): the pose prior's structural invariants, the relations, the motion
auto-encoder and the relation transformers (baselines.md sections 3.3 and 5)."""

from __future__ import annotations

import pytest
import torch

from baselines.nlrd.model import (
    BONES,
    BOUND,
    MotionDecoder,
    MotionEncoder,
    PoseDecoder,
    PoseDiscriminator,
    PoseEncoder,
    RelationTransformer,
    bone_lengths,
    bounded,
    template_lengths,
)
from baselines.nlrd.relations import flip, flip_backward, latent_distance, slow_backward
from harness.skeletons import H36M17


def random_poses(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    poses = torch.randn(n, 17, 3, generator=g) * 300
    return poses - poses[:, :1]


def test_template_lengths_are_symmetric_with_the_head_bone_at_two():
    lengths = template_lengths(random_poses(200))
    index = {j: i for i, j in enumerate(BONES)}
    names = H36M17.names
    assert lengths[index[names.index("head_top")]] == pytest.approx(2.0)
    for left, right in H36M17.left_right_pairs:
        if left in index:
            assert lengths[index[left]] == pytest.approx(float(lengths[index[right]]))
    assert (lengths > 0).all()


@pytest.mark.parametrize("kind", ["uniform", "extreme", "encoded"])
def test_decoded_bone_lengths_equal_the_template_for_any_latent(kind):
    torch.manual_seed(1)
    lengths = template_lengths(random_poses(100))
    decoder = PoseDecoder(lengths)
    if kind == "uniform":
        z = torch.rand(64, 32) * 2 * BOUND - BOUND
    elif kind == "extreme":
        z = torch.sign(torch.randn(64, 32)) * (BOUND - 1e-3)
    else:
        z = PoseEncoder()(random_poses(64, seed=2))
    poses = decoder(z)
    assert poses.shape == (64, 17, 3) and torch.equal(poses[:, 0], torch.zeros(64, 3))
    assert torch.allclose(bone_lengths(poses), lengths.expand(64, -1), atol=1e-5)
    assert poses.std(0).mean() > 1e-3  # different latents, different poses


def test_latents_stay_strictly_inside_the_bound():
    assert (bounded(torch.tensor([1e9, -1e9, 80.0, -80.0])).abs() < BOUND).all()
    z = PoseEncoder()(random_poses(128) * 1e4)
    assert (z.abs() < BOUND).all()
    v = MotionEncoder()(torch.randn(4, 30, 32) * 1e3)
    assert v.shape == (4, 128) and (v.abs() < BOUND).all()
    assert (MotionDecoder()(v).abs() < BOUND).all()
    assert (RelationTransformer(32)(torch.randn(8, 32) * 1e3).abs() < BOUND).all()


def test_the_encoder_sees_bone_directions_only():
    """Scaling a pose changes no bone direction, so not its latent; moving one joint does."""
    encoder = PoseEncoder()
    poses = random_poses(16)
    assert torch.allclose(encoder(poses), encoder(3.7 * poses), atol=1e-5)
    moved = poses.clone()
    moved[:, 13] += 200.0
    assert (encoder(moved) - encoder(poses)).abs().max() > 1e-4


@pytest.mark.parametrize("dims", [2, 3])
def test_flip_is_an_involution_that_mirrors_left_and_right(dims):
    poses = torch.randn(10, 17, dims)
    mirrored = flip(poses)
    assert torch.equal(flip(mirrored), poses)
    names = H36M17.names
    lw, rw = names.index("l_wrist"), names.index("r_wrist")
    assert torch.equal(mirrored[:, lw, 0], -poses[:, rw, 0])
    assert torch.equal(mirrored[:, lw, 1:], poses[:, rw, 1:])
    assert not torch.equal(mirrored, poses)


def test_flip_backward_twice_is_the_identity_and_slow_backward_picks_the_frames():
    seq = torch.randn(3, 30, 17, 2)
    once = flip_backward(seq)
    assert torch.equal(flip_backward(once), seq) and torch.equal(once[:, 0], flip(seq[:, -1]))
    clips = torch.arange(60.0).view(1, 60, 1, 1).expand(2, 60, 17, 2)
    anchor, positive = slow_backward(clips)
    assert anchor.shape == positive.shape == (2, 30, 17, 2)
    assert anchor[0, :, 0, 0].tolist() == list(range(0, 60, 2))
    assert positive[0, :, 0, 0].tolist() == list(range(44, 14, -1))


def test_the_discriminator_gives_one_score_from_22_logits_and_all_parts_train():
    lengths = template_lengths(random_poses(50))
    encoder, decoder, critic = PoseEncoder(), PoseDecoder(lengths), PoseDiscriminator()
    poses = random_poses(8)
    assert critic.logits(poses).shape == (8, 22) and critic(poses).shape == (8,)
    recon = decoder(encoder(poses))
    loss = (recon - poses / 300).abs().mean() + critic(recon).mean()
    loss.backward()
    for net in (encoder, decoder, critic):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_latent_distance_measures_how_far_a_relation_moves_latents():
    encoder = PoseEncoder()
    poses = random_poses(64)
    assert latent_distance(encoder, poses, poses) == 0.0
    assert latent_distance(encoder, poses, flip(poses)) > 0.0
