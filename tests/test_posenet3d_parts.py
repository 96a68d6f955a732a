"""PoseNet3D's parts (issue 7, in progress): body models, the lifter, the self-consistency cycle, the critics
and the distillation, checked against their defining properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines.common.geometry import azimuth_elevation, identity_6d, matrix_from_6d
from baselines.ites.model import parameter_count
from baselines.posenet3d.body import GROUPS, PARENTS, KinematicSkeleton, SmplBody, median_bone_lengths
from baselines.posenet3d.losses import critic_loss, cycle, distillation, perspective, random_views, scale_aligned, turn
from baselines.posenet3d.model import Critic, Lifter, Student
from harness.errors import DatasetUnavailable
from harness.skeletons import H36M17
from tests.test_3dpw import random_smpl

torch.manual_seed(0)
LEFT_RIGHT = [("l_hip", "r_hip"), ("l_knee", "r_knee"), ("l_ankle", "r_ankle"), ("l_shoulder", "r_shoulder"), ("l_elbow", "r_elbow"), ("l_wrist", "r_wrist")]


def bone_lengths(joints: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(joints[:, 1:] - joints[:, list(PARENTS[1:])], dim=-1)


def test_6d_rotations_are_rotations():
    R = matrix_from_6d(torch.randn(100, 6))
    assert torch.allclose(R.transpose(1, 2) @ R, torch.eye(3).expand(100, 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(R), torch.ones(100), atol=1e-5)
    assert torch.equal(matrix_from_6d(identity_6d(1))[0], torch.eye(3))


def test_kinematic_skeleton_template_symmetry_and_pose_invariant_lengths():
    mean = torch.linspace(0.5, 1.4, len(GROUPS))
    body = KinematicSkeleton(mean)
    rest = body(identity_6d(1, 17), torch.zeros(1, 4))[0]
    assert torch.equal(rest[0], torch.zeros(3))
    # zero pose and shape: the template, e.g. the right knee straight below the right hip by the thigh length
    thigh = mean[GROUPS.index("thigh")]
    assert torch.allclose(rest[H36M17.index["r_knee"]] - rest[H36M17.index["r_hip"]], torch.tensor([0.0, thigh, 0.0]))
    rest_lengths = bone_lengths(rest[None])
    for rot, betas in [(torch.randn(64, 17, 6), torch.zeros(64, 4)), (torch.randn(64, 17, 6), torch.randn(64, 4) * 0.3)]:
        joints = body(rot, betas)
        lengths = bone_lengths(joints)
        if not betas.any():
            assert torch.allclose(lengths, rest_lengths.expand_as(lengths), atol=1e-5)  # no pose changes a bone
        for left, right in LEFT_RIGHT:
            assert torch.allclose(lengths[:, H36M17.index[left] - 1], lengths[:, H36M17.index[right] - 1], atol=1e-5)
    # betas scale their groups: the overall component scales every bone by the same factor
    grown = bone_lengths(body(identity_6d(1, 17), torch.tensor([[math.log(2.0), 0, 0, 0]])))
    assert torch.allclose(grown, 2 * rest_lengths, atol=1e-5)


def test_median_bone_lengths_pool_left_and_right():
    body = KinematicSkeleton(torch.linspace(0.5, 1.4, len(GROUPS)))
    poses = body(torch.randn(200, 17, 6), torch.zeros(200, 4))
    assert torch.allclose(median_bone_lengths(poses), body.mean_lengths, atol=1e-5)


def test_smpl_body_through_smplx_with_a_random_model(tmp_path):
    assets = random_smpl(tmp_path)
    body = SmplBody(tmp_path / "SMPL_NEUTRAL.npz", tmp_path / "J_regressor_h36m.npy")
    joints = body(identity_6d(2, 24), torch.zeros(2, 10))
    assert joints.shape == (2, 17, 3) and body.smpl.v_template.shape == (6890, 3)
    expected = assets["regressor"] @ assets["v_template"]
    assert np.allclose(joints[0].detach().numpy(), expected - expected[0], atol=1e-4)  # zero pose: the template
    mapped = SmplBody(tmp_path / "SMPL_NEUTRAL.npz")
    assert mapped.label.endswith("(SMPL joints mapped to H36M)") and mapped(torch.randn(3, 24, 6), torch.zeros(3, 10)).shape == (3, 17, 3)
    with pytest.raises(DatasetUnavailable, match="not found"):
        SmplBody(tmp_path / "missing.npz")


def test_network_sizes():
    assert parameter_count(Lifter()) == 8_468_497
    assert parameter_count(Critic()) == 6_334_465
    student = Student(17, 4).eval()
    rot, betas = student(torch.randn(3, 17, 2))
    assert torch.equal(rot, identity_6d(3, 17)) and torch.equal(betas, torch.zeros(3, 4))  # starts at the rest pose


def test_lifted_pose_reprojects_onto_its_input():
    lifter = Lifter(width=64, blocks=1).eval()
    kp = torch.randn(32, 17, 2) * 0.05
    kp -= kp[:, :1].clone()
    pose = lifter(kp)
    assert (pose[..., 2] >= 1).all()
    assert torch.allclose(perspective(pose), kp, atol=1e-6)


def test_cycle_vanishes_for_an_oracle_lifter():
    body = KinematicSkeleton(torch.full((len(GROUPS),), 0.1))
    truth = body(torch.randn(16, 17, 6) * 0.3 + identity_6d(16, 17), torch.zeros(16, 4)) + torch.tensor([0.0, 0.0, 10.0])
    rotation = random_views(16)
    known = {"input": truth, "view": turn(truth, rotation)}

    def oracle(kp2d: torch.Tensor) -> torch.Tensor:  # returns the true 3D of whichever 2D it is shown
        for pose in known.values():
            if torch.allclose(perspective(pose), kp2d, atol=1e-6):
                return pose
        raise AssertionError("the cycle showed the lifter a view it never made")

    loss_2d, loss_3d, view, _ = cycle(oracle, perspective(truth), rotation)
    assert loss_2d.item() < 1e-10 and loss_3d.item() < 1e-10
    assert not torch.allclose(view, perspective(truth), atol=1e-3)  # the synthetic view is a different view
    wrong = cycle(lambda kp: torch.cat([kp * 10.0, torch.full_like(kp[..., :1], 10.0)], -1), perspective(truth), rotation)
    assert wrong[0].item() > 1e-6  # a flat lifter is punished by the round trip


def test_views_keep_elevation_within_bounds():
    R = random_views(2000)
    up = R @ torch.tensor([0.0, -1.0, 0.0])
    elevation = torch.asin(-up[:, 2].clamp(-1, 1))
    assert elevation.abs().max() <= math.pi / 9 + 1e-5
    assert torch.allclose(azimuth_elevation(torch.zeros(1), torch.zeros(1))[0], torch.eye(3))


def test_wgan_gp_critic_loss():
    critic = Critic(width=32, blocks=1)
    real, fake = torch.randn(64, 17, 2), torch.randn(64, 17, 2) + 3.0
    loss = critic_loss(critic, real, fake)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in critic.parameters())


def test_distillation_ignores_scale_and_translation():
    body = KinematicSkeleton(torch.linspace(0.5, 1.4, len(GROUPS)))
    pose = body(torch.randn(8, 17, 6), torch.zeros(8, 4))
    assert distillation(pose, 3.7 * pose + 2.0, PARENTS).item() < 1e-5
    assert distillation(pose, body(torch.randn(8, 17, 6), torch.zeros(8, 4)), PARENTS).item() > 0.1
    assert torch.allclose(scale_aligned(5 * pose), scale_aligned(pose), atol=1e-6)
