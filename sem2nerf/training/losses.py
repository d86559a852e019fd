"""Losses of both training stages: patch discriminator, non-saturating GAN, R1, W-norm and LPIPS (official-sem2nerf.md 6)."""

from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from .config import ConfigError

__all__ = ["PatchDiscriminator", "d_loss_nonsaturating", "g_loss_nonsaturating", "load_lpips", "r1_penalty", "w_norm"]

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
