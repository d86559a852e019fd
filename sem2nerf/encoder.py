"""The region-aware encoder: a timm Swin Transformer whose head predicts a pi-GAN code.

The official encoder is Swin-T (official-sem2nerf.md 4.1); any size works (the CPU default model
uses a small one). The head is zero-initialised, so a fresh encoder plus the stored latent
average reproduces the average pi-GAN code exactly. State-dict keys are timm's; the official Swin
v1 layout converts with ``timm.models.swin_transformer.checkpoint_filter_fn``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from timm.models.swin_transformer import SwinTransformer

__all__ = ["SwinEncoder"]


class SwinEncoder(SwinTransformer):
    """Swin Transformer mapping ``(B, in_chans, img_size, img_size)`` to ``(frequencies, phase_shifts)``.

    Args:
        in_chans: input channels (one-hot classes + contour + distance: 18 for CelebA, 10 for CatMask).
        code_dim: length of each of the two outputs (9 x 256 = 2304 for the official decoder).
        img_size, patch_size, embed_dim, depths, num_heads, window_size, drop_path_rate: timm's Swin arguments.
    """

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

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder input -> raw ``(frequencies, phase_shifts)``, each ``(B, code_dim)``, without the latent average."""
        out = self.forward(x)
        return out[:, : self.code_dim], out[:, self.code_dim :]
