"""The region-aware encoder: a timm Swin Transformer whose head predicts a pi-GAN code.

The official encoder is Swin-T (official-sem2nerf.md 4.1); any size works (the CPU default model
uses a small one). The head is zero-initialised, so a fresh encoder plus the stored latent
average reproduces the average pi-GAN code exactly. State-dict keys are timm's; the official Swin
v1 layout converts with ``timm.models.swin_transformer.checkpoint_filter_fn``.

Optionally (``region_classes > 0``; deviation, off for the official models) a linear *region head*
adds to the code a map of each class's area, centroid and spread (:func:`region_statistics`).
A small Swin trained for a few thousand CPU steps learns the big parts of a mask (hair, glasses,
head outline) but leaves the small ones (eye openings, an open mouth) at the average: on
SynthFaces its codes followed eye size and mouth opening with a gain near 0, while a linear map
of these statistics predicts them with R^2 0.77 and 0.99 on held-out masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from timm.models.swin_transformer import SwinTransformer

__all__ = ["REGION_STATS_PER_CLASS", "SwinEncoder", "region_statistics"]

REGION_STATS_PER_CLASS = 5  # area fraction, centroid x and y, spread x and y


def region_statistics(maps: torch.Tensor, grid: int = 0) -> torch.Tensor:
    """Per-class shape statistics of ``(B, C, H, W)`` class maps (one-hot or soft): ``(B, 5 C)``, the area
    fractions of the C classes, then their centroids x, then y, then their spreads (standard deviations) in x,
    then in y, in image coordinates from -1 (left/top) to 1 (right/bottom). A class absent from an image has
    centroid and spread 0. With ``grid`` ``G > 0`` each class's coverage of a ``G x G`` grid of cells follows
    (the fraction of each cell it covers, class by class, rows top to bottom): ``(B, (5 + G^2) C)``."""
    if maps.ndim != 4:
        raise ValueError(f"region_statistics expects (B, C, H, W) class maps, got shape {tuple(maps.shape)}")
    maps = maps.float()
    h, w = maps.shape[-2:]
    ys = torch.linspace(-1.0, 1.0, h, device=maps.device).view(1, 1, h, 1)
    xs = torch.linspace(-1.0, 1.0, w, device=maps.device).view(1, 1, 1, w)
    mass = maps.sum((2, 3))
    denom = mass.clamp_min(1e-6)
    cx, cy = (maps * xs).sum((2, 3)) / denom, (maps * ys).sum((2, 3)) / denom
    var_x = (maps * (xs - cx[..., None, None]).pow(2)).sum((2, 3)) / denom
    var_y = (maps * (ys - cy[..., None, None]).pow(2)).sum((2, 3)) / denom
    present = (mass > 0).to(maps.dtype)
    spread_x, spread_y = var_x.clamp_min(0).add(1e-12).sqrt() * present, var_y.clamp_min(0).add(1e-12).sqrt() * present
    stats = torch.cat((mass / (h * w), cx * present, cy * present, spread_x, spread_y), 1)
    if grid < 0 or grid > min(h, w):
        raise ValueError(f"region_statistics: grid must be between 0 and the map side {min(h, w)}, got {grid}")
    if grid:
        stats = torch.cat((stats, torch.nn.functional.adaptive_avg_pool2d(maps, grid).flatten(1)), 1)
    return stats


class SwinEncoder(SwinTransformer):
    """Swin Transformer mapping ``(B, in_chans, img_size, img_size)`` to ``(frequencies, phase_shifts)``.

    Args:
        in_chans: input channels (one-hot classes + contour + distance: 18 for CelebA, 10 for CatMask).
        code_dim: length of each of the two outputs (9 x 256 = 2304 for the official decoder).
        img_size, patch_size, embed_dim, depths, num_heads, window_size, drop_path_rate: timm's Swin arguments.
        region_classes: with ``N > 0``, also a linear region head on :func:`region_statistics` of the first ``N``
            input channels (the one-hot classes; with ``region_grid`` ``G`` also their coverage of a ``G x G`` grid), clamped to the range seen in training (buffers ``region_low`` and
            ``region_high``, unbounded until set) and standardised by the buffers ``region_mean`` and ``region_std``
            (the trainer sets all four before the first step); zero-initialised like the Swin head. Its output is
            clamped per code dimension to its range over the training masks (buffers ``region_out_low`` and
            ``region_out_high``, unbounded until the trainer sets them at export). ``0`` (default, the official
            encoder): no region head, no extra state-dict keys.
    """

    # The clamp ranges, with the values that clamp nothing: a model saved before a range existed loads without it.
    UNBOUNDED_BUFFERS: ClassVar[dict[str, float]] = {
        "region_low": -torch.inf, "region_high": torch.inf, "region_out_low": -torch.inf, "region_out_high": torch.inf,
    }

    def __init__(
        self,
        in_chans: int,
        code_dim: int,
        img_size: int = 224,
        patch_size: int = 4,
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: int = 7,
        drop_path_rate: float = 0.2,
        region_classes: int = 0,
        region_grid: int = 0,
    ) -> None:
        super().__init__(
            img_size=img_size,
            patch_size=patch_size,
            in_chans=in_chans,
            num_classes=2 * code_dim,
            embed_dim=embed_dim,
            depths=tuple(depths),
            num_heads=tuple(num_heads),
            window_size=window_size,
            drop_path_rate=drop_path_rate,
        )
        self.code_dim = code_dim
        torch.nn.init.zeros_(self.head.fc.weight)
        torch.nn.init.zeros_(self.head.fc.bias)
        if not 0 <= region_classes <= in_chans:
            raise ValueError(f"region_classes must be between 0 and in_chans={in_chans}, got {region_classes}")
        self.region_classes = int(region_classes)
        if region_grid < 0 or (region_grid and not self.region_classes) or region_grid > img_size:
            raise ValueError(f"region_grid must be 0, or between 1 and img_size with region_classes > 0, got "
                             f"{region_grid} (region_classes={region_classes}, img_size={img_size})")
        self.region_grid = int(region_grid)
        self.region_head: torch.nn.Linear | None = None
        if self.region_classes:
            width = (REGION_STATS_PER_CLASS + self.region_grid**2) * self.region_classes
            self.region_head = torch.nn.Linear(width, 2 * code_dim)
            torch.nn.init.zeros_(self.region_head.weight)
            torch.nn.init.zeros_(self.region_head.bias)
            self.register_buffer("region_mean", torch.zeros(width))
            self.register_buffer("region_std", torch.ones(width))
            for name, value in self.UNBOUNDED_BUFFERS.items():
                size = 2 * code_dim if name.startswith("region_out") else width
                self.register_buffer(name, torch.full((size,), value))

    def region_features(self, x: torch.Tensor) -> torch.Tensor:
        """The region head's input for encoder input ``x``: :func:`region_statistics` ``(B, 5 N)`` clamped to the
        training range and standardised. The clamp keeps a mask unlike any in training (a lone blob, a missing face
        part) from sending the linear head tens of standard deviations away; on training masks it changes nothing (up to
        float rounding)."""
        if self.region_head is None:
            raise RuntimeError("this encoder has no region head (region_classes=0)")
        return self.standardise_statistics(region_statistics(x[:, : self.region_classes], self.region_grid))

    def standardise_statistics(self, stats: torch.Tensor) -> torch.Tensor:
        """Raw :func:`region_statistics` ``(B, 5 N)`` -> the region head's input: clamped to the training range and
        standardised."""
        stats = torch.clamp(stats.to(self.region_mean), self.region_low, self.region_high)
        return (stats - self.region_mean) / self.region_std

    def region_output(self, features: torch.Tensor) -> torch.Tensor:
        """The region head's code offset ``(B, 2 code_dim)`` for standardised statistics, clamped per code dimension
        to its range over the training masks. Each statistic in its range is not enough: on the default model a mask
        unlike any in training (a lone skin-coloured blob) combines them so that 42 % of the offset's dimensions left
        that range (by up to 1.6 times the ranges' mean width) and the scene filled 84 % of the frame with matter; clamped, 67 %."""
        return torch.clamp(self.region_head(features), self.region_out_low, self.region_out_high)

    def fill_unbounded_buffers(self, state: dict[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
        """``state`` with every clamp range this encoder has but ``state`` lacks set to clamp nothing (a model saved
        before that range existed behaves as it did when it was trained)."""
        if self.region_head is None:
            return state
        missing = {prefix + name: torch.full_like(getattr(self, name), value)
                   for name, value in self.UNBOUNDED_BUFFERS.items() if prefix + name not in state}
        return {**state, **missing} if missing else state

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder input -> raw ``(frequencies, phase_shifts)``, each ``(B, code_dim)``, without the latent average."""
        out = self.forward(x)
        if self.region_head is not None:
            out = out + self.region_output(self.region_features(x)).to(out.dtype)
        return out[:, : self.code_dim], out[:, self.code_dim :]
