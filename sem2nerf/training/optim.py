"""Optimisers and learning-rate schedules of the training script.

``ranger`` is a faithful Ranger (official ``training/ranger.py`` 20.4.11, official-sem2nerf.md 6.6):
RAdam (N_sma threshold 5) with gradient centralisation of every gradient with more than one
dimension, wrapped in timm's ``Lookahead`` (alpha 0.5, k 6). It is written from the algorithm, using
PyTorch's RAdam update, whose rectification threshold (rho_t > 5) and un-rectified SGD-momentum
fallback are the same as Ranger's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from .config import OptimConfig

__all__ = ["CentralizedRAdam", "learning_rate", "make_optimizer", "set_learning_rate"]


class CentralizedRAdam(torch.optim.RAdam):
    """RAdam whose gradients are centralised first: ``g - mean(g over all dims but the first)`` for ``g.dim() > 1``.

    It also records each parameter's value before its first update as Lookahead's slow weights,
    as Ranger does (timm's ``Lookahead`` alone would start them from the weights after k steps).
    """

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        initial = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.dim() > 1:
                    p.grad.sub_(p.grad.mean(dim=tuple(range(1, p.grad.dim())), keepdim=True))
                if not self.state[p]:
                    initial[p] = p.detach().clone()
        loss = super().step(closure)
        for p, value in initial.items():
            self.state[p]["lookahead_slow_buff"] = value
        return loss


def make_optimizer(params: Iterable, lr: float, config: OptimConfig) -> torch.optim.Optimizer:
    """``ranger`` (default), ``adam`` or ``adamw`` (betas from the config; AdamW weight decay 0.05 as official)."""
    params = list(params)
    betas = tuple(config.betas)
    if config.name == "ranger":
        from timm.optim import Lookahead

        inner = CentralizedRAdam(params, lr=lr, betas=betas, eps=1e-5, weight_decay=config.weight_decay)
        return Lookahead(inner, alpha=0.5, k=6)
    if config.name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=1e-8, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=lr, betas=betas, eps=1e-8, weight_decay=config.weight_decay or 0.05)


def learning_rate(base: float, step: int, max_steps: int, scheduler: str) -> float:
    """The learning rate at ``step``: constant (``none``, official default) or cosine to ``base / 100``."""
    if scheduler == "none":
        return base
    t = min(max(step, 0), max_steps) / max(1, max_steps)
    low = base / 100.0
    return low + 0.5 * (base - low) * (1.0 + math.cos(math.pi * t))


def set_learning_rate(optimizer: torch.optim.Optimizer, lrs: list[float]) -> None:
    """Set each parameter group's learning rate (a pure function of the step, so resuming needs no scheduler state)."""
    for group, lr in zip(optimizer.param_groups, lrs):
        group["lr"] = lr
