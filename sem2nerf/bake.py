"""Baked radiance grids: one scene's field sampled once on a grid, then any view rendered from the grid.

With the view direction locked (as at official inference), a scene's colour and density depend on
position only, so they can be stored on a grid of ``(resolution + 1)^3`` nodes over a cube that
holds every point a camera on the unit sphere samples. Baking is coarse to fine: the field is
evaluated on a grid ``2^(levels-1)`` times coarser, then each finer level evaluates only the nodes
of cells near a visible surface (where the density changes and which are not hidden behind opaque
matter, plus a margin of cells) and takes the others by trilinear upsampling. A face costs about one direct render to bake; each view
then costs only grid lookups, through the same renderer (:mod:`sem2nerf.renderer`) with the same
cameras as a direct render, in one pass of uniform samples (importance sampling gains nothing on a
trilinear grid).

    baked = model.bake(scene)                   # or bake(model, scene)
    image = baked.render(yaw=20, pitch=-5)      # a PIL image, like model.render
    sigma = baked.density                       # (N, N, N) raw density over baked.coordinates (x, y, z)
    cache = BakeCache(max_bytes=2**27)          # grids by scene, least recently used out past 128 MiB
    baked = cache.get(model, scene, fov=12.0)   # baked once, then the same grid
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .limits import check_finite
from .renderer import Field, RenderOptions, RenderOutput, evaluate_points, render_poses
from .trajectories import Pose
from .views import render_images

if TYPE_CHECKING:
    from .model import Scene, Sem2NeRF

__all__ = ["BakeCache", "BakeStats", "BakedScene", "GridField", "bake", "bake_field", "frustum_radius"]

# Optical depths (sigma x length) that decide which coarse cells are refined: a cell whose corners
# differ by less than SMOOTH_DEPTH is smooth enough for trilinear upsampling, and a cell that lies
# behind at least DEEP_DEPTH (transmittance < 5e-5) in each of the six axis directions is hidden.
SMOOTH_DEPTH = 0.05
DEEP_DEPTH = 10.0
# A baked view takes this many uniform samples per requested sample (a direct render: as many coarse as fine).
GRID_SAMPLES_PER_SAMPLE = 2


def frustum_radius(fov_deg: float, ray_end: float, distance: float = 1.0) -> float:
    """Largest distance from the origin of any sample of a square view: cameras at ``distance`` looking at the origin."""
    corner = math.atan(math.sqrt(2.0) * math.tan(math.radians(fov_deg) / 2.0))
    return math.sqrt(max(distance**2 + ray_end**2 - 2.0 * distance * ray_end * math.cos(corner), 0.0))


class GridField:
    """A view-locked field that samples a grid trilinearly: ``(B, P, 3)`` points -> ``(B, P, 4)`` [r, g, b, sigma].

    ``grid`` is ``(4, D, H, W)`` over the cube ``[-radius, radius]^3`` (D along z, H along y, W along x);
    points outside take the value of the nearest face of the cube.
    """

    view_locked = True

    def __init__(self, grid: torch.Tensor, radius: float) -> None:
        self.grid = grid[None].contiguous()
        self.radius = float(radius)

    def __call__(self, points: torch.Tensor, directions: torch.Tensor | None = None) -> torch.Tensor:
        shape = points.shape
        coords = (points.reshape(-1, 3) / self.radius).to(self.grid.dtype)
        count = coords.shape[0]
        # grid_sample parallelises over its batch only: split the points over a (free) expanded batch
        parts = max(1, min(2 * torch.get_num_threads(), count // 4096))
        coords = F.pad(coords, (0, 0, 0, -count % parts)).reshape(parts, 1, 1, -1, 3)
        grid = self.grid.expand(parts, -1, -1, -1, -1)
        out = F.grid_sample(grid, coords, mode="bilinear", padding_mode="border", align_corners=True)
        return out.permute(0, 2, 3, 4, 1).reshape(-1, 4)[:count].reshape(*shape[:-1], 4)


@dataclass(frozen=True)
class BakeStats:
    """What a bake cost: seconds, field evaluations, and the evaluations a dense grid would have needed."""

    seconds: float
    points_evaluated: int
    dense_points: int

    @property
    def fraction_of_dense(self) -> float:
        return self.points_evaluated / self.dense_points


class BakedScene:
    """A scene's radiance field baked on a grid; renders any view with the renderer's usual options.

    Attributes:
        grid: ``(4, N, N, N)`` float32, channels r, g, b in (0, 1) and raw sigma, indexed ``[c, z, y, x]``.
        radius: half side of the cube ``[-radius, radius]^3`` the grid spans (world units).
        fov, ray_start, ray_end: the camera defaults of the model it was baked from.
        stats: the cost of the bake.
        scene: the scene it was baked from (:func:`bake` sets it), for its labels (:meth:`Sem2NeRF.render_labels`).
    """

    def __init__(self, grid: torch.Tensor, radius: float, fov: float, ray_start: float, ray_end: float,
                 stats: BakeStats | None = None, scene: Scene | None = None) -> None:
        self.grid, self.radius = grid, float(radius)
        self.fov, self.ray_start, self.ray_end = float(fov), float(ray_start), float(ray_end)
        self.stats = stats
        self.scene = scene
        self.field = GridField(grid, radius)

    @property
    def resolution(self) -> int:
        """Cells per axis (the grid has ``resolution + 1`` nodes per axis)."""
        return self.grid.shape[-1] - 1

    @property
    def coordinates(self) -> torch.Tensor:
        """World coordinate of the nodes along each axis, ``(N,)``, the same for x, y and z."""
        return torch.linspace(-self.radius, self.radius, self.grid.shape[-1])

    @property
    def density(self) -> torch.Tensor:
        """Raw density ``(N, N, N)`` indexed ``[x, y, z]`` (apply relu for the physical density), e.g. for marching cubes."""
        return self.grid[3].permute(2, 1, 0)

    @property
    def colour(self) -> torch.Tensor:
        """View-locked colour ``(N, N, N, 3)`` in (0, 1), indexed ``[x, y, z]``."""
        return self.grid[:3].permute(3, 2, 1, 0)

    def sample(self, points: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Trilinear ``[r, g, b, sigma]`` ``(P, 4)`` at world points ``(P, 3)`` (e.g. mesh vertex colours)."""
        points = torch.as_tensor(points, dtype=torch.float32, device=self.grid.device)
        return self.field(points[None])[0]

    def render_options(self, samples: int = 24, *, hierarchical: bool = False, **overrides) -> RenderOptions:
        """Render options for ``samples`` per ray (as :meth:`Sem2NeRF.render`: coarse, and as many fine).

        By default (``hierarchical=False``) a baked view takes ``2 * samples`` stratified samples in one pass:
        as many lookups as a direct render's coarse + fine samples, but no second pass (no inverse-CDF
        sampling, sort or merge). Importance sampling has little to find on a grid: its field is trilinear
        between nodes ``2 * radius / resolution`` apart (0.005 for the default bake), about the spacing of 48
        samples over the default 0.24 depth range. ``benchmarks/bench_bake.py`` measures both schemes against
        direct renders and against the field's own image: the uniform pass is faster and closer to the field.
        ``hierarchical=True``: the direct render's own scheme (view-locked, the same skipping of empty rays).
        """
        if hierarchical:
            return RenderOptions.for_inference(samples, self.ray_start, self.ray_end, **overrides)
        return RenderOptions.for_inference(GRID_SAMPLES_PER_SAMPLE * samples, self.ray_start, self.ray_end,
                                           **{"hierarchical": False, **overrides})

    @torch.no_grad()
    def render_output(self, poses: Sequence[Pose], size: int = 128, options: RenderOptions | None = None,
                      seed: int | None = 0) -> list[RenderOutput]:
        """Raw outputs (tensors in [-1, 1], depth, opacity) for each pose; seeds as :meth:`Sem2NeRF.render_output`."""
        opts = options or self.render_options()
        if not opts.lock_view_dependence:
            raise ValueError("a baked grid stores view-locked colour: render it with lock_view_dependence=True")
        return render_poses(self.field, poses, size, opts, seed, self.grid.device)

    def render(self, yaw: float = 0.0, pitch: float = 0.0, fov: float | None = None, size: int = 128,
               samples: int = 24, seed: int | None = 0, *, hierarchical: bool = False, deterministic: bool = False,
               return_depth: bool = False) -> Image.Image | tuple[Image.Image, np.ndarray]:
        """One view as a PIL RGB image (and the depth map on request); arguments as :meth:`Sem2NeRF.render`,
        except ``hierarchical`` (see :meth:`render_options`: one pass of ``2 * samples`` samples by default)."""
        view = render_images(self, [Pose(yaw, pitch, self.fov if fov is None else fov)], size, samples, seed,
                             hierarchical=hierarchical, deterministic=deterministic)[0]
        return (view.image, view.depth) if return_depth else view.image

    def render_views(self, poses: Sequence[Pose], size: int = 128, samples: int = 24, seed: int | None = 0,
                     **kwargs) -> list[Image.Image]:
        """Several views (e.g. a turntable) as PIL images."""
        return [v.image for v in render_images(self, poses, size, samples, seed, **kwargs)]


