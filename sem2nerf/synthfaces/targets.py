"""3D training targets from a SynthFaces head: a density and a view-locked colour at world points.

SynthFaces knows its geometry exactly, so the generator stage can supervise the radiance field in
3D as well as through renders (``generator.geometry``). The targets are:

- density ``SIGMA_MAX * sigmoid(-d / SOFTNESS)`` of the signed distance ``d`` (centimetres in the
  head frame): opaque inside, empty outside, with a soft shell about a millimetre thick;
- colour: the albedo lit by the data set's mean key light, seen from the front (the images light
  each view with a jittered camera-frame light; a view-locked field can only learn an average).

World points map to the head frame as in :mod:`sem2nerf.synthfaces.render`.
"""

from __future__ import annotations

import math

import torch

from .head import SynthHead
from .render import BOX_HALF, HEAD_OFFSET, HEAD_SCALE, _normals

__all__ = ["MEAN_LIGHT", "SIGMA_MAX", "SOFTNESS", "field_targets", "sample_points"]

SIGMA_MAX = 150.0  # opaque over ~0.01 world units (an alpha of 0.78 per sample at 16 samples over 0.24)
SOFTNESS = 0.15  # centimetres: the density falls from 0.73 to 0.27 of SIGMA_MAX over 0.3 cm
_MEAN_DIRECTION = (-0.35, 0.55, 0.8)  # mean of dataset.sample_light's direction before normalising
MEAN_LIGHT = (tuple(c / math.sqrt(sum(x * x for x in _MEAN_DIRECTION)) for c in _MEAN_DIRECTION), 0.4, 0.725)
_SHELL_CM = 1.0  # near-surface points: |d| below this many centimetres


def _head_frame(points: torch.Tensor) -> torch.Tensor:
    return ((points - torch.tensor(HEAD_OFFSET, dtype=points.dtype)) / HEAD_SCALE).t().contiguous()


def field_targets(head: SynthHead, points: torch.Tensor, shade: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Target colour ``(N, 3)`` in [0, 1] and density ``(N,)`` at world points ``(N, 3)``.

    ``shade=False`` returns the plain albedo (cheaper: no normals).
    """
    p = _head_frame(points.float())
    distance = head.distance(p)
    colour, _ = head.albedo(p, head.labels(p))
    if shade:
        direction, ambient, diffuse = MEAN_LIGHT
        normals = _normals(head, p)
        ndl = (normals * torch.tensor(direction)[:, None]).sum(0)
        wrap = ((ndl + 0.3) / 1.3).clamp_min(0.0)  # the renderer's wrapped diffuse term
        colour = colour * (ambient + diffuse * wrap)[:, None]
    return colour.clamp(0.0, 1.0), SIGMA_MAX * torch.sigmoid(-distance / SOFTNESS)


def _focus_candidates(head: SynthHead, count: int, generator: torch.Generator) -> torch.Tensor:
    """About ``count`` world points, each uniform in one of ``head.detail_spheres()`` (the spheres equally often)."""
    spheres = head.detail_spheres()
    which = torch.randint(len(spheres), (count,), generator=generator)
    out = []
    for k, (centre, radius) in enumerate(spheres):
        n = int((which == k).sum())
        if not n:
            continue
        cube = torch.rand(4 * n + 8, 3, generator=generator) * 2 - 1  # 52 % land in the unit ball
        ball = cube[cube.norm(dim=1) <= 1.0][:n]
        out.append(centre.t() + radius * ball)
    head_frame = torch.cat(out)
    head_frame = head_frame[torch.randperm(head_frame.shape[0], generator=generator)]  # the spheres mixed, for [:n] cuts
    world = head_frame * HEAD_SCALE + torch.tensor(HEAD_OFFSET, dtype=head_frame.dtype)
    return world.clamp(-BOX_HALF, BOX_HALF)


def _onto_shell(head: SynthHead, candidates: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The candidates within 6 cm of the surface, each moved to a random depth within ``_SHELL_CM`` of it."""
    d = head.distance(_head_frame(candidates))
    near = candidates[d.abs() < 6.0]  # within 6 cm: one step towards the surface lands within ~1 cm
    if near.shape[0]:
        dn = head.distance(_head_frame(near))
        normals = _normals(head, _head_frame(near)).t()
        jitter = (torch.rand(near.shape[0], generator=generator) * 2 - 1) * _SHELL_CM
        near = near - ((dn - jitter) * HEAD_SCALE)[:, None] * normals
        near = near.clamp(-BOX_HALF, BOX_HALF)
    return near


def sample_points(head: SynthHead, count: int, generator: torch.Generator, reach: float | None = None,
                  focus: float = 0.0) -> torch.Tensor:
    """``count`` world points: half uniform in the pi-GAN box, half within ``_SHELL_CM`` of the surface.

    Near-surface points come from uniform candidates nudged onto the surface along the distance;
    where too few candidates are near, uniform points fill the remainder. With ``reach`` (a radius beyond
    the box, e.g. that of the ball that holds every camera sample), half of the uniform points are drawn
    uniformly in that ball instead: outside the box the scene is empty, so the field learns no matter
    (such as a backdrop) where the cameras look past the head.

    ``focus`` (0 to 1) draws that fraction of the near-surface points from candidates in the head's
    :meth:`~sem2nerf.synthfaces.head.SynthHead.detail_spheres` (eyes, brows, mouth) instead of the whole box: the
    small parts, a few pixels of a frame, get 3D supervision in proportion to what a mask tells about them.
    """
    if not 0.0 <= focus <= 1.0:
        raise ValueError(f"focus is a fraction of the near-surface points (0 to 1), got {focus}")
    n_uniform = count - count // 2
    n_far = n_uniform // 2 if reach is not None and reach > BOX_HALF else 0
    uniform = (torch.rand(n_uniform - n_far, 3, generator=generator) * 2 - 1) * BOX_HALF
    if n_far:
        candidates = (torch.rand(4 * n_far + 16, 3, generator=generator) * 2 - 1) * reach  # 52 % land in the ball
        far = candidates[candidates.norm(dim=1) <= reach][:n_far]
        while far.shape[0] < n_far:  # rare: too few candidates landed in the ball
            more = (torch.rand(4 * n_far, 3, generator=generator) * 2 - 1) * reach
            far = torch.cat((far, more[more.norm(dim=1) <= reach]))[:n_far]
        uniform = torch.cat((uniform, far))
    n_focus = round(count // 2 * focus)
    focused = _onto_shell(head, _focus_candidates(head, 2 * n_focus, generator), generator)[:n_focus] if n_focus else None
    n_box = count // 2 - (0 if focused is None else focused.shape[0])
    shell = _onto_shell(head, (torch.rand(count * 2, 3, generator=generator) * 2 - 1) * BOX_HALF, generator)[:n_box]
    if shell.shape[0] < n_box:
        extra = (torch.rand(n_box - shell.shape[0], 3, generator=generator) * 2 - 1) * BOX_HALF
        shell = torch.cat((shell, extra))
    if focused is not None:
        shell = torch.cat((focused, shell))
    return torch.cat((uniform, shell))
