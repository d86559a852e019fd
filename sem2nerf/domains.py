"""Data-set domains described once, as data: labels, camera, mask framing and pose files.

A :class:`Domain` gathers every data-set-specific constant that the official code spreads
over ``if/elif`` chains (official-sem2nerf.md 2.7, 2.8, 4.4, 6.5, 7.4). Pose-annotation files
are read and written here, by the same functions for real data and for SynthFaces.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from .registry import Registry

__all__ = ["Domain", "get_domain", "list_domains", "read_pose_file", "register_domain", "write_pose_file"]


@dataclass(frozen=True)
class Domain:
    """Everything that differs between CelebAMask-HQ-like and CatMask-like data.

    Attributes:
        name: registry key.
        raw_scheme: label scheme of the mask files (what users draw and upload).
        input_scheme: label scheme the encoder sees (raw ids are merged into it).
        fov: field of view in degrees.
        ray_start, ray_end: near and far distance of the samples along each (unit) ray.
        mask_load_size, mask_crop_size: the mask is resized (nearest) to ``load`` then centre-cropped
            to ``crop`` before the encoder resize (CelebA: 320 -> 256, i.e. the central 80 %);
            ``None`` means no crop.
        last_back_train: the curriculum's ``last_back`` for training renders.
        preview_yaw_offsets: yaw offsets (radians) of the official multi-view strip.
        random_yaw_range, random_pitch_range: |offset| ranges (radians) of random-pose GAN steps.
        random_pose_prob: probability of a random-pose step in the official training command.
        pose_file: name of the pose annotation file (in the folder above ``masks/``).
        pose_header_lines: lines skipped at the top of the pose file.
        pose_units: ``"celebamask_degrees"`` (public yaw/pitch in degrees) or ``"renderer_radians"``.
        small_parts: raw-scheme classes that cover a small part of a frame and carry detail a mask edit
            changes (eyes, mouth, ...): the pixels training's ``loss.part`` weighs up.
    """

    name: str
    raw_scheme: str
    input_scheme: str
    fov: float
    ray_start: float
    ray_end: float
    mask_load_size: int | None
    mask_crop_size: int | None
    last_back_train: bool
    preview_yaw_offsets: tuple[float, ...]
    random_yaw_range: tuple[float, float]
    random_pitch_range: tuple[float, float]
    random_pose_prob: float
    pose_file: str
    pose_header_lines: int
    pose_units: str
    image_folder: str
    small_parts: tuple[str, ...] = ()

    @property
    def crop_fraction(self) -> float:
        """Side of the centre crop as a fraction of the mask side (1.0 without a crop)."""
        if self.mask_crop_size is None or self.mask_load_size is None:
            return 1.0
        return self.mask_crop_size / self.mask_load_size


_DOMAINS: Registry[Domain] = Registry("domain", Domain)


def register_domain(domain: Domain, *, overwrite: bool = False) -> Domain:
    """Make a domain available by name."""
    return _DOMAINS.register(domain, overwrite)


def get_domain(name: str | Domain) -> Domain:
    """Look a domain up by name (a :class:`Domain` is returned as it is)."""
    return _DOMAINS.get(name)


def list_domains() -> list[str]:
    """Names of all registered domains."""
    return _DOMAINS.names()


CELEBAMASK_HQ = register_domain(Domain(
    name="celebamask_hq",
    raw_scheme="celebamask_hq_raw",
    input_scheme="celebamask_hq_merged",
    fov=12.0,
    ray_start=0.88,
    ray_end=1.12,
    mask_load_size=320,
    mask_crop_size=256,
    last_back_train=True,
    preview_yaw_offsets=(-0.45, -0.25, 0.0, 0.25, 0.45),
    random_yaw_range=(0.4, 0.55),
    random_pitch_range=(0.3, 0.45),
    random_pose_prob=0.2,
    pose_file="CelebAMask-HQ-pose-anno.txt",
    pose_header_lines=2,
    pose_units="celebamask_degrees",
    image_folder="CelebA-HQ-img",
    small_parts=("eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "mouth", "u_lip", "l_lip"),
))
CATMASK = register_domain(Domain(
    name="catmask",
    raw_scheme="catmask_raw",
    input_scheme="catmask_merged",
    fov=18.0,
    ray_start=0.8,
    ray_end=1.2,
    mask_load_size=None,
    mask_crop_size=None,
    last_back_train=False,
    preview_yaw_offsets=(-0.4, -0.2, 0.0, 0.2, 0.4),
    random_yaw_range=(0.3, 0.5),
    random_pitch_range=(0.25, 0.4),
    random_pose_prob=0.5,
    pose_file="pose-pseudo.txt",
    pose_header_lines=1,
    pose_units="renderer_radians",
    image_folder="images",
    small_parts=("eye", "mouth", "tongue", "nose", "whiskers"),
))


def read_pose_file(path: str | os.PathLike, domain: str | Domain = "celebamask_hq") -> dict[str, tuple[float, float]]:
    """Read a pose annotation file into ``{image_id: (yaw_deg, pitch_deg)}`` in public degrees.

    CelebAMask-HQ files hold ``<id>.jpg yaw pitch roll`` in degrees after two header lines
    (roll is ignored); CatMask files hold renderer angles in radians after one header line,
    which are converted to public degrees. The image id is the file name before its first dot.
    """
    domain = get_domain(domain)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pose file not found: {path}")
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    poses: dict[str, tuple[float, float]] = {}
    for lineno, line in enumerate(lines[domain.pose_header_lines:], start=domain.pose_header_lines + 1):
        parts = line.split()
        try:
            name, a, b = parts[0], float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            raise ValueError(f"{path}: line {lineno} is not '<id>.<ext> yaw pitch ...': {line!r}") from None
        if domain.pose_units == "renderer_radians":
            a, b = 90.0 - math.degrees(a), math.degrees(b) - 90.0
        poses[name.split(".")[0]] = (a, b)
    return poses


def write_pose_file(
    path: str | os.PathLike,
    poses: dict[str, tuple[float, float]],
    domain: str | Domain = "celebamask_hq",
    extension: str = "jpg",
) -> None:
    """Write ``{image_id: (yaw_deg, pitch_deg)}`` in the domain's pose-file format (inverse of :func:`read_pose_file`)."""
    domain = get_domain(domain)
    rows = []
    for key, (yaw, pitch) in poses.items():
        if domain.pose_units == "renderer_radians":
            rows.append(f"{key}.{extension} {math.radians(90.0 - yaw):.6f} {math.radians(90.0 + pitch):.6f}")
        else:
            rows.append(f"{key}.{extension} {yaw:.4f} {pitch:.4f} 0.0000")
    if domain.pose_units == "renderer_radians":
        header = ["yaw pitch"]
    else:
        header = [str(len(rows)), "yaw pitch roll"]
    Path(path).write_text("\n".join(header + rows) + "\n")
