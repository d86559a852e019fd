"""The pi-GAN decoder: a FiLM-conditioned SIREN radiance field and its mapping network.

Architecture (official-sem2nerf.md 1): points are scaled by ``2 / box_size`` and pass through
``num_layers`` FiLM-sine layers ``h = sin(gamma * (W h + b) + beta)`` with ``gamma = 15 f + 30``;
density is a linear read-out of the last trunk feature; colour is ``sigmoid(W_c sin(gamma_8 *
(W_s [d; h] + b_s) + beta_8) + b_c)`` with the view direction first. A latent code is a pair
``(frequencies, phase_shifts)`` of shape ``(B, (num_layers + 1) * hidden_dim)`` each, in the raw
space of the mapping network (before ``15 f + 30``).

Two evaluation paths compute the same field:

* :meth:`PiGANDecoder.forward` - the textbook formulation, used for training and as a reference;
* :meth:`PiGANDecoder.modulate` -> :class:`ModulatedField` - each code's FiLM scale and shift (and
  the input scaling, and a locked view direction) folded into per-code weights once, so each layer
  is one batched matrix multiply plus a sine. Renders of many views of one code use this.

Without gradients, :class:`ModulatedField` evaluates points in blocks of ``block_points``
(default :data:`BLOCK_POINTS`) so that a block's activations stay in the CPU cache through all
layers, and applies the sines in place. This changes no arithmetic: it is the same field, faster.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .camera import LOCKED_VIEW_DIRECTION

__all__ = ["BLOCK_POINTS", "MappingNetwork", "ModulatedField", "PiGANDecoder", "official_decoder_key_map"]

FREQ_SCALE, FREQ_SHIFT = 15.0, 30.0
# Points per block of a no-grad field evaluation: 8192 x 256 float32 activations (8 MiB) stay in the
# caches of these CPUs through every layer; blocks of 2k-16k measure within a few percent of each other.
BLOCK_POINTS = 8192


class MappingNetwork(nn.Module):
    """z -> (frequencies, phase_shifts): ``depth`` LeakyReLU(0.2) hidden layers and a linear output."""

    def __init__(self, z_dim: int, hidden_dim: int, code_dim: int, depth: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = z_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden_dim), nn.LeakyReLU(0.2, inplace=True)]
            width = hidden_dim
        layers.append(nn.Linear(width, 2 * code_dim))
        self.network = nn.Sequential(*layers)
        self.code_dim = code_dim
        linears = [m for m in self.network if isinstance(m, nn.Linear)]
        for lin in linears:  # pi-GAN's init (official-sem2nerf.md 1.4)
            nn.init.kaiming_normal_(lin.weight, a=0.2, mode="fan_in", nonlinearity="leaky_relu")
        with torch.no_grad():
            linears[-1].weight.mul_(0.25)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.network(z)
        return out[..., : self.code_dim], out[..., self.code_dim :]


class ModulatedField:
    """A radiance field for fixed latent codes, with the FiLM modulation folded into the weights.

    Call it with points ``(B, P, 3)`` and view directions ``(B, P, 3)`` (or ``None`` when the field
    was built with a locked view direction); it returns ``(B, P, 4)`` = ``[r, g, b, sigma]``.
    """

    def __init__(
        self,
        weights: list[torch.Tensor],
        biases: list[torch.Tensor],
        density: tuple[torch.Tensor, torch.Tensor],
        color_dir_weight: torch.Tensor | None,
        color_weight: torch.Tensor,
        color_bias: torch.Tensor,
        color_out: tuple[torch.Tensor, torch.Tensor],
        block_points: int = BLOCK_POINTS,
    ) -> None:
        self.weights = weights  # per trunk layer: (B, in, out), already scaled by gamma
        self.biases = biases  # per trunk layer: (B, 1, out) = gamma * b + beta
        self.density = density
        self.color_dir_weight = color_dir_weight  # (B, 3, hidden) scaled by gamma, or None if locked
        self.color_weight = color_weight  # (B, hidden, hidden)
        self.color_bias = color_bias  # (B, 1, hidden)
        self.color_out = color_out
        self.block_points = block_points  # points per block without gradients (cache-sized)

    @property
    def view_locked(self) -> bool:
        return self.color_dir_weight is None

    def __call__(self, points: torch.Tensor, directions: torch.Tensor | None = None) -> torch.Tensor:
        if self.color_dir_weight is not None and directions is None:
            raise ValueError("this field was built without a locked view direction: pass directions")
        if torch.is_grad_enabled():
            return self._evaluate(points, directions)
        out = points.new_empty(*points.shape[:-1], 4)
        step = max(1, self.block_points)
        for start in range(0, points.shape[1], step):
            sl = slice(start, start + step)
            self._evaluate(points[:, sl], None if directions is None else directions[:, sl], out[:, sl])
        return out

    def _evaluate(self, points: torch.Tensor, directions: torch.Tensor | None, out: torch.Tensor | None = None) -> torch.Tensor:
        """The field at ``points``; with ``out`` (no-grad only) written into it, sines applied in place."""
        inplace = out is not None
        h = points
        for w, b in zip(self.weights, self.biases):
            h = torch.baddbmm(b, h, w)
            h = h.sin_() if inplace else torch.sin(h)
        sigma = F.linear(h, *self.density)
        c = torch.baddbmm(self.color_bias, h, self.color_weight)
        if self.color_dir_weight is not None:
            c = c.baddbmm_(directions, self.color_dir_weight) if inplace else c + torch.bmm(directions, self.color_dir_weight)
        rgb = F.linear(c.sin_() if inplace else torch.sin(c), *self.color_out)
        if not inplace:
            return torch.cat((torch.sigmoid(rgb), sigma), dim=-1)
        out[..., :3].copy_(rgb.sigmoid_())
        out[..., 3:].copy_(sigma)
        return out


class PiGANDecoder(nn.Module):
    """pi-GAN's ``SPATIALSIRENBASELINE`` with a configurable size (defaults: the official decoder).

    Args:
        hidden_dim: width of every FiLM layer (official 256).
        num_layers: FiLM layers of the density trunk (official 8); the colour layer is one more.
        z_dim: size of the mapping network's input noise (official 256).
        mapping_hidden_dim: width of the mapping network (official 256).
        mapping_depth: hidden layers of the mapping network (official 3).
        box_size: side of the box that the input coordinates are scaled from to [-1, 1] (official 0.24).
    """

    def __init__(
        self,
        hidden_dim: int = 256,
        num_layers: int = 8,
        z_dim: int = 256,
        mapping_hidden_dim: int = 256,
        mapping_depth: int = 3,
        box_size: float = 0.24,
    ) -> None:
        super().__init__()
        self.hidden_dim, self.num_layers, self.z_dim, self.box_size = hidden_dim, num_layers, z_dim, box_size
        self.trunk = nn.ModuleList([nn.Linear(3 if i == 0 else hidden_dim, hidden_dim) for i in range(num_layers)])
        self.density = nn.Linear(hidden_dim, 1)
        self.color_film = nn.Linear(hidden_dim + 3, hidden_dim)
        self.color_out = nn.Linear(hidden_dim, 3)
        self.mapping = MappingNetwork(z_dim, mapping_hidden_dim, self.code_dim, mapping_depth)
        self._init_siren()

    @property
    def num_film_layers(self) -> int:
        """FiLM layers that take a slice of the code: the trunk plus the colour layer."""
        return self.num_layers + 1

    @property
    def code_dim(self) -> int:
        """Length of the frequency (and of the phase-shift) vector of one code."""
        return self.num_film_layers * self.hidden_dim

    def _init_siren(self) -> None:
        # pi-GAN's frequency_init(25) everywhere, then the first layer's U(-1/fan_in, 1/fan_in).
        with torch.no_grad():
            for lin in [*self.trunk[1:], self.density, self.color_film, self.color_out]:
                bound = math.sqrt(6.0 / lin.in_features) / 25.0
                lin.weight.uniform_(-bound, bound)
            first = self.trunk[0]
            first.weight.uniform_(-1.0 / first.in_features, 1.0 / first.in_features)

    def _split(self, codes: torch.Tensor) -> torch.Tensor:
        return codes.reshape(codes.shape[0], self.num_film_layers, self.hidden_dim)

    def forward(
        self, points: torch.Tensor, frequencies: torch.Tensor, phase_shifts: torch.Tensor, directions: torch.Tensor
    ) -> torch.Tensor:
        """Evaluate the field: points and directions ``(B, P, 3)``, codes ``(B, code_dim)`` -> ``(B, P, 4)``."""
        gamma = self._split(frequencies) * FREQ_SCALE + FREQ_SHIFT
        beta = self._split(phase_shifts)
        h = points * (2.0 / self.box_size)
        for i, layer in enumerate(self.trunk):
            h = torch.sin(gamma[:, i : i + 1] * layer(h) + beta[:, i : i + 1])
        sigma = self.density(h)
        c = torch.sin(gamma[:, -1:] * self.color_film(torch.cat((directions, h), dim=-1)) + beta[:, -1:])
        rgb = torch.sigmoid(self.color_out(c))
        return torch.cat((rgb, sigma), dim=-1)

    def modulate(
        self, frequencies: torch.Tensor, phase_shifts: torch.Tensor, locked_direction: tuple[float, float, float] | None = LOCKED_VIEW_DIRECTION
    ) -> ModulatedField:
        """Fold codes ``(B, code_dim)`` into a :class:`ModulatedField` (differentiable w.r.t. the codes).

        With ``locked_direction`` (the default, as at official inference) the colour layer's
        direction input is a constant and is folded into its bias; pass ``None`` to keep it free.
        """
        gamma = self._split(frequencies) * FREQ_SCALE + FREQ_SHIFT
        beta = self._split(phase_shifts)
        weights, biases = [], []
        for i, layer in enumerate(self.trunk):
            w = layer.weight.t()  # (in, out)
            if i == 0:
                w = w * (2.0 / self.box_size)
            weights.append(w[None] * gamma[:, None, i])
            biases.append((layer.bias * gamma[:, i] + beta[:, i])[:, None])
        w_dir, w_h = self.color_film.weight[:, :3].t(), self.color_film.weight[:, 3:].t()
        g8, b8 = gamma[:, -1], beta[:, -1]
        color_bias = self.color_film.bias
        dir_weight = None
        if locked_direction is not None:
            d = torch.tensor(locked_direction, dtype=w_dir.dtype, device=w_dir.device)
            color_bias = color_bias + d @ w_dir
        else:
            dir_weight = w_dir[None] * g8[:, None]
        return ModulatedField(
            weights,
            biases,
            (self.density.weight, self.density.bias),
            dir_weight,
            w_h[None] * g8[:, None],
            (color_bias * g8 + b8)[:, None],
            (self.color_out.weight, self.color_out.bias),
        )

    @torch.no_grad()
    def average_code(self, num_samples: int = 10000, seed: int = 0, batch: int = 2500) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean (frequencies, phase_shifts) ``(1, code_dim)`` of the mapping network over a seeded N(0, I) sample."""
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(num_samples, self.z_dim, generator=gen)
        device = self.density.weight.device
        sums = [torch.zeros(self.code_dim, dtype=torch.float64), torch.zeros(self.code_dim, dtype=torch.float64)]
        for chunk in z.split(batch):
            freq, phase = self.mapping(chunk.to(device))
            sums[0] += freq.double().sum(0).cpu()
            sums[1] += phase.double().sum(0).cpu()
        return tuple((s / num_samples).float()[None].to(device) for s in sums)  # type: ignore[return-value]


def official_decoder_key_map(num_layers: int = 8, mapping_depth: int = 3) -> dict[str, str]:
    """Official ``ImplicitGenerator3d`` state-dict key -> :class:`PiGANDecoder` key (section 1.7)."""
    mapping: dict[str, str] = {}
    for i in range(num_layers):
        for p in ("weight", "bias"):
            mapping[f"siren.network.{i}.layer.{p}"] = f"trunk.{i}.{p}"
    for p in ("weight", "bias"):
        mapping[f"siren.final_layer.{p}"] = f"density.{p}"
        mapping[f"siren.color_layer_sine.layer.{p}"] = f"color_film.{p}"
        mapping[f"siren.color_layer_linear.0.{p}"] = f"color_out.{p}"
        for j in range(mapping_depth + 1):
            mapping[f"siren.mapping_network.network.{2 * j}.{p}"] = f"mapping.network.{2 * j}.{p}"
    return mapping
