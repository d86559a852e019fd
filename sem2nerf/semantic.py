"""A 3D semantic field: the input mask's labels carried onto the scene's surface, at any point and any view.

The scene knows its labels in one view only: the input mask, seen from the mask's pose. :class:`LabelField`
lifts them into 3D with the field's own depth: every pixel of the mask's view that the render covers gives a
labelled surface point. A point anywhere takes

* the label of the mask pixel it projects to, when the mask's view sees it (it lies in front of, or within
  :data:`VISIBILITY_TOLERANCE` behind, the surface seen through that pixel): matter seen through a *background*
  pixel is backdrop, and labelled background, else
* the label of the nearest labelled surface point (the back of the head takes the hair at its outline, the side
  of the face the skin or ear next to it).

Label maps at any view (:func:`render_labels`) label the surface points of that view this way; a regional style
(:class:`RegionStyleField`) switches each sample point between two fields by its label, so the boundary between the
styled and the unstyled part is the same surface in every view; labelled meshes label their vertices.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from PIL import Image

from .camera import angles_to_renderer, camera_to_world, project_points, ray_directions
from .labels import LabelScheme, get_label_scheme
from .masks import LabelMask, frame_to_domain
from .renderer import Field, RenderOptions, render_image

__all__ = [
    "LABEL_RESOLUTION",
    "MATTER_SIGMA",
    "SURFACE_OPACITY",
    "VISIBILITY_TOLERANCE",
    "LabelField",
    "RegionStyleField",
    "label_image",
    "region_ids",
    "surface_depth",
]

LABEL_RESOLUTION = 128  # pixels per side of the mask's view that give the labelled surface points
SURFACE_OPACITY = 0.5  # a ray whose opacity reaches this meets a surface (the silhouette threshold of the benchmarks)
MATTER_SIGMA = 1.0  # raw density below which a sample point is empty space for a regional style (its weight in a
# render is below 1 % per 0.005 step; the renderer's last sample, which paints the background, is one of them)
VISIBILITY_TOLERANCE = 0.02  # world units behind the seen surface that still count as seen (the depth range is 0.24)


class LabelField:
    """The labels of one scene at any 3D point (see the module docstring).

    Build it with :meth:`from_field`. Attributes:
        labels: ``(R, R)`` uint8 framed mask at the mask's view (ids of ``scheme``).
        scheme: the label scheme of the ids.
        depth, seen: ``(R, R)`` depth along each pixel's ray and whether it meets a surface (a labelled point,
            background included).
        points, point_labels: the labelled surface points ``(N, 3)`` (world) and their labels ``(N,)``.
    """

    def __init__(self, labels: np.ndarray, scheme: LabelScheme, depth: torch.Tensor, opacity: torch.Tensor,
                 cam2world: torch.Tensor, fov: float) -> None:
        self.labels = np.ascontiguousarray(labels, dtype=np.uint8)
        self.scheme = scheme
        size = self.labels.shape[0]
        opacity = opacity.detach().float().cpu().reshape(size, size)
        self.depth = surface_depth(depth, opacity).reshape(size, size)
        self.seen = opacity >= SURFACE_OPACITY  # background pixels too: matter seen there is backdrop
        self.cam2world = cam2world.detach().float().cpu().reshape(4, 4)
        self.fov = float(fov)
        dirs = ray_directions(size, size, fov) @ self.cam2world[:3, :3].T
        surface = self.cam2world[:3, 3] + dirs * self.depth.reshape(-1, 1)
        keep = self.seen.reshape(-1)
        self.points = surface[keep].numpy()
        self.point_labels = torch.from_numpy(self.labels.reshape(-1)[keep.numpy()].astype(np.int64))
        self._tree = None

    @classmethod
    @torch.no_grad()
    def from_field(cls, field: Field, mask: LabelMask, pose: tuple[float, float] | None, fov: float, domain,
                   options: RenderOptions, resolution: int = LABEL_RESOLUTION, device="cpu") -> LabelField:
        """Render ``field``'s depth at the mask's ``pose`` (frontal when ``None``) and lift the framed ``mask``."""
        yaw, pitch = pose if pose is not None else (0.0, 0.0)
        c2w = camera_to_world(*angles_to_renderer(yaw, pitch))[None].to(device)
        gen = torch.Generator(device=device).manual_seed(0)
        out = render_image(field, c2w, resolution, fov, options, gen)
        framed = np.asarray(frame_to_domain(Image.fromarray(mask.labels, mode="L"), domain, resolution))
        return cls(framed, mask.scheme, out.depth[0], out.opacity[0], c2w[0], fov)

    @property
    def empty(self) -> bool:
        """True when the mask's view meets no surface at all (every point is then background)."""
        return len(self.points) == 0

    def label_points(self, points: torch.Tensor) -> torch.Tensor:
        """Labels (int64, ``points.shape[:-1]``, on the points' device) of world points ``(..., 3)``."""
        shape, device = points.shape[:-1], points.device
        flat = points.detach().reshape(-1, 3).float().cpu()
        out = torch.full((flat.shape[0],), self.scheme.background, dtype=torch.int64)
        if self.empty or flat.shape[0] == 0:
            return out.reshape(shape).to(device)
        size = self.labels.shape[0]
        xy, ahead = project_points(flat, self.cam2world, self.fov)
        col = torch.round((xy[:, 0] + 1.0) * 0.5 * (size - 1)).long()
        row = torch.round((xy[:, 1] + 1.0) * 0.5 * (size - 1)).long()
        inside = ahead & (col >= 0) & (col < size) & (row >= 0) & (row < size)
        col, row = col.clamp(0, size - 1), row.clamp(0, size - 1)
        distance = (flat - self.cam2world[:3, 3]).norm(dim=1)
        seen = inside & self.seen[row, col] & (distance <= self.depth[row, col] + VISIBILITY_TOLERANCE)
        labels = torch.from_numpy(self.labels.astype(np.int64))
        out[seen] = labels[row[seen], col[seen]]
        hidden = (~seen).nonzero(as_tuple=True)[0]
        if len(hidden):
            _, nearest = self.tree.query(flat[hidden].numpy(), k=1, workers=-1)
            out[hidden] = self.point_labels[torch.from_numpy(np.asarray(nearest, dtype=np.int64))]
        return out.reshape(shape).to(device)

    @property
    def tree(self):
        """A k-d tree of the labelled surface points (built on first use)."""
        if self._tree is None:
            from scipy.spatial import cKDTree

            self._tree = cKDTree(self.points)
        return self._tree


