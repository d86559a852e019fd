"""Cameras: public angles, poses on the unit sphere, ray directions, region-aware patch patterns.

Conventions (official-sem2nerf.md 2.1, 2.2, 2.8, 3.2):

* Public angles are degrees in the CelebAMask-HQ pose-annotation convention: ``(yaw, pitch) = (0, 0)``
  is frontal. The renderer uses ``theta = 90deg - yaw`` (azimuth) and ``phi = 90deg + pitch``
  (polar angle from world +y).
* The camera sits at ``r * (sin(phi) cos(theta), cos(phi), sin(phi) sin(theta))`` and looks at the
  origin with world up +y. Its rotation has columns ``[right, up, backward]``: it looks down its
  local -z (OpenGL), so the frontal camera is at (0, 0, 1) with the identity rotation.
* Ray directions span the *centres* of the edge pixels: ``x = linspace(-1, 1, W)``,
  ``y = linspace(1, -1, H)`` (row 0 at the top), ``z = -1 / tan(fov / 2)``; rays are row-major.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = [
    "LOCKED_VIEW_DIRECTION",
    "PHI_EPS",
    "PatchSchedule",
    "angles_to_renderer",
    "camera_origin",
    "camera_to_world",
    "look_at_rotation",
    "patch_min_scale",
    "patch_ray_directions",
    "project_points",
    "ray_directions",
    "renderer_to_angles",
    "sample_patch_pattern",
]

PHI_EPS = 1e-5  # the polar angle is clamped to [eps, pi - eps] so that the look-at frame is defined
# The view direction fed to the colour branch when view dependence is locked (official-sem2nerf.md 1.6).
LOCKED_VIEW_DIRECTION = (0.0, 0.0, -1.0)


def angles_to_renderer(yaw_deg, pitch_deg) -> tuple[torch.Tensor, torch.Tensor]:
    """Public (yaw, pitch) in degrees -> renderer (theta, phi) in radians (float32 tensors)."""
    yaw = torch.as_tensor(yaw_deg, dtype=torch.float32)
    pitch = torch.as_tensor(pitch_deg, dtype=torch.float32)
    return torch.deg2rad(90.0 - yaw), torch.deg2rad(90.0 + pitch)


def renderer_to_angles(theta, phi) -> tuple[torch.Tensor, torch.Tensor]:
    """Renderer (theta, phi) in radians -> public (yaw, pitch) in degrees."""
    theta = torch.as_tensor(theta, dtype=torch.float32)
    phi = torch.as_tensor(phi, dtype=torch.float32)
    return 90.0 - torch.rad2deg(theta), torch.rad2deg(phi) - 90.0


def camera_origin(theta: torch.Tensor, phi: torch.Tensor, radius: float = 1.0) -> torch.Tensor:
    """Camera centre(s) ``(..., 3)`` for renderer angles (radians)."""
    theta = torch.as_tensor(theta, dtype=torch.float32)
    phi = torch.as_tensor(phi, dtype=torch.float32).clamp(PHI_EPS, math.pi - PHI_EPS)
    return radius * torch.stack(
        (torch.sin(phi) * torch.cos(theta), torch.cos(phi), torch.sin(phi) * torch.sin(theta)), dim=-1
    )


def look_at_rotation(origin: torch.Tensor) -> torch.Tensor:
    """Rotation(s) ``(..., 3, 3)`` of cameras at ``origin`` looking at the world origin, up = +y."""
    forward = F.normalize(-origin, dim=-1)
    up = torch.zeros_like(forward)
    up[..., 1] = 1.0
    left = F.normalize(torch.cross(up.expand_as(forward), forward, dim=-1), dim=-1)
    true_up = F.normalize(torch.cross(forward, left, dim=-1), dim=-1)
    return torch.stack((-left, true_up, -forward), dim=-1)


def camera_to_world(theta, phi, radius: float = 1.0) -> torch.Tensor:
    """4x4 camera-to-world matrices ``(..., 4, 4)`` (rotation, then translation to the camera centre)."""
    origin = camera_origin(theta, phi, radius)
    rot = look_at_rotation(origin)
    mat = torch.zeros(*origin.shape[:-1], 4, 4, dtype=origin.dtype)
    mat[..., :3, :3] = rot
    mat[..., :3, 3] = origin
    mat[..., 3, 3] = 1.0
    return mat


def ray_directions(height: int, width: int, fov_deg: float, device=None, dtype=torch.float32) -> torch.Tensor:
    """Unit camera-space ray directions ``(H * W, 3)``, row-major, row 0 at the top.

    ``fov_deg`` is the full field of view between the centres of the first and last pixel column.
    """
    if not 0.0 < float(fov_deg) < 180.0:
        raise ValueError(f"field of view must be in (0, 180) degrees, got {fov_deg}")
    x = torch.linspace(-1.0, 1.0, width, device=device, dtype=dtype)
    y = torch.linspace(1.0, -1.0, height, device=device, dtype=dtype)
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    z = torch.full_like(xx, -1.0 / math.tan(math.radians(float(fov_deg)) / 2.0))
    return F.normalize(torch.stack((xx, yy, z), dim=-1).reshape(-1, 3), dim=-1)


def project_points(points: torch.Tensor, cam2world: torch.Tensor, fov_deg: float) -> tuple[torch.Tensor, torch.Tensor]:
    """World points ``(N, 3)`` in a view (``cam2world (4, 4)``, ``fov_deg`` as :func:`ray_directions`): their image
    coordinates ``(N, 2)`` as ``(x, y)`` in [-1, 1] at the first / last pixel centres (x to the right, y down: the
    ``align_corners=True`` convention of ``grid_sample``) and whether each lies in front of the camera ``(N,)``.
    Points behind the camera get coordinates far outside [-1, 1] on the side they lie."""
    c2w = cam2world.to(points.device, torch.float32).reshape(4, 4)
    cam = (points.float() - c2w[:3, 3]) @ c2w[:3, :3]  # world -> camera (the rotation is orthonormal)
    ahead = cam[:, 2] < -1e-6
    depth = torch.where(ahead, -cam[:, 2], torch.full_like(cam[:, 2], 1e-6))
    focal = 1.0 / math.tan(math.radians(float(fov_deg)) / 2.0)
    return torch.stack((cam[:, 0] * focal / depth, -cam[:, 1] * focal / depth), dim=-1), ahead


# --- region-aware patch sampling (official-sem2nerf.md 3) -----------------------------------------


@dataclass(frozen=True)
class PatchSchedule:
    """Parameters of region-aware ray sampling (defaults: the official CelebA training options).

    ``mode="independent"`` draws a scale and a 2D shift per sample (our default);
    ``mode="official"`` reproduces the official sampler: one scale and one shift magnitude
    shared by the batch, the same signed offset on x and y (patch centres on the diagonal).
    """

    resolution: int = 128
    min_scale: float = 0.125
    max_scale: float = 1.0
    anneal: float = 0.0019
    random_shift: bool = True
    mode: str = "independent"


def patch_min_scale(step: int, schedule: PatchSchedule) -> float:
    """Annealed lower bound on the patch scale at training ``step`` (official step function)."""
    if schedule.anneal <= 0:
        return schedule.min_scale
    k = (int(step) // 1000) * 3
    value = max(schedule.min_scale, schedule.max_scale * math.exp(-k * schedule.anneal))
    return min(0.9, value)


def sample_patch_pattern(
    batch: int, step: int, schedule: PatchSchedule, generator: torch.Generator | None = None, device=None
) -> torch.Tensor:
    """Normalised sampling grid ``(batch, R, R, 2)`` (last axis x, y) of a random square sub-window.

    The window always lies inside [-1, 1]^2; use it with ``grid_sample(..., align_corners=True)``.
    """
    res = schedule.resolution
    lin = torch.linspace(-1.0, 1.0, res)
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    base = torch.stack((xx, yy), dim=-1)  # (R, R, 2): x along columns, y along rows
    lo = patch_min_scale(step, schedule)
    hi = schedule.max_scale
    if schedule.mode == "official":
        scale = lo + (hi - lo) * torch.rand(1, generator=generator)
        scale = scale.expand(batch)
        if schedule.random_shift:
            mag = (1.0 - scale[0]) * torch.rand(1, generator=generator)
            sign = torch.randint(0, 2, (batch,), generator=generator).float() * 2.0 - 1.0
            shift = (sign * mag)[:, None].expand(batch, 2)
        else:
            shift = torch.zeros(batch, 2)
    elif schedule.mode == "independent":
        scale = lo + (hi - lo) * torch.rand(batch, generator=generator)
        if schedule.random_shift:
            shift = (1.0 - scale)[:, None] * (torch.rand(batch, 2, generator=generator) * 2.0 - 1.0)
        else:
            shift = torch.zeros(batch, 2)
    else:
        raise ValueError(f"unknown patch sampling mode {schedule.mode!r} (use 'independent' or 'official')")
    pattern = base[None] * scale[:, None, None, None] + shift[:, None, None, :]
    return pattern.to(device)


def patch_ray_directions(pattern: torch.Tensor, full_size: int, fov_deg: float) -> torch.Tensor:
    """Camera-space ray directions ``(B, R * R, 3)`` at a patch pattern over a ``full_size`` image plane.

    As the official code does, the full grid of unit directions is resampled bilinearly
    (align_corners=True) and not re-normalised (at 512 px the difference is ~1e-6).
    """
    batch, res = pattern.shape[0], pattern.shape[1]
    dirs = ray_directions(full_size, full_size, fov_deg, device=pattern.device, dtype=pattern.dtype)
    image = dirs.reshape(full_size, full_size, 3).permute(2, 0, 1)[None].expand(batch, -1, -1, -1)
    sampled = F.grid_sample(image, pattern, mode="bilinear", align_corners=True)
    return sampled.permute(0, 2, 3, 1).reshape(batch, res * res, 3)
