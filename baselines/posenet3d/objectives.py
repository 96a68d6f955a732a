"""Each PoseNet3D stage's objective as one module whose forward returns its losses, so that one forward pass
covers every use of a network (what DistributedDataParallel needs). Networks an objective only reads are
held outside its parameters.

Under the step's bf16 autocast the lifter, student and critics run in bf16; their outputs are cast to float32
(the lifter's and student's in the model, the critics' here) and the body model's forward kinematics run in
float32 with autocast off, as do the rotations and projections (`losses`)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from baselines.posenet3d.body import PARENTS
from baselines.posenet3d.config import (
    CriticConfig,
    FinetuneConfig,
    StudentConfig,
    TeacherConfig,
)
from baselines.posenet3d.losses import (
    critic_loss,
    cycle,
    distillation,
    perspective,
    random_views,
    scale_aligned,
    turn,
)
from baselines.posenet3d.model import Critic, Lifter, Student


class Critics(nn.Module):
    def __init__(self, cfg: CriticConfig) -> None:
        super().__init__()
        self.pose = Critic(width=cfg.width, blocks=cfg.blocks)
        self.motion = Critic(width=cfg.width, blocks=cfg.blocks)


def float32_out(net: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """`net` under the step's autocast, its output cast to float32 for the loss that reads it."""
    return lambda x: net(x).float()


def body_joints(body: nn.Module, student: Student, kp: torch.Tensor) -> torch.Tensor:
    """The body model's joints of the student's prediction: forward kinematics in float32, autocast off."""
    rotations, betas = student(kp)
    with torch.autocast(kp.device.type, enabled=False):
        return body(rotations.float(), betas.float())


