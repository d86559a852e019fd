"""Limits on what one request may ask for, in one place: the app's sliders are built from them and the command
line refuses values outside them before any work starts.

Each :class:`Limit` is a closed range ``[low, high]``. Sizes and sample counts bound the work of one view
(pixels x samples per ray), frames the number of views of a turntable, the mesh resolution the grid of a
mesh. The render side and the mesh resolution have a larger maximum on a GPU than on a CPU
(:func:`max_render_size`, :func:`max_mesh_resolution`). Angles and the field of view are the app's
slider ranges; the command line takes any finite angle (an orbit turns all the way round).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "ALPHA",
    "CPU_MAX_MESH_RESOLUTION",
    "CPU_MAX_SIZE",
    "FOV",
    "FPS",
    "FRAMES",
    "GPU_MAX_MESH_RESOLUTION",
    "GPU_MAX_SIZE",
    "MESH_RESOLUTION",
    "PITCH",
    "SAMPLES",
    "SEED",
    "SIZE",
    "YAW",
    "Limit",
    "check_finite",
    "max_mesh_resolution",
    "max_render_size",
]

CPU_MAX_SIZE, GPU_MAX_SIZE = 256, 512  # largest render side on a CPU / a GPU
CPU_MAX_MESH_RESOLUTION, GPU_MAX_MESH_RESOLUTION = 160, 256


@dataclass(frozen=True)
class Limit:
    """A closed range ``[low, high]`` for one input; ``integer``: whole numbers only."""

    low: float
    high: float
    integer: bool = False

    def check(self, value, name: str, high: float | None = None) -> float | int:
        """``value`` as a number inside the range (``high`` overrides the maximum), else ``ValueError`` naming ``name``.

        NaN and infinities are refused; an integer limit refuses fractions (``12.0`` is taken as ``12``).
        """
        top = self.high if high is None else high
        number = check_finite(value, name)
        if self.integer:
            if number != math.floor(number):
                raise ValueError(f"{name} must be a whole number, got {number:g}")
            number = int(number)
        if not self.low <= number <= top:
            raise ValueError(f"{name} must be between {_fmt(self.low)} and {_fmt(top)}, got {_fmt(number)}")
        return number


def check_finite(value, name: str) -> float:
    """``value`` as a finite float, else ``ValueError`` naming ``name`` (NaN, infinities, non-numbers)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


SIZE = Limit(64, GPU_MAX_SIZE, integer=True)  # render side in pixels (CPU: up to CPU_MAX_SIZE)
SAMPLES = Limit(4, 48, integer=True)  # samples per ray (direct: coarse + as many fine; baked: twice as many)
FRAMES = Limit(4, 72, integer=True)  # views of a turntable video or strip
FPS = Limit(4, 30)  # frames per second of a video
MESH_RESOLUTION = Limit(32, GPU_MAX_MESH_RESOLUTION, integer=True)  # grid cells per axis of a mesh (CPU: up to 160)
YAW = Limit(-60, 60)  # degrees (app slider)
PITCH = Limit(-30, 30)  # degrees (app slider)
FOV = Limit(6, 30)  # degrees (app slider)
ALPHA = Limit(0, 1)  # style blend
SEED = Limit(0, 2**32 - 1, integer=True)  # sampling and style seeds


def max_render_size(device) -> int:
    """Largest render side on ``device`` (a ``torch.device``, its name, or ``None`` for the CPU)."""
    return CPU_MAX_SIZE if _is_cpu(device) else GPU_MAX_SIZE


def max_mesh_resolution(device) -> int:
    """Largest mesh grid resolution on ``device``."""
    return CPU_MAX_MESH_RESOLUTION if _is_cpu(device) else GPU_MAX_MESH_RESOLUTION


def _is_cpu(device) -> bool:
    if device is None:
        return True
    kind = getattr(device, "type", None) or str(device).split(":")[0]
    return kind == "cpu"