def _node_points(index: torch.Tensor, nodes: int, radius: float) -> torch.Tensor:
    """Node indices ``(M, 3)`` in ``(z, y, x)`` order -> world points ``(M, 3)`` in ``(x, y, z)`` order."""
    step = 2.0 * radius / (nodes - 1)
    return (index.flip(-1).to(torch.float32) * step - radius)


def _active_cells(sigma: torch.Tensor, cell: float, margin: int) -> torch.Tensor:
    """Cells ``(n-1)^3`` of a node grid of raw densities ``(n, n, n)`` that may hold a visible surface:
    the density changes across them and they can be seen from outside along some axis."""
    depth = torch.relu(sigma) * cell  # optical depth of one cell length at each node
    reach = None  # the least optical depth from outside the cube to each node, over the six axis directions
    for dim in range(3):
        ahead = depth.cumsum(dim) - depth
        behind = depth.flip(dim).cumsum(dim).flip(dim) - depth
        least = torch.minimum(ahead, behind)
        reach = least if reach is None else torch.minimum(reach, least)
    depth = depth[None, None]
    varies = F.max_pool3d(depth, 2, stride=1) + F.max_pool3d(-depth, 2, stride=1) >= SMOOTH_DEPTH
    hidden = -F.max_pool3d(-reach[None, None], 2, stride=1) >= DEEP_DEPTH  # all eight corners hidden
    active = varies & ~hidden
    if margin > 0:
        active = F.max_pool3d(active.float(), 2 * margin + 1, stride=1, padding=margin) > 0
    return active[0, 0]