def _views(lifter: nn.Module, kp: torch.Tensor, kp_next: torch.Tensor, rotation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The lifted pose of two consecutive frames seen from the same new view."""
    return perspective(turn(lifter(kp), rotation)), perspective(turn(lifter(kp_next), rotation))


class TeacherObjective(nn.Module):
    """Stage 1: cycle losses plus the critics' verdict on the synthetic views and their frame differences."""

    def __init__(self, lifter: Lifter, critics: Critics, cfg: TeacherConfig) -> None:
        super().__init__()
        self.lifter, self.cfg = lifter, cfg
        self._critics = (critics,)  # read, not trained here

    def adversarial(self, view: torch.Tensor, view_next: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        critics = self._critics[0]
        return -critics.pose(view).float().mean(), -critics.motion(view_next - view).float().mean()

    def forward(self, kp: torch.Tensor, kp_next: torch.Tensor) -> dict[str, torch.Tensor]:
        rotation = random_views(len(kp), math.radians(self.cfg.max_elevation_deg), kp.device)
        l2d, l3d, view, _ = cycle(self.lifter, kp, rotation)
        view_next = perspective(turn(self.lifter(kp_next), rotation))
        adv, temporal = self.adversarial(view, view_next)
        c = self.cfg
        loss = c.cycle_2d_weight * l2d + c.cycle_3d_weight * l3d + c.adversarial_weight * adv + c.temporal_weight * temporal
        return {"loss": loss, "l_cycle_2d": l2d, "l_cycle_3d": l3d, "l_adv": adv, "l_temporal": temporal}


class CriticObjective(nn.Module):
    """The critics' WGAN-GP losses: real 2D poses and frame differences against the lifter's synthetic views, and
    in stage 3 the student's too (`student`), each seen from the same random view as the real pair."""

    def __init__(self, critics: Critics, lifter: Lifter, cfg: CriticConfig, max_elevation_deg: float, student: FinetuneObjective | None = None) -> None:
        super().__init__()
        self.critics, self.cfg, self.max_elevation = critics, cfg, math.radians(max_elevation_deg)
        self._lifters = (lifter,) if student is None else (lifter, student.lift_student)

    def forward(self, kp: torch.Tensor, kp_next: torch.Tensor) -> dict[str, torch.Tensor]:
        rotation = random_views(len(kp), self.max_elevation, kp.device)
        with torch.no_grad():
            views = [_views(lift, kp, kp_next, rotation) for lift in self._lifters]
        n = len(views)
        view, view_next = torch.cat([v for v, _ in views]), torch.cat([v for _, v in views])
        real, real_next = kp.repeat(n, 1, 1), kp_next.repeat(n, 1, 1)
        pose = critic_loss(float32_out(self.critics.pose), real, view, self.cfg.gp_weight)
        motion = critic_loss(float32_out(self.critics.motion), real_next - real, view_next - view, self.cfg.gp_weight)
        return {"loss": pose + motion, "pose": pose, "motion": motion}


class StudentObjective(nn.Module):
    """Stage 2: the body model's joints against the frozen lifter's pose, scale-aligned, plus bone directions."""

    def __init__(self, student: Student, body: nn.Module, lifter: Lifter, cfg: StudentConfig) -> None:
        super().__init__()
        self.student, self.body, self.cfg = student, body, cfg
        self._lifter = (lifter,)

    def forward(self, kp: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            target = self._lifter[0](kp)
        joints = body_joints(self.body, self.student, kp)
        loss = distillation(joints, target, PARENTS, self.cfg.direction_weight)
        return {"loss": loss, "l_distil": loss}


class FinetuneObjective(nn.Module):
    """Stage 3: both networks on consecutive frames. The teacher's stage-1 losses; the same self-consistency
    cycle and critics for the student, which lifts by placing its body-model joints like the lifter's pose of
    the same 2D (`lift_student`); the student's joints reprojected onto the input; teacher-student agreement
    (both ways); and the smoothness of the student's joints between frames."""

    def __init__(self, teacher: TeacherObjective, student: Student, body: nn.Module, cfg: FinetuneConfig) -> None:
        super().__init__()
        self.teacher, self.student, self.body, self.cfg = teacher, student, body, cfg

    def place(self, joints: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Body-model joints scaled to the lifter pose's size and put at its root: camera coordinates."""
        size = torch.linalg.vector_norm(like[:, 1:] - like[:, :1], dim=-1).mean(1)
        return scale_aligned(joints) * size[:, None, None] + like[:, :1]

    def lift_student(self, kp: torch.Tensor, joints: torch.Tensor | None = None) -> torch.Tensor:
        """The student as a lifter: its joints of `kp` (or the given ones) placed like the lifter's pose of
        `kp`, which only sets the size and root and carries no gradient here."""
        with torch.no_grad():
            like = self.teacher.lifter(kp)
        return self.place(body_joints(self.body, self.student, kp) if joints is None else joints, like)

    def student_losses(self, kp: torch.Tensor, kp_next: torch.Tensor, joints: torch.Tensor, joints_next: torch.Tensor) -> dict[str, torch.Tensor]:
        """The teacher's stage-1 losses, weighted as in stage 1, applied to the student."""
        t = self.teacher.cfg
        rotation = random_views(len(kp), math.radians(t.max_elevation_deg), kp.device)
        l2d, l3d, view, _ = cycle(self.lift_student, kp, rotation, pose=self.lift_student(kp, joints))
        view_next = perspective(turn(self.lift_student(kp_next, joints_next), rotation))
        adv, temporal = self.teacher.adversarial(view, view_next)
        consistency = t.cycle_2d_weight * l2d + t.cycle_3d_weight * l3d
        adversarial = t.adversarial_weight * adv + t.temporal_weight * temporal
        return {
            "loss": self.cfg.self_consistency_weight * consistency + self.cfg.adversarial_weight * adversarial,
            "l_student_cycle_2d": l2d, "l_student_cycle_3d": l3d, "l_student_adv": adv, "l_student_temporal": temporal,
        }

    def forward(self, kp: torch.Tensor, kp_next: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.teacher(kp, kp_next)
        lifted = self.teacher.lifter(kp)
        joints = body_joints(self.body, self.student, kp)
        joints_next = body_joints(self.body, self.student, kp_next)
        c = self.cfg
        reprojection = nn.functional.mse_loss(perspective(self.place(joints, lifted)), kp)
        agreement = distillation(joints, lifted, PARENTS)
        smooth = torch.linalg.vector_norm(scale_aligned(joints_next) - scale_aligned(joints), dim=-1).mean()
        student = self.student_losses(kp, kp_next, joints, joints_next)
        loss = out["loss"] + student.pop("loss") + c.reprojection_weight * reprojection + c.agreement_weight * agreement + c.smoothness_weight * smooth
        return {**out, **student, "loss": loss, "l_reprojection": reprojection, "l_agreement": agreement, "l_smooth": smooth}
