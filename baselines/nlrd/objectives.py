"""NLRD-2D stage objectives, each a module whose forward returns its losses (as the shared `fit` expects)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from baselines.nlrd.config import PriorConfig
from baselines.nlrd.model import BOUND, LATENT, PoseDecoder, PoseDiscriminator, PoseEncoder
from baselines.nlrd.prior import TURNS, Schedule, augment, on_template


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