def _evaluate_nodes(field: Field, points: torch.Tensor, sphere: float | None, cell: float,
                    chunk_points: int) -> tuple[torch.Tensor, int]:
    """The field at node points ``(M, 3)`` -> ``((M, 4), evaluated)``; beyond ``sphere`` + a cell diagonal: zeros."""
    if sphere is None:
        return evaluate_points(field, points, chunk_points), points.shape[0]
    inside = points.norm(dim=1) <= sphere + math.sqrt(3.0) * cell
    values = points.new_zeros(points.shape[0], 4)
    values[inside] = evaluate_points(field, points[inside], chunk_points)
    return values, int(inside.sum())


@torch.no_grad()
def bake_field(
    field: Field,
    radius: float,
    resolution: int = 128,
    *,
    levels: int = 2,
    margin: int = 1,
    chunk_points: int = 65536,
    progress: Callable[[float], None] | None = None,
    sphere: float | None = None,
) -> tuple[torch.Tensor, BakeStats]:
    """Sample a view-locked field on ``(resolution + 1)^3`` nodes over ``[-radius, radius]^3``, coarse to fine.

    Args:
        field: any renderer field; it is called with points ``(1, P, 3)`` and no directions.
        resolution: cells per axis; a multiple of ``2^(levels - 1)``.
        levels: 1 evaluates every node; each extra level starts from a grid twice as coarse and
            evaluates only nodes of cells near surfaces at the finer level.
        margin: coarse cells added around every active cell (catches detail the coarse level missed).
        chunk_points: most points per field call (bounds memory).
        progress: called with the fraction done, between levels.
        sphere: radius of the ball that holds every point the grid will be sampled at (cameras on the unit
            sphere: :func:`frustum_radius`); nodes farther than it, by more than one cell diagonal, are
            not evaluated and stay empty (about half of the cube). ``None``: the whole cube.
    Returns:
        ``(grid (4, N, N, N) indexed [c, z, y, x], stats)``.
    """
    factor = 2 ** (levels - 1)
    if levels < 1 or resolution < 2 or resolution % factor:
        raise ValueError(f"resolution ({resolution}) must be a multiple of 2^(levels - 1) = {factor}, levels >= 1")
    if not radius > 0 or not math.isfinite(radius):
        raise ValueError(f"radius must be positive and finite, got {radius}")
    start = time.perf_counter()
    cells = resolution // factor
    nodes = cells + 1
    axis = torch.arange(nodes)
    index = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    grid, evaluated = _evaluate_nodes(field, _node_points(index, nodes, radius), sphere, 2.0 * radius / cells, chunk_points)
    grid = grid.t().reshape(4, nodes, nodes, nodes)
    for level in range(1, levels):
        if progress:
            progress(level / levels)
        active = _active_cells(grid[3], 2.0 * radius / cells, margin)
        cells, nodes = 2 * cells, 2 * cells + 1
        grid = F.interpolate(grid[None], size=(nodes,) * 3, mode="trilinear", align_corners=True)[0]
        fine = active.repeat_interleave(2, 0).repeat_interleave(2, 1).repeat_interleave(2, 2)
        fine_nodes = F.max_pool3d(F.pad(fine[None, None].float(), (1,) * 6), 2, stride=1)[0, 0] > 0
        fine_nodes[::2, ::2, ::2] = False  # nodes shared with the coarser grid are exact already
        index = fine_nodes.nonzero()
        points = _node_points(index, nodes, radius)
        if sphere is not None:
            inside = points.norm(dim=1) <= sphere + math.sqrt(3.0) * 2.0 * radius / cells
            index, points = index[inside], points[inside]
        if index.shape[0]:
            values = evaluate_points(field, points, chunk_points)
            grid[:, index[:, 0], index[:, 1], index[:, 2]] = values.t()
        evaluated += index.shape[0]
    if progress:
        progress(1.0)
    stats = BakeStats(time.perf_counter() - start, evaluated, (resolution + 1) ** 3)
    return grid.contiguous(), stats


