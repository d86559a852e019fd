"""Render a SynthFaces head: cameras and framing, batched sphere tracing, labels, depth and shading.

Cameras follow ``sem2nerf.camera`` (unit sphere, looking at the origin, public yaw/pitch in degrees).
The head frame maps to the world by ``world = HEAD_SCALE * p + HEAD_OFFSET`` and the scene is clipped
to the pi-GAN box ``|x|, |y|, |z| <= 0.12``; rays are traced only between ``ray_start`` and ``ray_end``.

Framing: CelebA-HQ images are centre-cropped to 80 % before the model sees them (domain
``celebamask_hq``: load 320, crop 256). A full SynthFaces image of side ``S`` is rendered with the wider
field of view :func:`full_fov`, chosen so that its central ``0.8 * S`` pixels are exactly the pixels
of a 12-degree render of side ``0.8 * S`` (pixel centres coincide; see ``sem2nerf.camera.ray_directions``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..camera import angles_to_renderer, camera_origin, look_at_rotation, ray_directions
from . import sdf
from .head import SynthHead

__all__ = ["BOX_HALF", "HEAD_OFFSET", "HEAD_SCALE", "Light", "full_fov", "head_bounds", "render_views"]

HEAD_SCALE = 0.0108  # world units per centimetre of the head frame (2.0; 1.x: 0.0078)
HEAD_OFFSET = (0.0, 0.002, 0.0)  # world position of the head-frame origin (2.0; 1.x: y 0.018)
BOX_HALF = 0.12  # half side of the pi-GAN box that holds the subject

_EPS = 0.01  # smallest surface hit tolerance, cm
_PIXEL_EPS = 0.25  # a ray hits when it passes within this fraction of a pixel footprint of a surface
_STEP = 0.9  # sphere-tracing step factor (blends and ellipsoids are not exact distances)
_MAX_STEPS = 96


@dataclass(frozen=True)
class Light:
    """A directional key light given in the *camera* frame (x right, y up, z towards the viewer)."""

    direction: tuple[float, float, float] = (-0.35, 0.55, 0.75)
    ambient: float = 0.4
    diffuse: float = 0.75

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"direction": [round(c, 4) for c in self.direction], "ambient": round(self.ambient, 4),
                "diffuse": round(self.diffuse, 4)}


def full_fov(size: int, fov: float = 12.0, crop_fraction: float = 0.8) -> float:
    """Field of view (degrees) of a full image of side ``size`` whose central ``crop_fraction`` is a ``fov`` view.

    With the project's ray convention (the fov spans the centres of the edge pixels), the central
    ``c = crop_fraction * size`` pixels equal a ``fov`` render of side ``c`` when
    ``tan(full / 2) = tan(fov / 2) * (size - 1) / (c - 1)``.
    """
    crop = crop_fraction * size
    if size < 2 or crop <= 1:
        raise ValueError(f"image size {size} is too small to frame a {crop_fraction:.0%} crop")
    return math.degrees(2.0 * math.atan(math.tan(math.radians(fov) / 2.0) * (size - 1) / (crop - 1)))


def head_bounds() -> tuple[torch.Tensor, torch.Tensor]:
    """The pi-GAN box ``[-0.12, 0.12]^3`` in the head frame (centimetres), as ``(3, 1)`` corners."""
    offset = torch.tensor(HEAD_OFFSET).reshape(3, 1)
    return (-BOX_HALF - offset) / HEAD_SCALE, (BOX_HALF - offset) / HEAD_SCALE


def _sphere_trace(head: SynthHead, origins: torch.Tensor, dirs: torch.Tensor, t0: torch.Tensor,
                  t1: torch.Tensor, pixel_angle: float) -> tuple[torch.Tensor, torch.Tensor]:
    """March rays ``(3, N)`` from ``t0`` towards ``t1``; return (hit mask, distance along the ray).

    The hit tolerance grows with the pixel footprint (``t * pixel_angle``), so rays that graze a
    surface stop within a fraction of a pixel instead of creeping along it.
    """
    t = t0.clone()
    hit = torch.zeros_like(t, dtype=torch.bool)
    last = torch.full_like(t, float("inf"))
    active = torch.nonzero(t0 < t1).squeeze(1)
    for _ in range(_MAX_STEPS):
        if active.numel() == 0:
            break
        ta = t[active]
        d = head.distance(origins[:, active] + dirs[:, active] * ta)
        done = d < (_PIXEL_EPS * pixel_angle * ta).clamp_min(_EPS)
        hit[active[done]] = True
        ta = torch.where(done, ta, ta + _STEP * d)
        t[active] = ta
        last[active] = d
        active = active[~done & (ta < t1[active])]
    # rays still marching after the last step graze a surface: they hit when they are close enough
    return hit | ((t < t1) & (last < 4 * _PIXEL_EPS * pixel_angle * t)), t


def _box_interval(origins: torch.Tensor, dirs: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor):
    """Slab test: entry and exit distances of rays ``(3, N)`` through the box ``[lo, hi]``."""
    inv = 1.0 / torch.where(dirs.abs() < 1e-9, torch.full_like(dirs, 1e-9), dirs)
    a = (lo - origins) * inv
    b = (hi - origins) * inv
    return torch.minimum(a, b).max(dim=0).values, torch.maximum(a, b).min(dim=0).values


_TETRA = torch.tensor(((1.0, -1.0, -1.0), (-1.0, -1.0, 1.0), (-1.0, 1.0, -1.0), (1.0, 1.0, 1.0)))


def _normals(head: SynthHead, p: torch.Tensor, h: float = 0.01) -> torch.Tensor:
    """Unit surface normals ``(3, N)`` from four tetrahedral differences of the distance."""
    n = p.shape[1]
    d = head.distance(torch.cat([p + h * k[:, None] for k in _TETRA], dim=1)).reshape(4, n)
    g = (_TETRA.T[:, :, None] * d[None]).sum(1)
    return g / sdf.norm(g).clamp_min(1e-9)


def _occlusion(head: SynthHead, p: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    """Cheap ambient occlusion: how far the distance falls short of the offset along the normal."""
    steps = (0.35, 0.9, 1.8)
    weights = (0.45, 0.35, 0.2)
    n = p.shape[1]
    d = head.distance(torch.cat([p + s * normals for s in steps], dim=1)).reshape(len(steps), n)
    occ = sum(w * (s - d[i]).clamp_min(0.0) / s for i, (s, w) in enumerate(zip(steps, weights, strict=True)))
    return (1.0 - 1.2 * occ).clamp(0.35, 1.0)


def render_views(
    head: SynthHead,
    yaws: list[float],
    pitches: list[float],
    size: int,
    fov: float,
    lights: list[Light] | None = None,
    ray_start: float = 0.88,
    ray_end: float = 1.12,
    max_rays: int = 1 << 18,
) -> dict[str, np.ndarray]:
    """Render views of one head.

    Args:
        head: the scene.
        yaws, pitches: public angles in degrees, one pair per view.
        size: image side in pixels.
        fov: field of view in degrees (see :func:`full_fov` for dataset framing).
        lights: one light per view (default: :class:`Light`).
        ray_start, ray_end: the depth range along the unit rays (world units).
        max_rays: rays traced at once (bounds memory).

    Returns:
        ``rgb`` (V, S, S, 3) uint8, ``labels`` (V, S, S) uint8 raw CelebAMask-HQ ids,
        ``depth`` (V, S, S) float32 distance along the ray in world units (0 where nothing is hit).
    """
    views = len(yaws)
    if len(pitches) != views:
        raise ValueError("yaws and pitches need the same length")
    lights = lights or [Light()] * views
    theta, phi = angles_to_renderer(torch.tensor(yaws, dtype=torch.float32), torch.tensor(pitches, dtype=torch.float32))
    origins_w = camera_origin(theta, phi)  # (V, 3)
    rot = look_at_rotation(origins_w)  # (V, 3, 3), columns right, up, backward
    cam = ray_directions(size, size, fov).T  # (3, S*S)
    # element-wise products rather than a matmul, so that results never depend on the thread count
    dirs = (rot[:, :, :, None] * cam[None, None]).sum(2).permute(1, 0, 2).reshape(3, -1)
    offset = torch.tensor(HEAD_OFFSET)
    origins = ((origins_w - offset) / HEAD_SCALE).T[:, :, None].expand(3, views, size * size).reshape(3, -1)
    light_dirs = torch.tensor([lt.direction for lt in lights], dtype=torch.float32)
    light_dirs = light_dirs / light_dirs.norm(dim=-1, keepdim=True)
    light_w = (rot * light_dirs[:, None, :]).sum(-1).T  # (3, V)
    ambient = torch.tensor([lt.ambient for lt in lights])
    diffuse = torch.tensor([lt.diffuse for lt in lights])
    n_rays = views * size * size
    pixel_angle = 2.0 * math.tan(math.radians(fov) / 2.0) / max(size - 1, 1)
    rgb = torch.zeros(n_rays, 3)
    labels = torch.zeros(n_rays, dtype=torch.uint8)
    depth = torch.zeros(n_rays)
    with torch.inference_mode():
        for start in range(0, n_rays, max_rays):
            o, d = origins[:, start:start + max_rays], dirs[:, start:start + max_rays]
            entry, exit_ = _box_interval(o, d, head.lo, head.hi)
            t0 = torch.clamp(entry, min=ray_start / HEAD_SCALE)
            t1 = torch.clamp(exit_, max=ray_end / HEAD_SCALE)
            hit, t = _sphere_trace(head, o, d, t0, t1, pixel_angle)
            idx = torch.nonzero(hit).squeeze(1)
            if idx.numel() == 0:
                continue
            di, ti = d[:, idx], t[idx]
            p = o[:, idx] + di * ti
            lab = head.labels(p)
            albedo, spec = head.albedo(p, lab)
            normals = _normals(head, p)
            ao = _occlusion(head, p, normals)
            view = torch.div(idx + start, size * size, rounding_mode="floor")
            light = light_w[:, view]
            ndl = (normals * light).sum(0)
            wrap = ((ndl + 0.3) / 1.3).clamp_min(0.0)
            half = light - di
            half = half / sdf.norm(half).clamp_min(1e-9)
            highlight = (normals * half).sum(0).clamp_min(0.0) ** 40 * spec * (ndl > 0)
            shade = albedo * (ambient[view] * ao + diffuse[view] * wrap)[:, None] + (0.6 * highlight)[:, None]
            gi = idx + start
            rgb[gi] = shade.clamp(0.0, 1.0)
            labels[gi] = lab.to(torch.uint8)
            depth[gi] = ti * HEAD_SCALE
    rgb = rgb.reshape(views, size, size, 3)
    labels = labels.reshape(views, size, size)
    rgb = torch.where((labels > 0)[..., None], rgb, _background(head, size)[None])
    return {
        "rgb": (rgb * 255.0 + 0.5).clamp(0, 255).to(torch.uint8).numpy(),
        "labels": labels.numpy(),
        "depth": depth.reshape(views, size, size).numpy(),
    }


def _background(head: SynthHead, size: int) -> torch.Tensor:
    """A vertical gradient between the identity's two background colours."""
    top = torch.tensor(head.params.background_top)
    bottom = torch.tensor(head.params.background_bottom)
    w = torch.linspace(0.0, 1.0, size)[:, None, None]
    return (top * (1.0 - w) + bottom * w).expand(size, size, 3)