def surface_depth(depth: torch.Tensor, opacity: torch.Tensor) -> torch.Tensor:
    """The depth of the surface a ray meets: the renderer's ``sum(w z)`` over its opacity ``sum(w)`` (float32, CPU).

    ``sum(w z)`` alone pulls the point of a partly transparent ray (an outline pixel) towards the camera."""
    depth, opacity = depth.detach().float().cpu(), opacity.detach().float().cpu().reshape(depth.shape)
    return depth / opacity.clamp_min(1e-6)


def label_image(label_field: LabelField, cam2world: torch.Tensor, depth: torch.Tensor, opacity: torch.Tensor,
                fov: float) -> np.ndarray:
    """The label map ``(H, W)`` uint8 of a rendered view: each ray's surface point (its depth) labelled, background
    where the ray's opacity is below :data:`SURFACE_OPACITY`."""
    height, width = depth.shape[-2:]
    c2w = cam2world.detach().float().cpu().reshape(4, 4)
    dirs = ray_directions(height, width, fov) @ c2w[:3, :3].T
    surface = c2w[:3, 3] + dirs * surface_depth(depth, opacity).reshape(-1, 1)
    labels = label_field.label_points(surface).reshape(height, width)
    labels[opacity.detach().float().cpu().reshape(height, width) < SURFACE_OPACITY] = label_field.scheme.background
    return labels.numpy().astype(np.uint8)


def region_ids(scheme: str | LabelScheme, regions: Iterable[str | int]) -> tuple[int, ...]:
    """Label ids of ``scheme`` named by ``regions``: class names of the scheme, names of the scheme it merges into
    (``"eyes"`` names both eyes of the raw CelebAMask-HQ scheme), or ids. ``ValueError`` names the known classes."""
    scheme = get_label_scheme(scheme)
    merged = get_label_scheme(scheme.merge_into) if scheme.merge_into else None
    ids: set[int] = set()
    for region in regions:
        if isinstance(region, (int, np.integer)) and not isinstance(region, bool):
            if not 0 <= int(region) < scheme.num_classes:
                raise ValueError(f"region id {region} is outside the {scheme.name} ids 0-{scheme.num_classes - 1}")
            ids.add(int(region))
            continue
        name = str(region).strip()
        if name in scheme.class_names:
            ids.add(scheme.class_names.index(name))
        elif merged is not None and name in merged.class_names:
            target = merged.class_names.index(name)
            ids.update(i for i, m in enumerate(scheme.merge_map) if m == target)
        else:
            known = sorted(set(scheme.class_names) | set(merged.class_names if merged else ()))
            raise ValueError(f"unknown region {name!r}; regions are class names: {', '.join(known)}")
    ids.discard(scheme.background)
    if not ids:
        raise ValueError("name at least one region other than the background (e.g. hair)")
    return tuple(sorted(ids))


class RegionStyleField:
    """Two fields joined by label: sample points whose label (:class:`LabelField`) is one of ``regions`` take
    ``styled``'s colour and density, every other point ``own``'s. A :data:`~sem2nerf.renderer.Field`.

    A style of the colour layer (the default) or of the texture layers moves no surface, so the regions keep their
    shape and the boundary is the label boundary on the surface. A style of the shape layers moves the regions'
    surface too; where it grows past the region's labels, or into the scene's empty space (raw density below
    :data:`MATTER_SIGMA`, which keeps ``own``'s field: the background too), it is cut there."""

    def __init__(self, own: Field, styled: Field, label_field: LabelField, regions: Sequence[int]) -> None:
        self.own, self.styled, self.label_field = own, styled, label_field
        self.regions = torch.tensor(sorted(int(r) for r in regions), dtype=torch.int64)

    @property
    def view_locked(self) -> bool:
        return bool(getattr(self.own, "view_locked", False))

    def __call__(self, points: torch.Tensor, directions: torch.Tensor | None = None) -> torch.Tensor:
        own = self.own(points, directions)
        matter = own[..., 3] >= MATTER_SIGMA  # only points with matter are labelled (empty space keeps its own)
        inside = torch.zeros_like(matter)
        if bool(matter.any()):
            inside[matter] = torch.isin(self.label_field.label_points(points[matter]), self.regions.to(points.device))
        if not bool(inside.any()):
            return own
        if torch.is_grad_enabled() or points.shape[0] != 1:
            return torch.where(inside[..., None], self.styled(points, directions), own)
        index = inside[0].nonzero(as_tuple=True)[0]  # the styled field only where it shows
        own[0, index] = self.styled(points[:, index], None if directions is None else directions[:, index])[0]
        return own
