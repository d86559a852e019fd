"""Camera trajectories and view sets, in public degrees (official-sem2nerf.md 7.4, 7.5)."""

from __future__ import annotations

import math
from typing import NamedTuple

from .domains import Domain, get_domain

__all__ = ["Pose", "front_trajectory", "orbit_trajectory", "preview_poses", "sweep_trajectory"]


class Pose(NamedTuple):
    """A view: yaw and pitch in public degrees ((0, 0) is frontal) and the field of view in degrees."""

    yaw: float
    pitch: float
    fov: float


def front_trajectory(num_frames: int = 36) -> list[Pose]:
    """The official "front" wobble: renderer pitch = 90deg + 0.2 cos, yaw = 90deg + 0.4 sin, fov = 17 + 5 sin.

    Both ends of ``t = linspace(0, 1, num_frames)`` are included, so the first and last frames coincide.
    """
    poses = []
    for i in range(num_frames):
        t = i / (num_frames - 1) if num_frames > 1 else 0.0
        s, c = math.sin(2 * math.pi * t), math.cos(2 * math.pi * t)
        poses.append(Pose(yaw=-math.degrees(0.4 * s), pitch=math.degrees(0.2 * c), fov=17.0 + 5.0 * s))
    return poses


def orbit_trajectory(num_frames: int = 36, fov: float = 12.0, pitch: float = -45.0) -> list[Pose]:
    """A full turn around the subject. The official orbit uses renderer pitch pi/4 (public -45, from above)."""
    return [Pose(yaw=-360.0 * i / num_frames, pitch=pitch, fov=fov) for i in range(num_frames)]


def sweep_trajectory(num_frames: int = 36, amplitude: float = 35.0, pitch: float = 0.0, fov: float = 12.0) -> list[Pose]:
    """A yaw sweep (the app's turntable): ``yaw = amplitude * sin(2 pi i / num_frames)``, from frontal to
    +``amplitude`` degrees, back through frontal to -``amplitude`` and towards frontal again (the last frame is the
    one before the first, so the path loops), at a fixed pitch and field of view."""
    return [Pose(amplitude * math.sin(2 * math.pi * i / num_frames), pitch, fov) for i in range(num_frames)]


def preview_poses(domain: str | Domain = "celebamask_hq") -> list[Pose]:
    """The official five-view strip: frontal pitch, yaw offsets of the domain (e.g. +-0.45, +-0.25 rad)."""
    domain = get_domain(domain)
    return [Pose(yaw=-math.degrees(a), pitch=0.0, fov=domain.fov) for a in domain.preview_yaw_offsets]
