"""NLRD-2D's parts (issue 8, in progress): the pose prior's structural invariants, the relations, the motion
auto-encoder and the relation transformers (baselines.md sections 3.3 and 5)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

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
    bone_vectors,
    bounded,
    template_lengths,
)
from baselines.nlrd.prior import Schedule, augment, on_template
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


def test_prior_augmentation_keeps_bone_lengths_and_heights_and_mirrors_about_half():
    torch.manual_seed(3)
    poses = random_poses(2000)
    out = augment(poses)
    # the mirror swaps left and right bones, so compare each pose's sorted lengths (rotations are orthonormal
    # to about 1e-4: Rodrigues with eps 1e-4, as published)
    assert torch.allclose(bone_lengths(out).sort(1).values, bone_lengths(poses).sort(1).values, rtol=1e-3)
    lw, rw = H36M17.names.index("l_wrist"), H36M17.names.index("r_wrist")
    kept = torch.isclose(out[:, lw, 1], poses[:, lw, 1], atol=1e-3)  # heights move only by the mirror's swap
    swapped = torch.isclose(out[:, lw, 1], poses[:, rw, 1], atol=1e-3)
    assert bool((kept | swapped).all()) and 0.45 < swapped.float().mean() < 0.55
    assert (out[:, :, [0, 2]] - poses[:, :, [0, 2]]).abs().mean() > 50  # turned about the vertical axis


def test_prior_reconstruction_target_takes_the_template_lengths():
    """The target keeps every bone's direction and takes the template's length, so the encoder sees no change."""
    poses = random_poses(8)
    lengths = template_lengths(random_poses(100, seed=5))
    target = on_template(poses, lengths)
    assert torch.allclose(bone_lengths(target), lengths.expand(8, -1), atol=1e-4)
    assert torch.allclose(F.normalize(bone_vectors(target), dim=-1), F.normalize(bone_vectors(poses), dim=-1), atol=1e-5)
    assert not torch.allclose(target, poses / 300, atol=1e-2)


def test_prior_schedule_follows_the_official_switching_rule():
    s = Schedule()
    assert s.next("reconstruct", 0.2, 0.0, 0.0) == "reconstruct"
    assert s.next("reconstruct", 0.049, 0.0, 0.0) == "discriminator"
    assert s.next("discriminator", 0.01, 0.9, 0.6) == "discriminator"  # fakes not yet caught often enough
    assert s.next("discriminator", 0.01, 0.7, 0.9) == "discriminator"  # reals not yet recognised often enough
    assert s.next("discriminator", 0.01, 0.8, 0.65) == "generator"
    assert s.next("generator", 0.01, 0.8, 0.5) == "generator"  # only half its fakes pass
    assert s.next("generator", 0.01, 0.8, 0.4) == "discriminator"  # 60% pass as real
    assert s.next("generator", 0.5, 0.8, 0.4) == "discriminator"  # no way back to reconstruction alone


def test_a_residual_relation_transformer_starts_as_the_identity():
    x = torch.randn(16, 32) * 3
    assert torch.allclose(RelationTransformer(32, 64, residual=True)(x), x, atol=1e-5)
    assert not torch.allclose(RelationTransformer(32, 64)(x), x, atol=1e-1)


def test_info_nce_by_hand():
    from baselines.nlrd.adaptation import info_nce

    same = torch.ones(8, 16)
    assert info_nce(same, same).item() == pytest.approx(math.log(8), rel=1e-6)  # nothing tells the pairs apart
    x = torch.eye(8, 16)
    assert info_nce(x, x, temperature=0.07).item() == pytest.approx(math.log(1 + 7 * math.exp(-1 / 0.07)), abs=2e-7)  # ~4.4e-6
    y = torch.randn(8, 16)
    assert info_nce(y, y).item() < info_nce(y, y[torch.randperm(8, generator=torch.Generator().manual_seed(1))]).item()
    # the negatives are the other anchors, as in the official loss4/loss5: orthogonal anchors whose positives all
    # point between them score e^(s/t) / (e^(s/t) + 3) with s = 1/2, whatever the other positives are
    anchors, positives = torch.eye(4), torch.full((4, 4), 0.5)
    assert info_nce(anchors, positives).item() == pytest.approx(-math.log(math.exp(0.5 / 0.07) / (math.exp(0.5 / 0.07) + 3)), abs=1e-7)  # the other positives as negatives: log 4


def test_keypoint_noise_keeps_the_pose_and_never_rotates():
    from baselines.nlrd.adaptation import KeypointNoise, interpolate_in_time

    t = torch.arange(6.0)
    linear = t.view(1, 6, 1, 1) * torch.ones(2, 6, 17, 2)
    assert torch.equal(interpolate_in_time(linear)[:, 1:-1], linear[:, 1:-1])  # linear motion is filled in exactly
    torch.manual_seed(0)
    windows = torch.randn(64, 30, 17, 2) * 0.05
    windows = windows - windows[:, :, :1]
    noisy = KeypointNoise()(windows)
    assert torch.equal(noisy[:, :, 0], torch.zeros(64, 30, 2))
    assert torch.equal(KeypointNoise(jitter=0.0, scale=0.0, dropout=0.0)(windows), windows)
    scaled = KeypointNoise(jitter=0.0, scale=0.1, dropout=0.0)(windows)
    ratio = scaled.flatten(1).norm(dim=1) / windows.flatten(1).norm(dim=1)
    assert ((ratio >= 0.9 - 1e-6) & (ratio <= 1.1 + 1e-6)).all() and ratio.std() > 0.01
    cos = F.cosine_similarity(scaled.flatten(1), windows.flatten(1), dim=1)  # a scale, no rotation
    assert torch.allclose(cos, torch.ones(64), atol=1e-5)