def bake(model: Sem2NeRF, scene: Scene, resolution: int = 128, *, fov: float | None = None, radius: float | None = None,
         levels: int = 2, margin: int = 1, chunk_points: int = 65536,
         progress: Callable[[float], None] | None = None) -> BakedScene:
    """Bake a scene of ``model`` into a :class:`BakedScene`.

    Args:
        resolution: cells per axis (128: about one direct 128 px render to bake for a face).
        fov: the widest field of view (degrees) the baked scene will be rendered with (default: the
            model's); it sets the cube that holds every sample, ``radius`` overrides it.
        levels, margin, chunk_points, progress: see :func:`bake_field`.
    """
    view_fov = model.fov if fov is None else check_finite(fov, "the field of view")
    if not 0.0 < view_fov < 180.0:
        raise ValueError(f"the field of view must be between 0 and 180 degrees, got {view_fov:g}")
    if radius is None:
        radius = frustum_radius(view_fov, model.ray_end)
    grid, stats = bake_field(model.field(scene), radius, resolution, levels=levels, margin=margin,
                             chunk_points=chunk_points, progress=progress, sphere=radius)
    return BakedScene(grid, radius, model.fov, model.ray_start, model.ray_end, stats, scene)


class BakeCache:
    """Baked grids of the scenes rendered last, so that view changes, turntables and meshes sample a grid instead
    of the network (the app's cache).

    Grids are keyed by the scene's codes (content-addressed: a visitor only ever gets the grid of a scene with
    exactly their codes). The cache holds the :class:`BakedScene` objects (a ``(4, N+1, N+1, N+1)`` float32 grid
    each, on the model's device) and is bounded by their memory, ``max_bytes`` in all: the least recently used
    go first, and a grid larger than the whole budget is used for its request but not kept. A grid baked for a
    narrower field of view than asked for is baked again over the larger cube. ``resolution``: cells per axis of
    each grid baked (:func:`bake`). The model only needs ``fov``, ``ray_end`` and ``bake(scene, resolution=,
    fov=, progress=)`` (a :class:`~sem2nerf.model.Sem2NeRF`).
    """

    def __init__(self, max_bytes: int, resolution: int = 128) -> None:
        self.max_bytes, self.resolution = int(max_bytes), resolution
        self._grids: OrderedDict[str, BakedScene] = OrderedDict()
        self._lock = threading.Lock()
        self.bakes = 0  # how many grids were baked (for tests and logs)

    @staticmethod
    def grid_bytes(baked: BakedScene) -> int:
        """Memory held by one baked grid: its tensors' storage (the grid, which its field shares), counted once."""
        storages = {}
        for t in (baked.grid, baked.field.grid):
            storage = t.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
        return sum(storages.values())

    @property
    def nbytes(self) -> int:
        """Memory held by the cached grids now (at most ``max_bytes``)."""
        with self._lock:
            return sum(self.grid_bytes(b) for b in self._grids.values())

    @staticmethod
    def key(scene: Scene) -> str:
        """A digest of the scene's latent codes; for a regional style also of its codes, its regions and what its
        labels are made from (the mask and its pose): the same codes styled in other parts are another field; for a
        carved scene also of its mask and pose (the silhouette it is carved to)."""
        digest = hashlib.sha1()
        codes = [scene.frequencies, scene.phase_shifts]
        if scene.regional is not None:
            codes += [scene.regional.frequencies, scene.regional.phase_shifts]
        for t in codes:
            digest.update(t.detach().float().cpu().contiguous().numpy().tobytes())
        carve = bool(getattr(scene, "carve", False))
        if scene.regional is not None or carve:
            regions = list(scene.regional.regions) if scene.regional is not None else None
            digest.update(json.dumps({"regions": regions, "pose": scene.pose, "carve": carve}).encode())
            if scene.mask is not None:
                digest.update(np.ascontiguousarray(scene.mask.labels).tobytes())
        return digest.hexdigest()

    def peek(self, model: Sem2NeRF, scene: Scene, fov: float) -> BakedScene | None:
        """The cached grid of the scene covering ``fov``, or ``None`` (never bakes)."""
        key = self.key(scene)
        with self._lock:
            hit = self._grids.get(key)
            if hit is not None and hit.radius >= frustum_radius(max(float(fov), model.fov), model.ray_end) - 1e-9:
                self._grids.move_to_end(key)
                return hit
        return None

    @staticmethod
    def release_freed() -> None:
        """Hand the heap memory freed since the last call back to the system (0.5-8 ms). glibc keeps freed blocks
        (a bake's 8-32 MB chunks, a render's buffers) in its arenas: without this the server's RSS grew ~90 MB per
        60 bakes with a constant number of live tensors (docs/load.md). No-op without glibc."""
        try:
            ctypes.CDLL(None).malloc_trim(0)
        except (OSError, AttributeError):
            pass

    def get(self, model: Sem2NeRF, scene: Scene, fov: float, progress: Callable[[float], None] | None = None) -> BakedScene:
        """The scene's grid covering views up to ``fov`` degrees, baked now if not cached."""
        self.release_freed()  # what the requests before this one freed (a bake frees ~100 MB of chunks)
        wide = max(float(fov), model.fov)
        key = self.key(scene)
        hit = self.peek(model, scene, fov)
        if hit is not None:
            return hit
        baked = model.bake(scene, resolution=self.resolution, fov=wide, progress=progress)
        size = self.grid_bytes(baked)
        with self._lock:
            self.bakes += 1
            self._grids.pop(key, None)
            if size > self.max_bytes:
                return baked
            held = sum(self.grid_bytes(b) for b in self._grids.values())
            while self._grids and held + size > self.max_bytes:
                held -= self.grid_bytes(self._grids.popitem(last=False)[1])
            self._grids[key] = baked
        return baked
