"""NLRD-2D stage objectives, each a module whose forward returns its losses (as the shared `fit` expects).

Under the step's bf16 autocast the pose prior's encoder and decoder run in float32 (`prior`: they compute unit
bone vectors, the bounded latent and the kinematic chain), as do the virtual cameras and the contrastive loss;
every other network's output is cast to float32 before a loss reads it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import nn

from baselines.common.geometry import fp32
from baselines.nlrd.adaptation import KeypointNoise, info_nce
from baselines.nlrd.config import AdaptConfig, PriorConfig
from baselines.nlrd.model import (
    BOUND,
    LATENT,
    ContrastiveHead,
    KeypointEncoder,
    MotionDecoder,
    MotionEncoder,
    PoseDecoder,
    PoseDiscriminator,
    PoseEncoder,
    RelationTransformer,
)
from baselines.nlrd.prior import TURNS, Schedule, VirtualCameras, augment, on_template
from baselines.nlrd.relations import flip
from baselines.nlrd.relations import flip_backward as flip_backward_sequences
from baselines.nlrd.relations import slow_backward as slow_backward_clips


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Gradients flow through `module` but none reach its parameters (so the optimiser leaves them alone)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def prior(net: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """The pose prior's encoder or decoder as a float32 call with autocast off: both hold geometry."""
    return fp32(net.__call__)


