"""Losses of both training stages.

The paper's (official-sem2nerf.md 6): patch L2, LPIPS, W-norm, the patch discriminator with the non-saturating GAN
loss and R1 (:class:`PatchAdversary` trains it alongside). This project's (deviations): the L2 with small parts
weighed up (``loss.part``), the silhouette loss, the code regression of the encoder stage (``encoder.latent``) and
the 3D geometry loss of the generator stage (``generator.geometry``).
"""

from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from .config import ConfigError, OptimConfig
from .optim import make_optimizer

__all__ = [
    "PatchAdversary", "PatchDiscriminator", "code_loss", "cut_patch", "d_loss_nonsaturating", "g_loss_nonsaturating",
    "geometry_loss", "load_lpips", "patch_l2", "psnr", "r1_penalty", "silhouette_loss", "w_norm",
]

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"  # torchvision's ImageNet AlexNet, the LPIPS backbone


class PatchDiscriminator(nn.Module):
    """GRAF's patch discriminator (official-sem2nerf.md 6.4), for any power-of-two patch side >= 16.

    Spectral-normalised 4x4 convolutions without bias: ``log2(size) - 2`` stride-2 blocks from
    ``ndf / 2`` channels (doubling, InstanceNorm from the second block, LeakyReLU 0.2), then a 4x4
    convolution to one logit. At ``size=128, ndf=64`` it is the official network (2,795,008 parameters,
    the same ``main.N`` layer indices).
    """

    def __init__(self, size: int = 128, in_channels: int = 3, ndf: int = 64) -> None:
        super().__init__()
        blocks = int(math.log2(size)) - 2
        if 2 ** (blocks + 2) != size or blocks < 2:
            raise ValueError(f"patch size must be a power of two >= 16, got {size}")
        layers: list[nn.Module] = []
        channels = in_channels
        for i in range(blocks):
            out = min(ndf // 2 * 2**i, 512)
            layers.append(spectral_norm(nn.Conv2d(channels, out, 4, 2, 1, bias=False)))
            if i > 0:
                layers.append(nn.InstanceNorm2d(out, affine=False))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            channels = out
        layers.append(spectral_norm(nn.Conv2d(channels, 1, 4, 1, 0, bias=False)))
        self.main = nn.Sequential(*layers)
        self.size = size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, size, size)`` in [-1, 1] -> logits ``(B,)``; other sizes are resized bilinearly first."""
        if images.shape[-1] != self.size or images.shape[-2] != self.size:
            images = F.interpolate(images, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.main(images).flatten(1).mean(1)


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator side: ``BCEWithLogits(D(fake), 1) = softplus(-D(fake))``, batch mean."""
    return F.softplus(-fake_logits).mean()


