"""The one volume renderer, shared by inference, training, baking and benchmarks.

A *field* is any callable ``field(points (B, P, 3), directions (B, P, 3) | None) -> (B, P, 4)``
returning ``[r, g, b]`` in (0, 1) and a raw density ``sigma``. The renderer samples depths along
rays (stratified jitter, or none in deterministic mode), integrates (official-sem2nerf.md 2.3-2.5),
optionally resamples by the coarse weights (hierarchical sampling) and integrates all samples
again. Work is chunked over rays, so peak memory is set by ``RenderOptions.chunk_points``,
whatever the image size. One draw from the caller's ``torch.Generator`` seeds a random stream per
block of rays, so a seed gives the same image for every chunk size.

:func:`render_poses` renders views given as public poses; :func:`evaluate_points` evaluates a field
at arbitrary points in bounded chunks (baking, mesh export).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import torch

from .camera import LOCKED_VIEW_DIRECTION, angles_to_renderer, camera_to_world, patch_ray_directions, ray_directions

__all__ = [
    "INFERENCE_SKIP_EMPTY",
    "Field",
    "RayBundle",
    "RenderOptions",
    "RenderOutput",
    "check_poses",
    "check_seed",
    "evaluate_points",
    "integrate",
    "render_image",
    "render_patch",
    "render_poses",
    "render_rays",
    "sample_pdf",
]

Field = Callable[[torch.Tensor, "torch.Tensor | None"], torch.Tensor]

INFERENCE_SKIP_EMPTY = 1e-4  # RenderOptions.skip_empty of inference renders (the model's and a baked scene's)


@dataclass(frozen=True)
class RenderOptions:
    """How to render. Defaults are the official inference settings for CelebA (24 + 24 samples).

    Attributes:
        num_samples: stratified (coarse) samples per ray.
        num_fine: importance samples per ray (``None``: as many as coarse). Ignored without ``hierarchical``.
        hierarchical: resample by the coarse weights and integrate coarse + fine samples together.
        ray_start, ray_end: depth range along the unit ray directions.
        lock_view_dependence: feed the constant direction (0, 0, -1) to the colour branch.
        last_back: give the transmittance left after the last sample to the last sample.
        white_back: composite onto white.
        clamp_mode: ``"relu"`` or ``"softplus"`` activation of the density.
        noise_std: std of the noise added to densities (0 in both official curricula).
        deterministic: no jitter and deterministic inverse-CDF sampling (u = linspace(0, 1)).
        chunk_points: most points per field call; rays are rendered in chunks of ``chunk_points // samples``
            (bounds memory whatever the image size).
        skip_empty: rays whose coarse opacity is below this get no fine samples and keep their coarse result
            (``0``: every ray is resampled, as the official renderer). Inference sets ``1e-4``: a ray that
            crosses no matter needs no resampling (the background of a portrait is about half of the rays).
    """

    num_samples: int = 24
    num_fine: int | None = None
    hierarchical: bool = True
    ray_start: float = 0.88
    ray_end: float = 1.12
    lock_view_dependence: bool = True
    last_back: bool = True
    white_back: bool = False
    clamp_mode: str = "relu"
    noise_std: float = 0.0
    deterministic: bool = False
    chunk_points: int = 65536
    skip_empty: float = 0.0

    def __post_init__(self) -> None:
        if self.num_samples < 2:
            raise ValueError(f"num_samples must be at least 2, got {self.num_samples}")
        if self.hierarchical and self.fine_samples < 1:
            raise ValueError("hierarchical sampling needs at least one fine sample")
        if not 0.0 <= self.ray_start < self.ray_end:
            raise ValueError(f"need 0 <= ray_start < ray_end, got {self.ray_start}, {self.ray_end}")
        if self.clamp_mode not in ("relu", "softplus"):
            raise ValueError(f"clamp_mode must be 'relu' or 'softplus', got {self.clamp_mode!r}")
        if self.chunk_points < 1:
            raise ValueError("chunk_points must be positive")
        if not 0.0 <= self.skip_empty < 1.0:
            raise ValueError(f"skip_empty must be in [0, 1), got {self.skip_empty}")

    @classmethod
    def for_inference(cls, num_samples: int, ray_start: float, ray_end: float, **overrides) -> RenderOptions:
        """The options of inference renders (a model's and a baked scene's): the official settings, and no fine
        pass for rays that meet no matter (``skip_empty`` = :data:`INFERENCE_SKIP_EMPTY`); ``overrides`` win."""
        values = {"num_samples": num_samples, "ray_start": ray_start, "ray_end": ray_end, "skip_empty": INFERENCE_SKIP_EMPTY}
        return cls(**{**values, **overrides})

    @property
    def fine_samples(self) -> int:
        return self.num_samples if self.num_fine is None else self.num_fine

    def with_(self, **changes) -> RenderOptions:
        """A copy with some fields changed."""
        return replace(self, **changes)


class RayBundle(NamedTuple):
    """World-space rays: origins and directions, both ``(B, R, 3)``."""

    origins: torch.Tensor
    directions: torch.Tensor


class RenderOutput(NamedTuple):
    """Per-ray results: ``rgb (B, R, 3)`` in [-1, 1], ``depth (B, R)`` = sum(w z), ``opacity (B, R)`` = sum(w)
    before ``last_back`` (1 where the field is opaque, 0 where the ray sees nothing)."""

    rgb: torch.Tensor
    depth: torch.Tensor
    opacity: torch.Tensor


def integrate(
    rgb: torch.Tensor,
    sigma: torch.Tensor,
    z: torch.Tensor,
    *,
    last_back: bool = False,
    white_back: bool = False,
    clamp_mode: str = "relu",
    noise: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Alpha-composite samples along rays.

    Args:
        rgb: ``(..., N, 3)`` colours in (0, 1); sigma: ``(..., N)`` raw densities; z: ``(..., N)`` sorted depths.
        noise: optional ``(..., N)`` added to sigma before the activation.
    Returns:
        ``(rgb (..., 3) in (0, 1), depth (...), weights (..., N), opacity (...))``; the last delta is 1e10.
    """
    weights, opacity = _weights(sigma, z, clamp_mode, noise)
    if last_back:
        weights = torch.cat((weights[..., :-1], weights[..., -1:] + (1.0 - opacity)[..., None]), dim=-1)
    out_rgb = (weights[..., None] * rgb).sum(-2)
    depth = (weights * z).sum(-1)
    if white_back:
        out_rgb = out_rgb + (1.0 - opacity)[..., None]
    return out_rgb, depth, weights, opacity


