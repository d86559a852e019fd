"""Signed-distance primitives and blends on batches of points ``(N, 3)`` (torch, no autograd needed).

Distances are exact for spheres, capsules, tori and boxes and a close bound for ellipsoids;
the smooth blends may under-estimate distances, which sphere tracing tolerates.
"""

from __future__ import annotations

import torch

__all__ = ["ellipsoid", "sphere", "capsule", "torus", "box", "rounded_rect_ring", "smin", "smax", "vec"]


def vec(*values: float) -> torch.Tensor:
    """A float32 3-vector (primitives take their centres and radii as tensors built once)."""
    return torch.tensor(values, dtype=torch.float32)


def ellipsoid(p: torch.Tensor, centre: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """Approximate distance to an axis-aligned ellipsoid (exact on the surface, a close bound away from it)."""
    q = (p - centre) / radii
    k0 = torch.linalg.vector_norm(q, dim=-1)
    k1 = torch.linalg.vector_norm(q / radii, dim=-1).clamp_min(1e-6)
    return k0 * (k0 - 1.0) / k1


def sphere(p: torch.Tensor, centre: torch.Tensor, radius: float) -> torch.Tensor:
    """Distance to a sphere."""
    return torch.linalg.vector_norm(p - centre, dim=-1) - radius


def capsule(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor, radius: float) -> torch.Tensor:
    """Distance to a capsule (segment ``a``-``b`` swept by a sphere)."""
    pa = p - a
    ba = b - a
    h = ((pa @ ba) / float(ba @ ba)).clamp(0.0, 1.0)
    return torch.linalg.vector_norm(pa - h[:, None] * ba, dim=-1) - radius


def torus(p: torch.Tensor, centre: torch.Tensor, axis: int, major: float, minor: float) -> torch.Tensor:
    """Distance to a torus around the coordinate ``axis`` (0 = x, 1 = y, 2 = z) through ``centre``."""
    q = p - centre
    along = q[:, axis]
    ring = torch.linalg.vector_norm(torch.cat((q[:, :axis], q[:, axis + 1:]), dim=-1), dim=-1) - major
    return torch.sqrt(ring * ring + along * along) - minor


def box(p: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Distance to an axis-aligned box ``[lo, hi]``."""
    centre = (lo + hi) * 0.5
    half = (hi - lo) * 0.5
    q = (p - centre).abs() - half
    outside = torch.linalg.vector_norm(q.clamp_min(0.0), dim=-1)
    inside = q.max(dim=-1).values.clamp_max(0.0)
    return outside + inside


def rounded_rect_ring(
    p: torch.Tensor, centre: torch.Tensor, half_w: float, half_h: float, corner: float, thickness: float
) -> torch.Tensor:
    """Distance to a ring of round wire (radius ``thickness``) along a rounded rectangle in the plane z = centre.z."""
    q = p - centre
    dx = q[:, 0].abs() - (half_w - corner)
    dy = q[:, 1].abs() - (half_h - corner)
    outer = torch.sqrt(dx.clamp_min(0.0) ** 2 + dy.clamp_min(0.0) ** 2) + torch.maximum(dx, dy).clamp_max(0.0)
    in_plane = outer - corner
    return torch.sqrt(in_plane * in_plane + q[:, 2] * q[:, 2]) - thickness


def smin(a: torch.Tensor, b: torch.Tensor, k: float) -> torch.Tensor:
    """Polynomial smooth minimum (union) with blend radius ``k``."""
    h = (k - (a - b).abs()).clamp_min(0.0) / k
    return torch.minimum(a, b) - h * h * (k * 0.25)


def smax(a: torch.Tensor, b: torch.Tensor, k: float) -> torch.Tensor:
    """Polynomial smooth maximum (intersection, or subtraction with ``-b``) with blend radius ``k``."""
    h = (k - (a - b).abs()).clamp_min(0.0) / k
    return torch.maximum(a, b) + h * h * (k * 0.25)