def l1(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference, in float32."""
    return (predicted.float() - target.float()).abs().mean()


class PriorObjective(nn.Module):
    """The pose auto-encoder's turn-based objective. Reconstruction alone first; then, as the official
    schedule decides after every step, either the discriminator (L1 to +1 on real poses, -1 on poses decoded
    from uniform random latents) or the encoder and decoder (reconstruction and latent-cycle L1, weighted,
    plus the adversarial L1 on the decoder). The turn is a buffer, so a resumed run goes on where it was."""

    def __init__(self, encoder: PoseEncoder, decoder: PoseDecoder, discriminator: PoseDiscriminator, cfg: PriorConfig) -> None:
        super().__init__()
        self.encoder, self.decoder, self.discriminator, self.cfg = encoder, decoder, discriminator, cfg
        self.schedule = Schedule(recon_threshold=cfg.recon_threshold)
        self.register_buffer("turn", torch.tensor(0))

    def forward(self, poses: torch.Tensor) -> dict[str, torch.Tensor]:
        turn = TURNS[int(self.turn)]
        real = on_template(augment(poses), self.decoder.lengths)
        with torch.set_grad_enabled(turn != "discriminator"):
            l_rec = l1(prior(self.decoder)(prior(self.encoder)(real)), real)
        zero = l_rec.new_zeros(())
        out = {"l_rec": l_rec, "l_cycle": zero, "l_adv": zero, "l_disc": zero, "real_acc": zero, "fake_acc": zero}
        if turn == "reconstruct":
            out["loss"] = l_rec
        else:
            z = (torch.rand(len(poses), LATENT, device=poses.device) * 2 - 1) * BOUND
            if turn == "discriminator":
                with torch.no_grad():
                    fake = prior(self.decoder)(z)
                d_real, d_fake = self.discriminator(real).float(), self.discriminator(fake).float()
                out["l_disc"] = out["loss"] = (d_real - 1).abs().mean() + (d_fake + 1).abs().mean()
            else:
                fake = prior(self.decoder)(z)
                out["l_cycle"] = l1(prior(self.encoder)(fake), z)
                with frozen(self.discriminator):
                    d_fake = self.discriminator(fake).float()
                with torch.no_grad():
                    d_real = self.discriminator(real).float()
                out["l_adv"] = (d_fake - 1).abs().mean()
                out["loss"] = self.cfg.reconstruction_weight * (l_rec + out["l_cycle"]) + self.cfg.adversarial_weight * out["l_adv"]
            out["real_acc"], out["fake_acc"] = (d_real > 0).float().mean(), (d_fake < 0).float().mean()
        following = self.schedule.next(turn, float(l_rec.detach()), float(out["real_acc"]), float(out["fake_acc"]))
        self.turn.fill_(TURNS.index(following))
        out["player"] = torch.tensor(float(TURNS.index(turn)), device=poses.device)  # logged: who played
        return out


def encode_poses(encoder: PoseEncoder, poses: torch.Tensor) -> torch.Tensor:
    """(B, T, 17, 3) -> (B, T, 32) latents, frame by frame."""
    return prior(encoder)(poses.flatten(0, 1)).view(*poses.shape[:2], LATENT)


class MotionObjective(nn.Module):
    """Stage 2: the motion auto-encoder over windows of latents of the frozen pose encoder, scored as the MSE
    between the poses the frozen pose decoder makes of its reconstruction and of the input latents."""

    def __init__(self, encoder: MotionEncoder, decoder: MotionDecoder, pose_encoder: PoseEncoder, pose_decoder: PoseDecoder) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self._prior = (pose_encoder, pose_decoder)  # read, never trained here

    def forward(self, windows: torch.Tensor) -> dict[str, torch.Tensor]:
        pose_encoder, pose_decoder = self._prior
        with torch.no_grad():
            z = encode_poses(pose_encoder, windows)
            target = prior(pose_decoder)(z.flatten(0, 1))
        with frozen(pose_decoder):
            recon = prior(pose_decoder)(self.decoder(self.encoder(z)).flatten(0, 1))
        loss = nn.functional.mse_loss(recon, target)
        return {"loss": loss, "l_motion": loss}


class RelationObjective(nn.Module):
    """Stage 3: the three relation transformers, regressed in latent space (the paper's choice) with the pose
    and motion encoders frozen, on clips of twice the motion window. Logs each relation's non-localness (the
    mean latent distance it spans) and what the transformer leaves of it."""

    def __init__(self, pose: RelationTransformer, flip_backward: RelationTransformer, slow_backward: RelationTransformer, pose_encoder: PoseEncoder, motion_encoder: MotionEncoder) -> None:
        super().__init__()
        self.pose, self.flip_backward, self.slow_backward = pose, flip_backward, slow_backward
        self._encoders = (pose_encoder, motion_encoder)

    def related_latents(self, clips: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Relation -> (latent of the input, latent of its related version), computed by the frozen encoders."""
        pose_encoder = self._encoders[0]
        first, window = clips[:, 0], clips[:, : clips.shape[1] // 2]
        anchor, positive = slow_backward_clips(clips)
        with torch.no_grad():
            return {
                "flip": (prior(pose_encoder)(first), prior(pose_encoder)(flip(first))),
                "flip_backward": (self.motion(window), self.motion(flip_backward_sequences(window))),
                "slow_backward": (self.motion(anchor), self.motion(positive)),
            }

    def motion(self, poses: torch.Tensor) -> torch.Tensor:
        """(B, T, 17, 3) -> (B, motion) float32 through the frozen pose and motion encoders."""
        pose_encoder, motion_encoder = self._encoders
        return motion_encoder(encode_poses(pose_encoder, poses)).float()

    def transformer(self, relation: str) -> RelationTransformer:
        return self.pose if relation == "flip" else getattr(self, relation)

    def forward(self, clips: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        total = clips.new_zeros(())
        for name, (source, target) in self.related_latents(clips).items():
            predicted = self.transformer(name)(source).float()
            loss = nn.functional.mse_loss(predicted, target)
            total = total + loss
            out[f"l_{name}"] = loss
            out[f"distance_{name}"], out[f"residual_{name}"] = gaps(source, target, predicted.detach())
        return {"loss": total, **out}

    @torch.no_grad()
    def measure(self, clips: torch.Tensor) -> dict[str, tuple[float, float]]:
        """Relation -> (its latent distance, the distance its transformer leaves) on `clips` (B, 2 T, 17, 3) of
        poses the transformers never saw: the paper's check that a transformer ends well below its relation."""
        return {name: tuple(float(g) for g in gaps(source, target, self.transformer(name)(source))) for name, (source, target) in self.related_latents(clips).items()}


def gaps(source: torch.Tensor, target: torch.Tensor, predicted: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean latent distance a relation spans (source to target), and what a prediction of it leaves."""
    return torch.linalg.vector_norm(target - source, dim=-1).mean(), torch.linalg.vector_norm(target - predicted, dim=-1).mean()


class SourceObjective(nn.Module):
    """Stage 4: G2D on synthetic pairs. Each batch of unpaired 3D poses is seen by new random virtual cameras;
    G2D's latents of the 2D, decoded by the frozen pose decoder, are scored by L1 against the 3D as that
    camera sees it, on the template's bone lengths. Rows marked `labelled` are real pairs (the semi-supervised
    setting): their own normalised 2D and camera-frame 3D are used as they are."""

    def __init__(self, g2d: KeypointEncoder, pose_decoder: PoseDecoder, cameras: VirtualCameras) -> None:
        super().__init__()
        self.g2d, self.cameras = g2d, cameras
        self._decoder = (pose_decoder,)

    def forward(self, poses: torch.Tensor, kp2d: torch.Tensor, labelled: torch.Tensor) -> dict[str, torch.Tensor]:
        decoder = self._decoder[0]
        seen, synthetic = fp32(self.cameras.__call__)(poses)
        seen = torch.where(labelled[:, None, None], poses, seen)
        kp = torch.where(labelled[:, None, None], kp2d, synthetic)
        with frozen(decoder):
            predicted = prior(decoder)(self.g2d(kp))
        loss = l1(predicted, on_template(seen, decoder.lengths))
        return {"loss": loss, "l_source": loss}


class AdaptationObjective(nn.Module):
    """Stage 5: G2D adapted to unlabelled target clips (B, 2 T, 17, 2) by the configured losses, one per step in
    turn (the returned `turn` says which, for its own optimiser). The window X is a clip's first T frames. As in
    the official code, every frame a loss reads, on either side, gets keypoint noise with probability
    `cfg.perturb` (written X~ below; the code's colour change), independently on each side:

    - pose_contrastive: InfoNCE between the pose head's embeddings of each window's first frame and of its
      keypoint-noised copy, gradients through both;
    - motion_contrastive: the same on the motion codes E_m(G(X~)) through the motion head; the noised copies'
      codes carry no gradient back to G2D (the code's `tf.stop_gradient`), only to the head;
    - flip: |T^z(G(x~)) - G(flip(x)~)|, every frame, gradients through both branches (the code stops neither);
    - flip_backward: |T^fb(E_m(G(X~))) - E_m(G(flip_backward(X)~))|, the target detached;
    - slow_backward: |T^sb(E_m(G(anchor~))) - E_m(G(positive~))| on the clip at double speed and its middle
      played backwards, the target detached.

    The motion encoder and transformers never train here."""

    def __init__(self, g2d: KeypointEncoder, motion_encoder: MotionEncoder, relations: RelationObjective, cfg: AdaptConfig) -> None:
        super().__init__()
        self.g2d, self.motion_encoder, self.relations = g2d, motion_encoder, relations
        self.pose_head, self.motion_head = ContrastiveHead(g2d.last.in_features), ContrastiveHead(motion_encoder.out.out_features)
        self.losses, self.temperature, self.perturb = tuple(cfg.losses), cfg.temperature, cfg.perturb
        self.noise = KeypointNoise(cfg.jitter, cfg.scale, cfg.dropout)
        for fixed in (g2d.first, g2d.last, motion_encoder, relations):
            fixed.requires_grad_(False)
        self.register_buffer("step", torch.tensor(0))
        self._lr, self._contrastive_lr = cfg.lr, cfg.contrastive_lr

    def groups(self) -> list[tuple[list[nn.Parameter], float]]:
        """Each loss's parameters (G2D's middle layers, and a contrastive loss's head) and learning rate."""
        heads = {"pose_contrastive": self.pose_head, "motion_contrastive": self.motion_head}
        middle = list(self.g2d.middle.parameters())
        return [(middle + list(heads[name].parameters()), self._contrastive_lr) if name in heads else (middle, self._lr) for name in self.losses]

    def motion(self, kp: torch.Tensor) -> torch.Tensor:
        """(B, T, 17, 2) windows -> (B, motion) codes E_m(G(X))."""
        return self.motion_encoder(self.g2d(kp))

    def perturbed(self, windows: torch.Tensor) -> torch.Tensor:
        """X~: each frame keypoint-noised with probability `perturb`."""
        return self.noise.some_frames(windows, self.perturb)

    def forward(self, clips: torch.Tensor) -> dict[str, torch.Tensor]:
        turn = int(self.step) % len(self.losses)
        self.step += 1
        name = self.losses[turn]
        loss = getattr(self, f"_{name}")(clips[:, : clips.shape[1] // 2], clips)
        return {"loss": loss, f"l_{name}": loss, "turn": torch.tensor(turn)}

    def _pose_contrastive(self, window: torch.Tensor, clips: torch.Tensor) -> torch.Tensor:
        first, noisy = self.perturbed(window)[:, 0], self.noise(window)[:, 0]
        return fp32(info_nce)(self.pose_head(self.g2d.features(first)), self.pose_head(self.g2d.features(noisy)), self.temperature)

    def _motion_contrastive(self, window: torch.Tensor, clips: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            positives = self.motion(self.noise(window))
        return fp32(info_nce)(self.motion_head(self.motion(self.perturbed(window))), self.motion_head(positives), self.temperature)

    def _flip(self, window: torch.Tensor, clips: torch.Tensor) -> torch.Tensor:
        return l1(self.relations.pose(self.g2d(self.perturbed(window))), self.g2d(self.perturbed(flip(window))))

    def _flip_backward(self, window: torch.Tensor, clips: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.motion(self.perturbed(flip_backward_sequences(window)))
        return l1(self.relations.flip_backward(self.motion(self.perturbed(window))), target)

    def _slow_backward(self, window: torch.Tensor, clips: torch.Tensor) -> torch.Tensor:
        anchor, positive = slow_backward_clips(clips)
        with torch.no_grad():
            target = self.motion(self.perturbed(positive))
        return l1(self.relations.slow_backward(self.motion(self.perturbed(anchor))), target)
