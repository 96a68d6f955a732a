"""NLRD-2D stage objectives, each a module whose forward returns its losses (as the shared `fit` expects)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from baselines.nlrd.config import PriorConfig
from baselines.nlrd.model import (
    BOUND,
    LATENT,
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
            l_rec = (self.decoder(self.encoder(real)) - real).abs().mean()
        zero = l_rec.new_zeros(())
        out = {"l_rec": l_rec, "l_cycle": zero, "l_adv": zero, "l_disc": zero, "real_acc": zero, "fake_acc": zero}
        if turn == "reconstruct":
            out["loss"] = l_rec
        else:
            z = (torch.rand(len(poses), LATENT, device=poses.device) * 2 - 1) * BOUND
            if turn == "discriminator":
                with torch.no_grad():
                    fake = self.decoder(z)
                d_real, d_fake = self.discriminator(real), self.discriminator(fake)
                out["l_disc"] = out["loss"] = (d_real - 1).abs().mean() + (d_fake + 1).abs().mean()
            else:
                fake = self.decoder(z)
                out["l_cycle"] = (self.encoder(fake) - z).abs().mean()
                with frozen(self.discriminator):
                    d_fake = self.discriminator(fake)
                with torch.no_grad():
                    d_real = self.discriminator(real)
                out["l_adv"] = (d_fake - 1).abs().mean()
                out["loss"] = self.cfg.reconstruction_weight * (l_rec + out["l_cycle"]) + self.cfg.adversarial_weight * out["l_adv"]
            out["real_acc"], out["fake_acc"] = (d_real > 0).float().mean(), (d_fake < 0).float().mean()
        following = self.schedule.next(turn, float(l_rec.detach()), float(out["real_acc"]), float(out["fake_acc"]))
        self.turn.fill_(TURNS.index(following))
        out["turn"] = torch.tensor(float(TURNS.index(turn)), device=poses.device)
        return out


def encode_poses(encoder: PoseEncoder, poses: torch.Tensor) -> torch.Tensor:
    """(B, T, 17, 3) -> (B, T, 32) latents, frame by frame."""
    return encoder(poses.flatten(0, 1)).view(*poses.shape[:2], LATENT)


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
            target = pose_decoder(z.flatten(0, 1))
        with frozen(pose_decoder):
            recon = pose_decoder(self.decoder(self.encoder(z)).flatten(0, 1))
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
                "flip": (pose_encoder(first), pose_encoder(flip(first))),
                "flip_backward": (self.motion(window), self.motion(flip_backward_sequences(window))),
                "slow_backward": (self.motion(anchor), self.motion(positive)),
            }

    def motion(self, poses: torch.Tensor) -> torch.Tensor:
        """(B, T, 17, 3) -> (B, motion) through the frozen pose and motion encoders."""
        pose_encoder, motion_encoder = self._encoders
        return motion_encoder(encode_poses(pose_encoder, poses))

    def forward(self, clips: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        total = clips.new_zeros(())
        for name, (source, target) in self.related_latents(clips).items():
            predicted = getattr(self, "pose" if name == "flip" else name)(source)
            loss = nn.functional.mse_loss(predicted, target)
            total = total + loss
            out[f"l_{name}"] = loss
            out[f"distance_{name}"] = torch.linalg.vector_norm(target - source, dim=-1).mean()
            out[f"residual_{name}"] = torch.linalg.vector_norm(target - predicted.detach(), dim=-1).mean()
        return {"loss": total, **out}


class SourceObjective(nn.Module):
    """Stage 4: G2D on synthetic pairs. Each batch of unpaired 3D poses is seen by new random virtual cameras;
    G2D's latents of the 2D, decoded by the frozen pose decoder, are scored by L1 against the 3D as that
    camera sees it, on the template's bone lengths."""

    def __init__(self, g2d: KeypointEncoder, pose_decoder: PoseDecoder, cameras: VirtualCameras) -> None:
        super().__init__()
        self.g2d, self.cameras = g2d, cameras
        self._decoder = (pose_decoder,)

    def forward(self, poses: torch.Tensor) -> dict[str, torch.Tensor]:
        decoder = self._decoder[0]
        seen, kp2d = self.cameras(poses)
        with frozen(decoder):
            predicted = decoder(self.g2d(kp2d))
        loss = (predicted - on_template(seen, decoder.lengths)).abs().mean()
        return {"loss": loss, "l_source": loss}
