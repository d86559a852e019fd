"""One view path: whatever renders a scene (the network, or its baked grid) turned into images and depth pictures.

A :class:`ViewSource` is anything that makes raw :class:`~sem2nerf.renderer.RenderOutput` for poses with its own
render options: :meth:`Sem2NeRF.view_source(scene) <sem2nerf.model.Sem2NeRF.view_source>` (the network, a
:class:`DirectView`) and :class:`~sem2nerf.bake.BakedScene` (the grid) both are. :func:`render_images` is the one
place that turns their outputs into PIL images and depth maps; ``Sem2NeRF.render / render_views``,
``BakedScene.render / render_views``, the app, the command line and the benchmarks all go through it, and
:func:`depth_picture` makes every depth picture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import torch
from PIL import Image

from .limits import Limit
from .renderer import RenderOptions, RenderOutput
from .trajectories import Pose

if TYPE_CHECKING:
    from .model import Scene, Sem2NeRF

__all__ = ["DirectView", "RenderedView", "ViewSource", "check_view", "depth_picture", "render_images", "to_pil"]

VIEW_SIZE, VIEW_SAMPLES = Limit(8, 4096, integer=True), Limit(2, 512, integer=True)  # what the library accepts


@runtime_checkable
class ViewSource(Protocol):
    """Something that renders one scene: raw outputs for poses, with its own render options and camera range."""

    fov: float  # default field of view (degrees)
    ray_start: float
    ray_end: float

    def render_options(self, samples: int = 24, **overrides) -> RenderOptions:
        """Options for ``samples`` per ray (the source's own sampling scheme)."""
        ...

    def render_output(self, poses: Sequence[Pose], size: int = 128, options: RenderOptions | None = None,
                      seed: int | None = 0) -> list[RenderOutput]:
        """Raw outputs (rgb in [-1, 1], depth, opacity) for each pose."""
        ...


@dataclass(frozen=True)
class DirectView:
    """A scene rendered by the network (:meth:`Sem2NeRF.view_source`): a :class:`ViewSource`."""

    model: Sem2NeRF
    scene: Scene

    @property
    def fov(self) -> float:
        return self.model.fov

    @property
    def ray_start(self) -> float:
        return self.model.ray_start

    @property
    def ray_end(self) -> float:
        return self.model.ray_end

    def render_options(self, samples: int = 24, **overrides) -> RenderOptions:
        return self.model.render_options(samples, **overrides)

    def render_output(self, poses: Sequence[Pose], size: int = 128, options: RenderOptions | None = None,
                      seed: int | None = 0) -> list[RenderOutput]:
        return self.model.render_output(self.scene, poses, size, options, seed)


@dataclass(frozen=True)
class RenderedView:
    """One rendered view: the image and the depth along each ray, ``(size, size)`` float32 (world units)."""

    image: Image.Image
    depth: np.ndarray


def check_view(size: int, samples: int) -> None:
    """The library's own bounds on a view (the app and the command line keep to the tighter :mod:`sem2nerf.limits`)."""
    VIEW_SIZE.check(size, "image size (pixels)")
    VIEW_SAMPLES.check(samples, "samples per ray")


def to_pil(rgb: torch.Tensor) -> Image.Image:
    """``(3, H, W)`` in [-1, 1] -> PIL RGB (the official rounding: x * 127.5 + 128, clamped)."""
    arr = (rgb.detach().float().cpu() * 127.5 + 128.0).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(arr, mode="RGB")


def render_images(source: ViewSource, poses: Sequence[Pose], size: int = 128, samples: int = 24,
                  seed: int | None = 0, *, chunk_points: int | None = None, **options) -> list[RenderedView]:
    """Render ``poses`` of ``source`` as images with their depth maps (``options`` go to its ``render_options``,
    e.g. ``hierarchical`` or ``deterministic``; seeded as :meth:`Sem2NeRF.render_output`)."""
    check_view(size, samples)
    opts = source.render_options(samples, **options)
    if chunk_points:
        opts = opts.with_(chunk_points=chunk_points)
    return [RenderedView(to_pil(o.rgb[0]), o.depth[0].float().cpu().numpy())
            for o in source.render_output(poses, size, opts, seed)]


def depth_picture(depth: np.ndarray, near: float, far: float, colour: bool = True) -> Image.Image:
    """A depth map as a picture, near is bright: the inferno colour map (``colour``), or grey (mode ``L``)."""
    d = (np.clip((far - np.asarray(depth, np.float32)) / (far - near), 0.0, 1.0) * 255).astype(np.uint8)
    if not colour:
        return Image.fromarray(d, mode="L")
    import cv2

    bgr = cv2.applyColorMap(d, cv2.COLORMAP_INFERNO)
    return Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
