"""Silhouette carving: a scene's field emptied where its mask says background, seen from the mask's own view.

A mask fixes one thing exactly: from its view, the pixels labelled background see no subject. An encoder trained
on one family of masks does not always honour that on masks of another: on hand-drawn masks (DrawnFaces) the bundled
model put matter behind half of the background pixels, a grey backdrop at the far end of the rays, while it left
only 2 % of the foreground empty. :class:`CarvedField` takes the mask at its word: a sample point that projects,
in the mask's view, onto background gets no density. That is the mask's one-view visual hull, so the outline of
the render at the mask's pose is the mask's (where the field has matter), and every other view sees the head cut to
that hull: nothing floats outside it. The field is left as it is everywhere else; colours are untouched (the
renderer's background, painted by the last sample, keeps its colour).

Points outside the mask's view take the label of the nearest border pixel (a mask cut off at its bottom edge by
clothes keeps its clothes below the frame). The hull is widened by :data:`CARVE_MARGIN` of the frame, so the
outline a decoder draws a pixel wider than the mask is not shaved off, and sampled bilinearly (a soft edge).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .camera import project_points
from .renderer import Field

__all__ = ["CARVE_MARGIN", "CARVE_RESOLUTION", "CARVE_SIGMA", "CarvedField", "hull_at", "hull_image"]

CARVE_RESOLUTION = 128  # pixels per side of the framed mask the hull is made from
CARVE_MARGIN = 1.0 / 128  # the hull is the foreground widened by this share of the frame (one pixel at 128)
CARVE_SIGMA = 20.0  # raw density taken off where the hull is 0 (with relu: none left; softplus(-20) = 2e-9)


def hull_image(foreground: np.ndarray, margin: float = CARVE_MARGIN) -> torch.Tensor:
    """The hull of a framed foreground ``(R, R)`` bool: 1 on the foreground widened by ``margin`` of the frame, else
    0, as float32 ``(R, R)``."""
    fg = torch.from_numpy(np.ascontiguousarray(foreground, dtype=np.float32))[None, None]
    radius = round(margin * fg.shape[-1])
    if radius > 0:
        fg = F.max_pool2d(fg, 2 * radius + 1, stride=1, padding=radius)
    return fg[0, 0]


def hull_at(hull: torch.Tensor, points: torch.Tensor, cam2world: torch.Tensor, fov: float) -> torch.Tensor:
    """The value ``points.shape[:-1]`` of a hull image ``(R, R)`` (:func:`hull_image`, seen by the view ``cam2world``
    ``(4, 4)`` at ``fov`` degrees) at world points ``(..., 3)``: bilinear, the border's value outside the view."""
    grid, _ = project_points(points.reshape(-1, 3), cam2world, fov)  # behind the camera: far out, the border's value
    image = hull.detach().float().to(points.device)[None, None]
    w = F.grid_sample(image, grid[None, None], mode="bilinear", padding_mode="border", align_corners=True)
    return w.reshape(points.shape[:-1])


class CarvedField:
    """``field`` with its density removed at points whose projection into a view falls on background.

    Args:
        field: any :data:`~sem2nerf.renderer.Field`.
        hull: ``(R, R)`` float in [0, 1] (:func:`hull_image`), the view's image with row 0 at the top: 1 keeps
            the field, 0 empties it; in between the raw density is ``w * sigma - (1 - w) * CARVE_SIGMA``.
        cam2world: ``(4, 4)`` camera of that view (the renderer's convention).
        fov: its field of view in degrees (between the centres of the first and last pixel column).
    """

    def __init__(self, field: Field, hull: torch.Tensor, cam2world: torch.Tensor, fov: float) -> None:
        self.field = field
        self.hull = hull.detach().float()
        self.cam2world, self.fov = cam2world.detach().float().reshape(4, 4), float(fov)

    @property
    def view_locked(self) -> bool:
        return bool(getattr(self.field, "view_locked", False))

    def keep(self, points: torch.Tensor) -> torch.Tensor:
        """The hull's value ``points.shape[:-1]`` at world points ``(..., 3)`` (:func:`hull_at`)."""
        return hull_at(self.hull, points, self.cam2world, self.fov)

    def __call__(self, points: torch.Tensor, directions: torch.Tensor | None = None) -> torch.Tensor:
        out = self.field(points, directions)
        w = self.keep(points).to(out.dtype)
        if torch.is_grad_enabled():
            sigma = w * out[..., 3] - (1.0 - w) * CARVE_SIGMA
            return torch.cat((out[..., :3], sigma[..., None]), dim=-1)
        out[..., 3].mul_(w).sub_((1.0 - w) * CARVE_SIGMA)
        return out
