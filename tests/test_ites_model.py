"""ITES networks against the published architecture: parameter counts, behaviour at initialisation, and the
geometry they rest on. The official checkpoint layout is checked against an independent build of the official
networks in test_ites_import.py."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from baselines.common.geometry import about_y, back_project, hat, project, random_rotations, rodrigues, rotate
from baselines.ites.model import NonLocalBlock, Student, Teacher, parameter_count

torch.manual_seed(0)


def _count(module: torch.nn.Module, prefix: str) -> int:
    return sum(p.numel() for n, p in module.named_parameters() if n.startswith(prefix))


def test_parameter_counts_match_the_official_models():
    teacher, student = Teacher(), Student()
    assert parameter_count(teacher) == 3_621_543
    assert (_count(teacher, "fe_net"), _count(teacher, "alpha_layer"), _count(teacher, "shape_layer")) == (3_604_480, 12_300, 663)
    assert (_count(teacher, "rot_layer"), _count(teacher, "trans_layer")) == (3_075, 1_025)
    assert parameter_count(student) == 534_635
    assert (_count(student, "gconv_input"), _count(student, "gconv_layers"), _count(student, "gconv_output")) == (945, 533_384, 306)
    assert _count(student, "gconv_layers.0.gconv1") == 66_673


def test_teacher_at_initialisation():
    """N(0, 0.01^2) weights give a near-zero shape: L_rep is the mean 2D distance from the root; L_inv is small."""
    teacher = Teacher().eval()
    kp = torch.randn(256, 17, 2) * 0.1
    kp -= kp[:, :1]
    out = teacher(kp)
    expected = torch.linalg.vector_norm(kp, dim=-1).mean()
    assert out.l_rep.item() == pytest.approx(expected.item(), rel=0.02)
    assert out.l_inv.item() < 0.05
    assert torch.allclose(out.rotation @ out.rotation.transpose(1, 2), torch.eye(3).expand(256, 3, 3), atol=5e-4)
    assert teacher.trans_layer.weight.requires_grad is False  # present for checkpoints, never trained


def test_student_reprojects_exactly_onto_its_input():
    student = Student().eval()
    kp = torch.randn(64, 17, 2) * 0.1
    out = student(kp)
    assert (out.depth > -4).all()
    assert torch.allclose(project(out.pose), kp, atol=1e-6)
    assert out.l_equi.item() > 0


def test_non_local_blocks_start_as_the_identity():
    block = NonLocalBlock(128, 2).eval()
    x = torch.randn(4, 128, 17)
    assert torch.equal(block(x), x)


def test_non_local_block_equals_the_concatenation_form():
    """The block sums the concat-projection's two halves instead of building the (B, C, J, J') pair tensor of
    the official code; with the same weights both forms agree."""
    torch.manual_seed(0)
    block = NonLocalBlock(64, 2).train()
    nn.init.normal_(block.W[1].weight)  # leave the identity start: the non-local path must contribute
    x = torch.randn(8, 64, 18)
    g = block.g(x).transpose(1, 2)
    theta, phi = block.theta(x)[..., None], block.phi(x)[:, :, None, :]
    pairs = torch.cat([theta.expand(-1, -1, -1, phi.shape[-1]), phi.expand(-1, -1, theta.shape[2], -1)], dim=1)
    f = block.concat_project(pairs)[:, 0] / phi.shape[-1]
    literal = block.W((f @ g).transpose(1, 2)) + x
    fast = block(x)
    assert (fast - x).abs().max() > 0.1
    assert torch.allclose(fast, literal, atol=1e-5)


def test_rodrigues_against_known_rotations():
    quarter_z = rodrigues(torch.tensor([[0.0, 0.0, math.pi / 2]]), eps=0.0)[0]
    assert torch.allclose(quarter_z @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)
    assert torch.allclose(rodrigues(torch.zeros(1, 3))[0], torch.eye(3))
    v, w = torch.randn(5, 3), torch.randn(5, 3)
    assert torch.allclose((hat(v) @ w[..., None])[..., 0], torch.linalg.cross(v, w), atol=1e-6)
    R = random_rotations(1000)  # eps = 1e-4 in the denominators, as published: orthonormal to about 1e-4
    assert torch.allclose(R @ R.transpose(1, 2), torch.eye(3).expand(1000, 3, 3), atol=5e-4)
    assert torch.allclose(torch.linalg.det(R), torch.ones(1000), atol=5e-4)
    angle = torch.arccos(((R.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1))
    assert angle.max() <= math.pi + 1e-4 and angle.mean() == pytest.approx(math.pi / 2, abs=0.1)  # uniform angle, not Haar


def test_vertical_rotations_keep_heights_and_depth_geometry_is_float32():
    pts = torch.randn(50, 17, 3)
    rotated = rotate(pts, about_y(50))
    assert torch.allclose(rotated[..., 1], pts[..., 1], atol=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        kp = project(back_project(torch.randn(8, 17, 2, dtype=torch.bfloat16), torch.zeros(8, 17, 1, dtype=torch.bfloat16)))
    assert kp.dtype == torch.float32


def test_the_paper_config_starts_the_students_batchnorm_as_the_authors_torch_did():
    """`bn_init: uniform` (the paper config) draws the student's BatchNorm scales uniformly in (0, 1) as torch 1.1
    did; the default keeps torch's current 1; the paper config also scales each split's 2D on its own."""
    from baselines.commands import load_baseline_config
    from baselines.ites.model import GraphLayer, Student

    torch.manual_seed(0)
    scales = [m.bn.weight for m in Student(16, 1, bn_init="uniform").modules() if isinstance(m, GraphLayer)]
    assert len(scales) == 3 and all(((w > 0) & (w < 1)).all() and w.std() > 0.1 for w in scales)
    assert all((m.bn.weight == 1).all() for m in Student(16, 1).modules() if isinstance(m, GraphLayer))
    with pytest.raises(ValueError, match="bn_init"):
        Student(16, 1, bn_init="zeros")
    paper = load_baseline_config("ites", "paper", [])
    assert paper.student.bn_init == "uniform" and paper.data.scale_from == "split"
    assert load_baseline_config("ites", "demo", []).student.bn_init == "ones"  # the pinned run is unchanged