def d_loss_nonsaturating(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator side: ``softplus(-D(real)) + softplus(D(fake))``, batch means."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor, weight: float = 10.0) -> torch.Tensor:
    """R1 as the official code: ``weight * mean_b sum (d sum D(real) / d real)^2`` (the graph is kept)."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return weight * grad.pow(2).flatten(1).sum(1).mean()


def w_norm(delta_freq: torch.Tensor, delta_phase: torch.Tensor, num_layers: int) -> torch.Tensor:
    """Official W-norm: codes minus the latent average, as ``(B, layers, 2 * hidden)``; batch mean of the Frobenius norm."""
    b = delta_freq.shape[0]
    stacked = torch.cat((delta_freq.reshape(b, num_layers, -1), delta_phase.reshape(b, num_layers, -1)), dim=-1)
    return stacked.flatten(1).norm(dim=1).mean()


def load_lpips(device: torch.device | str = "cpu") -> nn.Module:
    """The LPIPS loss (``lpips`` package, AlexNet, v0.1), frozen; fails fast with instructions when its backbone is missing.

    LPIPS needs torchvision's ImageNet AlexNet weights, which it downloads on first use. Offline they
    must already be in ``$TORCH_HOME/hub/checkpoints``; otherwise this raises :class:`ConfigError` at
    start-up, before any training step.
    """
    target = os.path.join(torch.hub.get_dir(), "checkpoints", ALEXNET_FILE)
    try:
        import lpips
    except ImportError as err:  # pragma: no cover - lpips is a requirement
        raise ConfigError("the lpips package is not installed (pip install lpips), or set loss.lpips=0") from err
    try:
        model = lpips.LPIPS(net="alex", verbose=False)
    except Exception as err:  # URLError, HTTPError, OSError, RuntimeError from a partial download
        raise ConfigError(
            f"LPIPS (loss.lpips > 0) needs torchvision's ImageNet AlexNet weights and could not get them ({err.__class__.__name__}: "
            f"{err}). Download {ALEXNET_FILE} from https://download.pytorch.org/models/{ALEXNET_FILE} and place it at {target} "
            "(or set TORCH_HOME), or train without LPIPS: loss.lpips=0"
        ) from err
    model.requires_grad_(False)
    return model.eval().to(device)


class PatchAdversary:
    """The patch GAN of a stage: its discriminator and optimiser (both checkpointed with the run), the generator's
    loss on fake patches and the discriminator's update (non-saturating loss plus R1), all times ``weight``."""

    def __init__(self, accelerator, size: int, weight: float, r1: float, lr: float, optim: OptimConfig) -> None:
        self.accelerator, self.weight, self.r1 = accelerator, weight, r1
        self.disc = PatchDiscriminator(size).to(accelerator.device)
        self.optimizer = accelerator.prepare(make_optimizer(self.disc.parameters(), lr, optim))
        accelerator.register_for_checkpointing(self.disc)

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        """``weight`` x the non-saturating loss of ``fake`` patches, through a discriminator that takes no gradient."""
        self.disc.requires_grad_(False)
        return self.weight * g_loss_nonsaturating(self.disc(fake))

    def update(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """One discriminator step on ``real`` and (detached) ``fake`` patches; returns the weighted ``d_gan`` and ``r1``.
        Its gradients are averaged over processes by hand (the discriminator is not wrapped in DDP)."""
        accelerator = self.accelerator
        self.disc.requires_grad_(True)
        real_in = real.detach().requires_grad_(True)
        real_logits = self.disc(real_in)
        fake_logits = self.disc(fake.detach())
        d_gan = d_loss_nonsaturating(real_logits, fake_logits)
        r1 = r1_penalty(real_logits, real_in, self.r1) if self.r1 > 0 else torch.zeros((), device=accelerator.device)
        accelerator.backward((d_gan + r1) * self.weight)
        if accelerator.sync_gradients and accelerator.num_processes > 1:
            for p in self.disc.parameters():
                if p.grad is not None:
                    p.grad.copy_(accelerator.reduce(p.grad, reduction="mean"))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return {"d_gan": d_gan.detach() * self.weight, "r1": r1.detach() * self.weight}


def cut_patch(image: torch.Tensor, pattern: torch.Tensor) -> torch.Tensor:
    """The ground-truth patch at a sampling pattern: bilinear, ``align_corners=True`` (the rays' own convention)."""
    return F.grid_sample(image, pattern.to(image.dtype), mode="bilinear", align_corners=True)


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR of tensors in [-1, 1] (peak-to-peak 2)."""
    mse = (a - b).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return 10.0 * torch.log10(4.0 / mse)


def patch_l2(fake: torch.Tensor, real: torch.Tensor, parts: torch.Tensor | None, pattern: torch.Tensor,
             part_weight: float) -> torch.Tensor:
    """The patch L2 (``loss.l2``, either stage): the mean squared error, or with ``part_weight`` > 0 the mean in which
    pixels of ``loss.part.labels`` (the full-frame fraction ``parts``, cut with ``pattern``) weigh ``1 + part_weight``
    (``loss.part.weight``)."""
    if part_weight <= 0:
        return F.mse_loss(fake, real)
    weight = 1.0 + part_weight * cut_patch(parts.to(fake.device), pattern)
    return ((fake - real).pow(2) * weight).mean() / weight.mean()


def silhouette_loss(opacity: torch.Tensor, foreground: torch.Tensor, pattern: torch.Tensor) -> torch.Tensor:
    """Mean squared error of rendered patch opacity ``(B, R, R)`` against the masks' full-frame foreground fraction
    cut with the same ``pattern`` (``loss.silhouette``, either stage)."""
    target = cut_patch(foreground.to(opacity.device), pattern)[:, 0]
    return F.mse_loss(opacity.float(), target)


def code_loss(code: torch.Tensor, target: torch.Tensor, scale: torch.Tensor, feature_map: torch.Tensor | None = None,
              feature_weight: float = 0.0) -> torch.Tensor:
    """``encoder.latent`` before its weight: mean squared error of codes ``(B, D)`` against ``target``, each dimension
    divided by ``scale`` ``(D,)``; with ``feature_map`` (``(D, K)``, see
    :meth:`~sem2nerf.training.readout.CodeReadout.feature_error_map`) plus ``feature_weight`` x the mean squared
    error of the read-out features that the code error amounts to (``encoder.latent.params``)."""
    error = (code.float() - target) / scale
    loss = error.pow(2).mean()
    if feature_map is not None:
        loss = loss + feature_weight * (error @ feature_map).pow(2).mean()
    return loss


def geometry_loss(at_points: torch.Tensor, rgb: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """3D supervision (``generator.geometry``): squared density error in units of the targets' opaque density, plus squared
    colour error weighted by the target's opacity (the colour of empty space is never seen)."""
    from ..synthfaces.targets import SIGMA_MAX

    density = (at_points[..., 3] - sigma).div(SIGMA_MAX).pow(2).mean()
    weight = sigma / SIGMA_MAX
    colour = ((at_points[..., :3] - rgb).pow(2).sum(-1) * weight).sum() / weight.sum().clamp_min(1e-6) / 3
    return density + colour
