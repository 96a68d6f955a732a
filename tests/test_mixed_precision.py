"""The bf16 path on the CPU (`autocast_cpu`): one step of every stage of each baseline's smoke config under bf16
autocast runs its networks' layers in bf16, keeps geometry and losses in float32, and reaches every parameter it
trains; the default CPU run has no autocast at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode
from torch.utils.data import TensorDataset

from baselines.common.config import StageConfig, load_config
from baselines.common.training import Run, fit
from baselines.ites.config import ITESConfig
from baselines.ites.losses import student_step, teacher_step
from baselines.ites.train import build as build_ites
from baselines.nlrd.config import NLRDConfig
from baselines.nlrd.model import KeypointEncoder, MotionDecoder, MotionEncoder, PoseDecoder, PoseDiscriminator, PoseEncoder, template_lengths
from baselines.nlrd.objectives import AdaptationObjective, MotionObjective, PriorObjective, SourceObjective, prior
from baselines.nlrd.prior import TURNS, VirtualCameras
from baselines.nlrd.train import build_relations
from baselines.posenet3d.body import KinematicSkeleton, median_bone_lengths
from baselines.posenet3d.config import PoseNet3DConfig
from baselines.posenet3d.objectives import CriticObjective, Critics, FinetuneObjective, StudentObjective, TeacherObjective, body_joints
from baselines.posenet3d.train import build_lifter, build_student

CONFIGS = Path(__file__).resolve().parents[1] / "baselines"
B = 16  # batch of these one-step checks


def bf16_run(folder: Path) -> Run:
    folder.mkdir(parents=True, exist_ok=True)
    return Run(folder, autocast_cpu=True)


def kp2d(n: int = B, frames: int | None = None) -> torch.Tensor:
    """Root-centred 2D of about the normalised scale (root-to-head about 0.2)."""
    torch.manual_seed(1)
    kp = torch.randn(n, *((frames,) if frames else ()), 17, 2) * 0.1
    return kp - kp[..., :1, :]


def poses_3d(n: int = 256) -> torch.Tensor:
    """Root-relative 3D in mm."""
    torch.manual_seed(2)
    poses = torch.randn(n, 17, 3) * 200
    return poses - poses[:, :1]


class Matmuls(TorchFunctionMode):
    """Records (autocast on?, output dtype) of every matrix product and convolution called while it is active."""

    FUNCS = {F.linear, F.conv1d, F.conv2d, torch.matmul, torch.mm, torch.bmm, torch.einsum, torch.Tensor.__matmul__, torch.Tensor.matmul}

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[bool, torch.dtype]] = []

    def __torch_function__(self, func: Callable, types: tuple, args: tuple = (), kwargs: dict | None = None) -> object:
        out = func(*args, **(kwargs or {}))
        if func in self.FUNCS:
            self.seen.append((torch.is_autocast_enabled("cpu"), out.dtype))
        return out


def one_step(run: Run, objective: nn.Module, step: Callable, batch: list[torch.Tensor], trained: list[nn.Parameter], bf16: bool = True) -> dict[str, torch.Tensor]:
    """One step under the run's autocast and its backward. Checks: the networks' matrix products (and LSTMs) ran
    in bf16 (none when not `bf16`: a step of float32 networks only), those of the float32 islands in float32; the losses are float32 and finite; every parameter the
    step trains gets a finite gradient."""
    lstm_dtypes: list[torch.dtype] = []
    hooks = [m.register_forward_hook(lambda m, i, o: lstm_dtypes.append(o[0].dtype)) for m in objective.modules() if isinstance(m, nn.LSTM)]
    objective.zero_grad(set_to_none=True)
    with Matmuls() as products, run.autocast():
        losses = step(objective, batch, 0)
    for hook in hooks:
        hook.remove()
    losses.pop("turn", None)
    in_autocast = {dtype for on, dtype in products.seen if on}
    in_islands = {dtype for on, dtype in products.seen if not on}
    assert in_autocast == ({torch.bfloat16} if bf16 else set()) and in_islands <= {torch.float32}, (in_autocast, in_islands)
    assert set(lstm_dtypes) <= {torch.bfloat16}, lstm_dtypes
    assert {k: v.dtype for k, v in losses.items()} == dict.fromkeys(losses, torch.float32)
    assert all(bool(torch.isfinite(v).all()) for v in losses.values()), losses
    losses["loss"].backward()
    missing = [i for i, p in enumerate(trained) if p.grad is None or not bool(torch.isfinite(p.grad).all())]
    assert trained and not missing, f"{len(missing)} of {len(trained)} parameters without a finite gradient"
    return losses


def call(model: nn.Module, batch: list[torch.Tensor], epoch: int) -> dict[str, torch.Tensor]:
    return model(*batch)


def trainable(*modules: nn.Module) -> list[nn.Parameter]:
    return [p for m in modules for p in m.parameters() if p.requires_grad]


def test_cpu_runs_float32_unless_autocast_cpu_asks(tmp_path):
    layer = nn.Linear(4, 4)
    with Run(tmp_path).autocast():  # the default: bf16 asked for, but on the CPU nothing changes
        assert layer(torch.ones(2, 4)).dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
    with Run(tmp_path, bf16=False, autocast_cpu=True).autocast():
        assert layer(torch.ones(2, 4)).dtype == torch.float32
    with bf16_run(tmp_path).autocast():
        assert layer(torch.ones(2, 4)).dtype == torch.bfloat16
    for name in ("ites", "posenet3d", "nlrd"):  # no shipped config turns it on
        for path in (CONFIGS / name / "configs").glob("*.yaml"):
            assert "autocast_cpu" not in path.read_text(), path


def test_fit_runs_each_step_under_the_runs_autocast(tmp_path):
    seen: list[tuple[bool, torch.dtype]] = []

    def step(model: nn.Module, batch: list[torch.Tensor], epoch: int) -> dict[str, torch.Tensor]:
        out = model(batch[0])
        seen.append((torch.is_autocast_enabled("cpu"), out.dtype))
        return {"loss": out.float().pow(2).mean()}

    cfg = StageConfig(batch_size=8, max_steps=2)
    (tmp_path / "plain").mkdir()
    fit("plain", nn.Linear(3, 2), TensorDataset(torch.randn(32, 3)), cfg, step, Run(tmp_path / "plain"))
    fit("bf16", nn.Linear(3, 2), TensorDataset(torch.randn(32, 3)), cfg, step, bf16_run(tmp_path / "bf16"))
    assert seen == [(False, torch.float32)] * 2 + [(True, torch.bfloat16)] * 2


def test_ites_steps_in_bf16(tmp_path):
    cfg = load_config(ITESConfig, CONFIGS / "ites/configs/smoke.yaml")
    torch.manual_seed(0)
    teacher, student = build_ites(cfg)
    run, kp = bf16_run(tmp_path), kp2d()
    t = one_step(run, teacher.train(), teacher_step(cfg.teacher), [kp], trainable(teacher))
    s = one_step(run, student.train(), student_step(cfg.student), [kp, torch.randn(B, 17, 1) * 0.1], trainable(student))
    assert set(t) == {"loss", "l_rep", "l_inv"} and set(s) == {"loss", "l_kd", "l_equi"}
    with run.autocast():  # the rotations, the camera-frame pose and the lifted 3D are float32
        out, lifted = teacher(kp, n_rotations=2), student(kp, n_rotations=2)
    assert out.rotation.dtype == out.camera.dtype == lifted.pose.dtype == torch.float32
    with torch.no_grad():
        full = teacher_step(cfg.teacher)(teacher, [kp], 0)["loss"]  # the same step in float32 (other random views)
    assert float(t["loss"].detach()) == pytest.approx(float(full), rel=0.2)


def test_posenet3d_steps_in_bf16(tmp_path):
    cfg = load_config(PoseNet3DConfig, CONFIGS / "posenet3d/configs/smoke.yaml")
    torch.manual_seed(0)
    lifter, critics = build_lifter(cfg), Critics(cfg.critic)
    body = KinematicSkeleton(median_bone_lengths(poses_3d() / 1000))
    student = build_student(cfg, body)
    run, kp, kp_next = bf16_run(tmp_path), kp2d(), kp2d() * 1.01
    teacher = TeacherObjective(lifter, critics, cfg.teacher)
    one_step(run, CriticObjective(critics, lifter, cfg.critic, cfg.teacher.max_elevation_deg), call, [kp, kp_next], trainable(critics))
    one_step(run, teacher, call, [kp, kp_next], trainable(lifter))
    one_step(run, StudentObjective(student, body, lifter, cfg.student), call, [kp], trainable(student))
    one_step(run, FinetuneObjective(teacher, student, body, cfg.finetune), call, [kp, kp_next], trainable(lifter, student))
    with Matmuls() as products, run.autocast():  # the body model's forward kinematics: float32, autocast off
        joints = body_joints(body, student, kp)
    assert joints.dtype == lifter(kp).dtype == torch.float32 and {on for on, _ in products.seen} == {True, False}
    assert {dtype for on, dtype in products.seen if not on} == {torch.float32}


def test_nlrd_steps_in_bf16(tmp_path):
    cfg = load_config(NLRDConfig, CONFIGS / "nlrd/configs/smoke.yaml", ["motion.frames=6"])
    torch.manual_seed(0)
    poses, run, frames = poses_3d(), bf16_run(tmp_path), cfg.motion.frames
    encoder, decoder = PoseEncoder(cfg.prior.width), PoseDecoder(template_lengths(poses), cfg.prior.width)
    disc = PoseDiscriminator(cfg.prior.width)
    prior_objective = PriorObjective(encoder, decoder, disc, cfg.prior)
    for turn, trained in zip(TURNS, (trainable(encoder, decoder), trainable(disc), trainable(encoder, decoder))):
        prior_objective.turn.fill_(TURNS.index(turn))
        one_step(run, prior_objective, call, [poses[:B]], trained, bf16=turn != "reconstruct")  # the prior's encoder and decoder: float32
    motion_encoder, motion_decoder = MotionEncoder(cfg.motion.hidden, cfg.motion.motion), MotionDecoder(frames, cfg.motion.hidden, cfg.motion.motion)
    windows = poses[: B * 2 * frames].view(B, 2 * frames, 17, 3)
    one_step(run, MotionObjective(motion_encoder, motion_decoder, encoder, decoder), call, [windows[:, :frames]], trainable(motion_encoder, motion_decoder))
    relations = build_relations(cfg, encoder, motion_encoder)
    one_step(run, relations, call, [windows], trainable(relations.pose, relations.flip_backward, relations.slow_backward))
    g2d = KeypointEncoder(width=cfg.source.width, middle=cfg.source.middle)
    cameras = VirtualCameras(poses, cfg.data.head_distance)
    source_batch = [poses[:B], torch.zeros(B, 17, 2), torch.zeros(B, dtype=torch.bool)]
    one_step(run, SourceObjective(g2d, decoder, cameras), call, source_batch, trainable(g2d))
    adaptation = AdaptationObjective(g2d, motion_encoder, relations, cfg.adaptation)
    for params, _ in adaptation.groups():  # one loss a step, in turn, each reaching its own parameters
        one_step(run, adaptation, call, [kp2d(B, 2 * frames)], params)
    with Matmuls() as products, run.autocast():  # the prior's encoder and decoder (bone vectors, bounded latent, chain)
        latents = prior(encoder)(poses[:B])
        decoded = prior(decoder)(latents.bfloat16())
    assert latents.dtype == decoded.dtype == torch.float32 and products.seen and set(products.seen) == {(False, torch.float32)}
