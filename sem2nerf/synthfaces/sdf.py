"""Signed-distance primitives and blends on batches of points (torch, no autograd needed).

Points are stored *by coordinate*: a ``(3, N)`` tensor whose rows are x, y and z. On a CPU this
layout makes every primitive a handful of contiguous element-wise operations (several times faster
than reductions over a trailing axis of length 3). Centres and radii are ``(3, 1)`` tensors.

Distances are exact for spheres, capsules, tori and boxes and a close bound for ellipsoids;
the smooth blends may under-estimate distances, which sphere tracing tolerates.
"""

from __future__ import annotations

import torch

__all__ = ["box", "capsule", "ellipsoid", "norm", "rounded_rect_ring", "smax", "smin", "sphere", "torus", "vec"]


def vec(*values: float) -> torch.Tensor:
    """A float32 ``(3, 1)`` column (primitives take their centres and radii as columns built once)."""
    return torch.tensor(values, dtype=torch.float32).reshape(3, 1)


def norm(q: torch.Tensor) -> torch.Tensor:
    """Euclidean length of each column of ``q`` ``(3, N)``."""
    return (q * q).sum(0).sqrt()


def ellipsoid(p: torch.Tensor, centre: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """Approximate distance to an axis-aligned ellipsoid (exact on the surface, a close bound away from it)."""
    q = (p - centre) / radii
    k0 = norm(q)
    k1 = norm(q / radii).clamp_min(1e-6)
    return k0 * (k0 - 1.0) / k1


def sphere(p: torch.Tensor, centre: torch.Tensor, radius: float) -> torch.Tensor:
    """Distance to a sphere."""
    return norm(p - centre) - radius


def capsule(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor, radius: float) -> torch.Tensor:
    """Distance to a capsule (segment ``a``-``b`` swept by a sphere)."""
    pa = p - a
    ba = b - a
    h = ((pa * ba).sum(0) / float((ba * ba).sum())).clamp(0.0, 1.0)
    return norm(pa - h * ba) - radius


def torus(p: torch.Tensor, centre: torch.Tensor, axis: int, major: float, minor: float) -> torch.Tensor:
    """Distance to a torus around the coordinate ``axis`` (0 = x, 1 = y, 2 = z) through ``centre``."""
    q = p - centre
    u, w = [q[i] for i in range(3) if i != axis]
    ring = (u * u + w * w).sqrt() - major
    return (ring * ring + q[axis] * q[axis]).sqrt() - minor


def box(p: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Distance to an axis-aligned box ``[lo, hi]``."""
    q = (p - (lo + hi) * 0.5).abs() - (hi - lo) * 0.5
    return norm(q.clamp_min(0.0)) + q.max(dim=0).values.clamp_max(0.0)


def rounded_rect_ring(
    p: torch.Tensor, centre: torch.Tensor, half_w: float, half_h: float, corner: float, thickness: float
) -> torch.Tensor:
    """Distance to a ring of round wire (radius ``thickness``) along a rounded rectangle in the plane z = centre.z."""
    q = p - centre
    dx = q[0].abs() - (half_w - corner)
    dy = q[1].abs() - (half_h - corner)
    outer = (dx.clamp_min(0.0) ** 2 + dy.clamp_min(0.0) ** 2).sqrt() + torch.maximum(dx, dy).clamp_max(0.0)
    in_plane = outer - corner
    return (in_plane * in_plane + q[2] * q[2]).sqrt() - thickness


def smin(a: torch.Tensor, b: torch.Tensor, k: float) -> torch.Tensor:
    """Polynomial smooth minimum (union) with blend radius ``k``."""
    h = (k - (a - b).abs()).clamp_min(0.0) / k
    return torch.minimum(a, b) - h * h * (k * 0.25)


def smax(a: torch.Tensor, b: torch.Tensor, k: float) -> torch.Tensor:
    """Polynomial smooth maximum (intersection, or subtraction with ``-b``) with blend radius ``k``."""
    h = (k - (a - b).abs()).clamp_min(0.0) / k
    return torch.maximum(a, b) + h * h * (k * 0.25)
