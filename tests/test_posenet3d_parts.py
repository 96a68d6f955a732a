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
from baselines.common.config import load_config
from baselines.posenet3d.config import CriticConfig, PoseNet3DConfig
from baselines.posenet3d.model import Critic, Lifter, Student
from baselines.posenet3d.objectives import CriticObjective, Critics, FinetuneObjective, TeacherObjective
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


def finetune_parts(**weights: float) -> tuple[FinetuneObjective, Critics, torch.Tensor, torch.Tensor]:
    """A small stage-3 objective with a student moved off its rest pose, and consecutive-frame 2D."""
    torch.manual_seed(1)
    cfg = load_config(PoseNet3DConfig, None, ["teacher.width=32", "teacher.blocks=1", "critic.width=32", "critic.blocks=1", *(f"finetune.{k}={v}" for k, v in weights.items())])
    lifter, critics = Lifter(width=32, blocks=1, dropout=0.0), Critics(cfg.critic)
    body = KinematicSkeleton(torch.full((len(GROUPS),), 0.1))
    student = Student(body.n_rotations, body.n_betas, width=32, blocks=1, dropout=0.0)
    with torch.no_grad():
        for p in student.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    kp = torch.randn(16, 17, 2) * 0.05
    kp -= kp[:, :1].clone()
    return FinetuneObjective(TeacherObjective(lifter, critics, cfg.teacher), student, body, cfg.finetune), critics, kp, kp + torch.randn_like(kp) * 0.002


def gradient_norms(loss: torch.Tensor, *nets: torch.nn.Module) -> list[float]:
    out = []
    for net in nets:
        grads = torch.autograd.grad(loss, list(net.parameters()), retain_graph=True, allow_unused=True)
        out.append(sum(float(g.abs().sum()) for g in grads if g is not None))
    return out


def test_the_student_is_placed_like_the_lifters_pose():
    finetune, _, kp, _ = finetune_parts()
    placed, lifted = finetune.lift_student(kp), finetune.teacher.lifter(kp)
    size = lambda pose: torch.linalg.vector_norm(pose[:, 1:] - pose[:, :1], dim=-1).mean(1)  # noqa: E731
    assert torch.allclose(placed[:, 0], lifted[:, 0], atol=1e-5) and torch.allclose(size(placed), size(lifted), rtol=1e-5)
    joints = finetune.body(*finetune.student(kp))
    assert torch.allclose(scale_aligned(placed), scale_aligned(joints), atol=1e-5)


def test_fine_tuning_gives_the_student_its_own_cycle_and_critics():
    """The paper fine-tunes both networks with self-consistency and adversarial losses: the student's part reaches
    the student and not the lifter (which only places it), each half does, and weights 0 switch it off."""
    finetune, _, kp, kp_next = finetune_parts()
    joints, joints_next = (finetune.body(*finetune.student(x)) for x in (kp, kp_next))
    losses = finetune.student_losses(kp, kp_next, joints, joints_next)
    assert all(torch.isfinite(v) for v in losses.values())
    to_student, to_lifter = gradient_norms(losses["loss"], finetune.student, finetune.teacher.lifter)
    assert to_student > 0 and to_lifter == 0
    t = finetune.teacher.cfg
    consistency = t.cycle_2d_weight * losses["l_student_cycle_2d"] + t.cycle_3d_weight * losses["l_student_cycle_3d"]
    adversarial = t.adversarial_weight * losses["l_student_adv"] + t.temporal_weight * losses["l_student_temporal"]
    assert torch.allclose(losses["loss"], consistency + adversarial)
    assert gradient_norms(consistency, finetune.student)[0] > 0 and gradient_norms(adversarial, finetune.student)[0] > 0
    off, _, _, _ = finetune_parts(self_consistency_weight=0, adversarial_weight=0)
    assert float(off.student_losses(kp, kp_next, joints, joints_next)["loss"].detach()) == 0
    assert {"l_student_cycle_2d", "l_student_adv", "l_reprojection"} <= set(finetune(kp, kp_next))


def test_in_fine_tuning_the_critics_also_judge_the_students_views():
    finetune, critics, kp, kp_next = finetune_parts()
    seen: list[torch.Tensor] = []
    critics.pose.register_forward_hook(lambda module, args, out: seen.append(args[0].detach()))
    torch.manual_seed(5)
    CriticObjective(critics, finetune.teacher.lifter, CriticConfig(width=32, blocks=1), 20.0, finetune)(kp, kp_next)
    torch.manual_seed(5)
    rotation = random_views(len(kp), math.radians(20.0))
    with torch.no_grad():
        lifter_view = perspective(turn(finetune.teacher.lifter(kp), rotation))
        student_view = perspective(turn(finetune.lift_student(kp), rotation))
    fakes = [x for x in seen if len(x) == 2 * len(kp) and torch.allclose(x[: len(kp)], lifter_view, atol=1e-6)]
    assert fakes and torch.allclose(fakes[0][len(kp):], student_view, atol=1e-6)