def _weights(sigma: torch.Tensor, z: torch.Tensor, clamp_mode: str, noise: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Compositing weights ``(..., N)`` and opacity ``(...)`` of samples (see :func:`integrate`)."""
    deltas = torch.cat((z[..., 1:] - z[..., :-1], torch.full_like(z[..., :1], 1e10)), dim=-1)
    if noise is not None:
        sigma = sigma + noise
    density = torch.relu(sigma) if clamp_mode == "relu" else torch.nn.functional.softplus(sigma)
    alpha = 1.0 - torch.exp(-deltas * density)
    shifted = torch.cat((torch.ones_like(alpha[..., :1]), 1.0 - alpha + 1e-10), dim=-1)
    weights = alpha * torch.cumprod(shifted, dim=-1)[..., :-1]
    return weights, weights.sum(-1)


def sample_pdf(bins: torch.Tensor, weights: torch.Tensor, num: int, u: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    """Inverse-CDF sampling of ``num`` depths per ray from piecewise-constant weights.

    Args:
        bins: ``(M, K + 1)`` bin edges; weights: ``(M, K)``; u: ``(M, num)`` uniforms in [0, 1)
            (``None``: deterministic ``linspace(0, 1, num)``).
    """
    weights = weights + eps
    pdf = weights / weights.sum(-1, keepdim=True)
    cdf = torch.cat((torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, -1)), dim=-1)
    if u is None:
        u = torch.linspace(0.0, 1.0, num, device=bins.device, dtype=bins.dtype).expand(bins.shape[0], num)
    u = u.contiguous()
    inds = torch.searchsorted(cdf, u, right=True)
    below = (inds - 1).clamp_min(0)
    above = inds.clamp_max(bins.shape[-1] - 1)
    cdf_lo, cdf_hi = cdf.gather(1, below), cdf.gather(1, above)
    bin_lo, bin_hi = bins.gather(1, below), bins.gather(1, above)
    denom = cdf_hi - cdf_lo
    denom = torch.where(denom < eps, torch.ones_like(denom), denom)
    return bin_lo + (u - cdf_lo) / denom * (bin_hi - bin_lo)


def _evaluate(field: Field, origins, directions, z, opts: RenderOptions) -> tuple[torch.Tensor, torch.Tensor]:
    """Evaluate the field at ``origins + directions * z`` -> (rgb (B, R, N, 3), sigma (B, R, N))."""
    batch, rays, n = z.shape
    points = (origins[:, :, None] + directions[:, :, None] * z[..., None]).reshape(batch, rays * n, 3)
    view = None
    if not opts.lock_view_dependence:
        view = directions[:, :, None].expand(batch, rays, n, 3).reshape(batch, rays * n, 3)
    elif not getattr(field, "view_locked", False):
        view = points.new_tensor(LOCKED_VIEW_DIRECTION).expand(batch, rays * n, 3)
    out = field(points, view).reshape(batch, rays, n, 4)
    return out[..., :3], out[..., 3]


RNG_BLOCK_RAYS = 1024  # random numbers are drawn per block of this many rays, each block from its own stream


def _chunk_randoms(base_seed: int, batch: int, start: int, stop: int, sizes: tuple[int, int, int], device, dtype,
                   cache: dict):
    """Jitter ``(B, rays, n)``, importance uniforms ``(B, rays, nf)`` and noise ``(B, rays, total)`` for rays
    ``[start, stop)`` (``None`` where a size is 0). Each block of :data:`RNG_BLOCK_RAYS` rays has its own
    generator seeded from ``base_seed``, so the numbers do not depend on the chunk size and only the
    current chunk's are held in memory (plus the last block drawn, in ``cache``, for small chunks)."""
    parts: list[list[torch.Tensor]] = [[], [], []]
    for block in range(start // RNG_BLOCK_RAYS, (stop - 1) // RNG_BLOCK_RAYS + 1):
        if block not in cache:
            gen = torch.Generator(device=device).manual_seed(base_seed + block)
            cache.clear()
            cache[block] = [draw(batch, RNG_BLOCK_RAYS, size, generator=gen, device=device, dtype=dtype) if size else None
                            for size, draw in zip(sizes, (torch.rand, torch.rand, torch.randn))]
        lo = max(start, block * RNG_BLOCK_RAYS) - block * RNG_BLOCK_RAYS
        hi = min(stop, (block + 1) * RNG_BLOCK_RAYS) - block * RNG_BLOCK_RAYS
        for i, values in enumerate(cache[block]):
            if values is not None:
                parts[i].append(values[:, lo:hi])
    return tuple(torch.cat(p, dim=1) if p else None for p in parts)


def render_rays(field: Field, rays: RayBundle, opts: RenderOptions, generator: torch.Generator | None = None) -> RenderOutput:
    """Render rays ``(B, R)`` through a field. ``generator`` drives jitter and importance sampling.

    The field is called with at most ``opts.chunk_points`` points at a time (``chunk_points // num_samples``
    rays, coarse and then fine samples), and every per-sample tensor lives only for one chunk, so peak
    memory is set by the chunk size, not by the number of rays.
    """
    origins, directions = rays
    batch, num_rays, _ = directions.shape
    device, dtype = directions.device, directions.dtype
    n, nf = opts.num_samples, opts.fine_samples
    base = torch.linspace(opts.ray_start, opts.ray_end, n, device=device, dtype=dtype)
    total = n + (nf if opts.hierarchical else 0)
    sizes = (
        0 if opts.deterministic else n,
        nf if opts.hierarchical and not opts.deterministic else 0,
        total if opts.noise_std > 0 else 0,
    )
    base_seed = None
    if any(sizes):  # one draw from the caller's generator seeds every block's stream
        base_seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device if generator else "cpu"))

    rays_per_chunk = max(1, opts.chunk_points // max(n, nf if opts.hierarchical else 1))
    outputs, cache = [], {}
    for start in range(0, num_rays, rays_per_chunk):
        sl = slice(start, start + rays_per_chunk)
        o, d = origins[:, sl], directions[:, sl]
        jitter = u_fine = chunk_noise = None
        if base_seed is not None:
            jitter, u_fine, chunk_noise = _chunk_randoms(base_seed, batch, start, start + o.shape[1], sizes, device, dtype, cache)
            if chunk_noise is not None:
                chunk_noise = chunk_noise * opts.noise_std
        z = base.expand(batch, o.shape[1], n)
        if jitter is not None:
            z = z + (jitter - 0.5) * (base[1] - base[0])
        rgb, sigma = _evaluate(field, o, d, z, opts)
        coarse_noise = None if chunk_noise is None else chunk_noise[..., :n]
        if not opts.hierarchical:
            outputs.append(_composite(rgb, sigma, z, chunk_noise, opts))
            continue
        with torch.no_grad():
            w, coarse_opacity = _weights(sigma, z, opts.clamp_mode, coarse_noise)
        keep = coarse_opacity >= opts.skip_empty if opts.skip_empty > 0 else None
        if keep is None or bool(keep.all()):
            outputs.append(_fine_pass(field, o, d, z, rgb, sigma, w, u_fine, chunk_noise, opts))
            continue
        if not bool(keep.any()):
            outputs.append(_composite(rgb, sigma, z, coarse_noise, opts))
            continue
        # Rays that met no matter keep their coarse result; the others are resampled as one batch.
        sel, rest = keep.nonzero(as_tuple=True), (~keep).nonzero(as_tuple=True)
        fine = _fine_pass(field, *(None if t is None else t[sel][None]  # (1, K, ...)
                                   for t in (o, d, z, rgb, sigma, w, u_fine, chunk_noise)), opts)
        coarse = _composite(*(None if t is None else t[rest][None] for t in (rgb, sigma, z, coarse_noise)), opts)
        merged = []
        for f, c in zip(fine, coarse):
            out = f.new_empty(keep.shape + f.shape[2:])
            out[sel], out[rest] = f[0], c[0]
            merged.append(out)
        outputs.append(tuple(merged))
    return RenderOutput(*(torch.cat(parts, dim=1) for parts in zip(*outputs)))


def _composite(rgb, sigma, z, noise, opts: RenderOptions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Final integration of samples -> (rgb in [-1, 1], depth, opacity)."""
    color, depth, _, opacity = integrate(rgb, sigma, z, last_back=opts.last_back, white_back=opts.white_back,
                                         clamp_mode=opts.clamp_mode, noise=noise)
    return color * 2.0 - 1.0, depth, opacity


def _fine_pass(field: Field, o, d, z, rgb, sigma, w, u_fine, noise, opts: RenderOptions):
    """Importance samples from the coarse weights ``w``, evaluated, merged with the coarse samples, integrated."""
    batch, rays, n = z.shape
    nf = opts.fine_samples
    with torch.no_grad():
        bins = 0.5 * (z[..., 1:] + z[..., :-1])
        flat = batch * rays
        u = None if u_fine is None else u_fine.reshape(flat, nf)
        z_fine = sample_pdf(bins.reshape(flat, n - 1), (w[..., 1:-1] + 1e-5).reshape(flat, n - 2), nf, u)
        z_fine = z_fine.reshape(batch, rays, nf)
    rgb_f, sigma_f = _evaluate(field, o, d, z_fine, opts)
    z_all, order = torch.sort(torch.cat((z_fine, z), dim=-1), dim=-1)
    rgb = torch.cat((rgb_f, rgb), dim=-2).gather(-2, order[..., None].expand(*order.shape, 3))
    sigma = torch.cat((sigma_f, sigma), dim=-1).gather(-1, order)
    if noise is not None:
        noise = torch.cat((noise[..., n:], noise[..., :n]), dim=-1).gather(-1, order)
    return _composite(rgb, sigma, z_all, noise, opts)


def _world_rays(cam2world: torch.Tensor, cam_dirs: torch.Tensor) -> RayBundle:
    rot, origin = cam2world[:, :3, :3], cam2world[:, :3, 3]
    directions = cam_dirs @ rot.transpose(1, 2)
    return RayBundle(origin[:, None].expand_as(directions), directions)


def render_image(
    field: Field,
    cam2world: torch.Tensor,
    size: int | tuple[int, int],
    fov_deg: float,
    opts: RenderOptions,
    generator: torch.Generator | None = None,
) -> RenderOutput:
    """Render full frames: ``cam2world (B, 4, 4)`` -> rgb ``(B, 3, H, W)`` in [-1, 1], depth and opacity ``(B, H, W)``."""
    height, width = (size, size) if isinstance(size, int) else size
    cam2world = cam2world.to(dtype=torch.float32)
    dirs = ray_directions(height, width, fov_deg, device=cam2world.device)
    out = render_rays(field, _world_rays(cam2world, dirs.expand(cam2world.shape[0], -1, -1)), opts, generator)
    batch = cam2world.shape[0]
    return RenderOutput(
        out.rgb.reshape(batch, height, width, 3).permute(0, 3, 1, 2),
        out.depth.reshape(batch, height, width),
        out.opacity.reshape(batch, height, width),
    )


def render_patch(
    field: Field,
    cam2world: torch.Tensor,
    pattern: torch.Tensor,
    full_size: int,
    fov_deg: float,
    opts: RenderOptions,
    generator: torch.Generator | None = None,
) -> RenderOutput:
    """Render the region-aware patch ``pattern (B, R, R, 2)`` of a ``full_size`` frame -> rgb ``(B, 3, R, R)``."""
    batch, res = pattern.shape[0], pattern.shape[1]
    dirs = patch_ray_directions(pattern.to(cam2world.device), full_size, fov_deg)
    out = render_rays(field, _world_rays(cam2world.to(torch.float32), dirs), opts, generator)
    return RenderOutput(
        out.rgb.reshape(batch, res, res, 3).permute(0, 3, 1, 2),
        out.depth.reshape(batch, res, res),
        out.opacity.reshape(batch, res, res),
    )


def render_poses(field: Field, poses: Sequence, size: int | tuple[int, int], opts: RenderOptions, seed: int | None = 0,
                 device: torch.device | str = "cpu") -> list[RenderOutput]:
    """Render one frame per pose (anything with ``yaw``, ``pitch`` in public degrees and ``fov``, e.g.
    :class:`~sem2nerf.trajectories.Pose`); view ``i`` is seeded with ``seed + i`` (``None``: unseeded)."""
    check_poses(poses)
    if seed is not None:
        seed = check_seed(seed)
    outs = []
    for i, pose in enumerate(poses):
        c2w = camera_to_world(*angles_to_renderer(pose.yaw, pose.pitch))[None].to(device)
        gen = None if seed is None else torch.Generator(device=device).manual_seed(int(seed) + i)
        outs.append(render_image(field, c2w, size, pose.fov, opts, gen))
    return outs


def check_poses(poses: Sequence) -> None:
    """``ValueError`` naming the first pose with a non-finite angle or a field of view outside (0, 180) degrees.

    A NaN angle would otherwise render a black image without complaint."""
    for i, pose in enumerate(poses):
        where = f" (view {i + 1})" if len(poses) > 1 else ""
        for name in ("yaw", "pitch", "fov"):
            value = getattr(pose, name)
            try:
                ok = math.isfinite(float(value))
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(f"{name}{where} must be a finite number of degrees, got {value!r}")
        if not 0.0 < float(pose.fov) < 180.0:
            raise ValueError(f"the field of view{where} must be between 0 and 180 degrees, got {float(pose.fov):g}")


def check_seed(seed) -> int:
    """A seed as an int: a whole, finite, non-negative number below 2^63 (else ``ValueError``)."""
    try:
        value = float(seed)
        ok = math.isfinite(value) and value == math.floor(value) and 0 <= int(seed) < 2**63
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or isinstance(seed, bool):
        raise ValueError(f"a seed must be a whole number from 0 to 2^63 - 1, got {seed!r}")
    return int(seed)


def evaluate_points(field: Field, points: torch.Tensor, chunk_points: int = 65536,
                    progress: Callable[[float], None] | None = None) -> torch.Tensor:
    """A field (view-locked, or called without directions) at points ``(M, 3)`` -> ``(M, 4)``, at most
    ``chunk_points`` per call; ``progress`` gets the fraction done after each chunk."""
    out = points.new_empty(points.shape[0], 4)
    for start in range(0, points.shape[0], chunk_points):
        out[start : start + chunk_points] = field(points[None, start : start + chunk_points], None)[0]
        if progress is not None:
            progress(min(1.0, (start + chunk_points) / points.shape[0]))
    return out
