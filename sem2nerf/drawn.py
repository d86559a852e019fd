"""DrawnFaces: face masks drawn in 2D from polygons and strokes, an out-of-family evaluation set.

SynthFaces (:mod:`sem2nerf.synthfaces`) renders 3D heads to exact label maps; models train on it. DrawnFaces
makes masks by a completely different process: outlines built from parametric curves, perturbed vertex by
vertex, filled with ``cv2.fillPoly`` and stroked with ``cv2.polylines`` in painter's order, the way a person
draws a mask in a sketchpad or annotates a photo with polygons. No model trains on it; it measures whether a
model follows masks that were not made by its own training generator.

Masks use raw CelebAMask-HQ ids (scheme ``celebamask_hq_raw``) at the real CelebAMask-HQ framing, frontal view
(yaw 0, pitch 0). ``l_*`` classes are the PERSON's left, i.e. the IMAGE's right (x > 0.5 of the width).
Parameter names follow the same convention: ``hair_length_l`` is the hair on the person's left = image right.

The committed example set was written by::

    python -m sem2nerf drawn --out examples/drawn --count 6 --size 512 --seed 7

See ``docs/drawn_masks.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .folders import prepare_output_folder

__all__ = [
    "DRAWN_EDITS",
    "GENERATOR_VERSION",
    "DrawnFace",
    "add_drawn_arguments",
    "apply_drawn_edit",
    "contact_sheet",
    "draw_mask",
    "edit_region",
    "run_drawn",
    "sample_drawn_face",
    "write_drawn_set",
]

GENERATOR_VERSION = "1.0"
SCHEME = "celebamask_hq_raw"
MAX_SIZE = 2048
EDITS_PER_BASE = 2

# raw CelebAMask-HQ ids
BG, SKIN, NOSE, EYE_G, L_EYE, R_EYE, L_BROW, R_BROW, L_EAR, R_EAR = range(10)
MOUTH, U_LIP, L_LIP, HAIR, HAT, EAR_R, NECK_L, NECK, CLOTH = range(10, 19)

# Independent jitter streams per part, so that editing one part leaves the wobble of every other outline as it was.
_P_HAIR, _P_FACE, _P_HAIRLINE, _P_EAR, _P_NOSE, _P_BROW, _P_EYE, _P_LIP, _P_NECK, _P_CLOTH, _P_TAIL = range(1, 12)

DRAWN_EDITS: dict[str, str] = {
    "hair_longer_left": "hair on the person's left (the IMAGE's right) falls 0.2 of the frame lower, over the shoulder",
    "hair_longer_right": "hair on the person's right (the IMAGE's left) falls 0.2 of the frame lower, over the shoulder",
    "eyes_bigger": "both eyes 15 % wider and 45 % more open",
    "mouth_open": "the lips part and show the mouth interior",
    "nose_bigger": "the nose 0.03 of the frame longer and 20 % wider",
    "fringe_swept": "a fringe swept across the forehead, away from the parting",
    "hair_fuller_one_side": "the fuller side of the hair gains 0.07 of the frame in volume (more asymmetric)",
}


@dataclass(frozen=True)
class DrawnFace:
    """Drawing parameters of one mask, in fractions of the frame (x to the right, y down).

    Suffix ``_l`` is the person's left (image right), ``_r`` the person's right (image left), as in
    CelebAMask-HQ's ``l_eye`` / ``r_eye``. ``seed`` fixes the per-vertex wobble of every outline.
    """

    seed: int
    cx: float  # face centre x
    face_half_width: float  # at the cheekbones
    face_top: float  # top of the forehead (usually under the hair)
    chin_y: float
    jaw_width: float  # jaw half-width relative to face_half_width
    chin_width: float  # chin half-width relative to face_half_width (small = pointy)
    eye_y: float
    eye_spacing: float  # from cx to each eye centre
    eye_width: float
    eye_opening: float  # lid to lid height
    eye_tilt: float  # radians, outer corners up
    brow_gap: float  # eye centre to brow centreline
    brow_length: float
    brow_thickness: float
    brow_arch: float
    nose_top: float
    nose_length: float
    nose_width: float  # across the nostrils
    bridge_width: float
    mouth_y: float
    mouth_width: float
    upper_lip: float  # height
    lower_lip: float  # height
    mouth_opening: float  # 0 = closed
    smile: float  # corners up
    ear_l: bool
    ear_r: bool
    ear_height: float
    ear_width: float
    hair_top: float  # crown, often above the frame
    hair_volume_l: float
    hair_volume_r: float
    hair_length_l: float  # y where the hair ends
    hair_length_r: float
    hair_front_l: bool  # that side falls in front of the shoulder
    hair_front_r: bool
    parting: float  # x offset of the parting from cx
    hairline_y: float
    fringe: float  # 0 = none, 1 = down to the brows
    fringe_sweep: float  # -1 swept to the image left, 0 straight, 1 to the image right
    hair_wave: float  # amplitude of a wavy outline
    hair_wave_count: float
    hair_tied: str  # "none", "bun", "ponytail"
    neck_half_width: float
    neck_shift: float
    cloth: bool
    shoulder_y: float
    shoulder_turn: float  # > 0: the image-right shoulder is nearer (wider, lower)
    shoulder_shift: float
    neckline: str  # "crew", "scoop", "v"
    neckline_depth: float
    glasses: bool
    hat: bool
    earrings: bool
    necklace: bool


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return round(float(rng.uniform(lo, hi)), 4)


def sample_drawn_face(rng: np.random.Generator) -> DrawnFace:
    """Draw the parameters of one face; the same generator state gives the same face."""
    def r(lo: float, hi: float) -> float:
        return _u(rng, lo, hi)

    seed = int(rng.integers(0, 2**31 - 1))
    cx = round(0.5 + float(np.clip(rng.normal(0, 0.008), -0.02, 0.02)), 4)
    face_hw = r(0.25, 0.28)
    style = str(rng.choice(["short", "medium", "long", "tied"], p=[0.28, 0.3, 0.34, 0.08]))
    vol_range, len_range = {"short": ((0.03, 0.09), (0.44, 0.56)), "medium": ((0.08, 0.2), (0.56, 0.8)),
                            "long": ((0.12, 0.24), (0.8, 1.02)), "tied": ((0.01, 0.04), (0.44, 0.5))}[style]
    vol, length = r(*vol_range), r(*len_range)
    vol_l = vol * float(np.clip(rng.normal(1.0, 0.3), 0.4, 1.8))
    vol_r = vol * float(np.clip(rng.normal(1.0, 0.3), 0.4, 1.8))
    len_l = length + rng.normal(0, 0.03)
    len_r = length + rng.normal(0, 0.03)
    if style in ("medium", "long") and rng.random() < 0.35:  # one side clearly longer (swept over a shoulder)
        extra = rng.uniform(0.06, 0.2)
        if rng.random() < 0.5:
            len_l += extra
        else:
            len_r += extra
    parting = r(-0.02, 0.02) if rng.random() < 0.3 else round(float(rng.choice([-1, 1]) * rng.uniform(0.04, 0.11)), 4)
    kind = rng.random()
    fringe, sweep = (0.0, 0.0) if kind < 0.45 else ((r(0.3, 0.85), 0.0) if kind < 0.7 else (r(0.4, 0.95), 0.0))
    if kind >= 0.7:
        sweep = -1.0 if parting > 0 else 1.0
    ears = rng.random() < (0.45 if style == "long" else 0.8)
    ear_one = rng.random() < 0.25
    ear_l, ear_r = ears, ears
    if ears and ear_one:
        ear_l, ear_r = (False, True) if rng.random() < 0.5 else (True, False)
    if style == "tied":
        ear_l = ear_r = True
    cloth = bool(rng.random() < 7 / 9)
    eye_y = round(0.48 + float(np.clip(rng.normal(0, 0.008), -0.02, 0.02)), 4)
    long_l, long_r = len_l > 0.78, len_r > 0.78
    return DrawnFace(
        seed=seed,
        cx=cx,
        face_half_width=face_hw,
        face_top=r(0.1, 0.14),
        chin_y=r(0.86, 0.9),
        jaw_width=r(0.8, 0.92),
        chin_width=r(0.22, 0.42),
        eye_y=eye_y,
        eye_spacing=r(0.11, 0.125),
        eye_width=r(0.068, 0.082),
        eye_opening=r(0.024, 0.034),
        eye_tilt=r(-0.08, 0.16),
        brow_gap=r(0.055, 0.068),
        brow_length=r(0.1, 0.125),
        brow_thickness=r(0.034, 0.048),
        brow_arch=r(0.006, 0.02),
        nose_top=r(0.46, 0.48),
        nose_length=r(0.17, 0.2),
        nose_width=r(0.13, 0.165),
        bridge_width=r(0.05, 0.07),
        mouth_y=r(0.732, 0.752),
        mouth_width=r(0.19, 0.235),
        upper_lip=r(0.022, 0.032),
        lower_lip=r(0.032, 0.045),
        mouth_opening=r(0.012, 0.035) if rng.random() < 0.2 else 0.0,
        smile=r(-0.004, 0.012),
        ear_l=bool(ear_l),
        ear_r=bool(ear_r),
        ear_height=r(0.13, 0.16),
        ear_width=r(0.075, 0.09),
        hair_top=r(-0.15, 0.02),
        hair_volume_l=round(float(vol_l), 4),
        hair_volume_r=round(float(vol_r), 4),
        hair_length_l=round(float(np.clip(len_l, 0.44, 1.1)), 4),
        hair_length_r=round(float(np.clip(len_r, 0.44, 1.1)), 4),
        hair_front_l=bool(long_l and rng.random() < 0.55),
        hair_front_r=bool(long_r and rng.random() < 0.55),
        parting=parting,
        hairline_y=r(0.14, 0.19),
        fringe=fringe,
        fringe_sweep=sweep,
        hair_wave=r(0.0, 0.018) if rng.random() < 0.4 else r(0.0, 0.005),
        hair_wave_count=r(5.0, 11.0),
        hair_tied="none" if style != "tied" else str(rng.choice(["bun", "ponytail"])),
        neck_half_width=r(0.095, 0.115),
        neck_shift=r(0.01, 0.05),
        cloth=cloth,
        shoulder_y=r(0.8, 0.88),
        shoulder_turn=round(float(np.clip(rng.normal(0.25, 0.4), -0.8, 0.9)), 4),
        shoulder_shift=r(0.02, 0.14),
        neckline=str(rng.choice(["crew", "scoop", "v"], p=[0.3, 0.4, 0.3])),
        neckline_depth=r(0.12, 0.3),
        glasses=bool(rng.random() < 0.08),
        hat=bool(rng.random() < 0.04),
        earrings=bool((ear_l or ear_r) and rng.random() < 0.15),
        necklace=bool(rng.random() < 0.1),
    )


def apply_drawn_edit(face: DrawnFace, edit: str) -> DrawnFace:
    """The face with one edit of :data:`DRAWN_EDITS` applied; everything else (and the wobble) stays."""
    rep = dataclasses.replace
    if edit == "hair_longer_left":
        return rep(face, hair_length_l=round(face.hair_length_l + 0.2, 4), hair_front_l=True)
    if edit == "hair_longer_right":
        return rep(face, hair_length_r=round(face.hair_length_r + 0.2, 4), hair_front_r=True)
    if edit == "eyes_bigger":
        return rep(face, eye_width=round(face.eye_width * 1.15, 4), eye_opening=round(face.eye_opening * 1.45, 4))
    if edit == "mouth_open":
        return rep(face, mouth_opening=round(face.mouth_opening + 0.03, 4))
    if edit == "nose_bigger":
        return rep(face, nose_length=round(face.nose_length + 0.03, 4), nose_width=round(face.nose_width * 1.2, 4),
                   bridge_width=round(face.bridge_width * 1.2, 4))
    if edit == "fringe_swept":
        sweep = -1.0 if face.parting > 0 else 1.0
        return rep(face, fringe=round(max(face.fringe + 0.3, 0.8), 4), fringe_sweep=sweep)
    if edit == "hair_fuller_one_side":
        if face.hair_volume_l >= face.hair_volume_r:
            return rep(face, hair_volume_l=round(face.hair_volume_l + 0.07, 4))
        return rep(face, hair_volume_r=round(face.hair_volume_r + 0.07, 4))
    raise ValueError(f"unknown drawn edit {edit!r}; edits: {', '.join(DRAWN_EDITS)}")


def edit_region(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixels whose label differs between two masks of the same size (the region an edit touched)."""
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} vs {b.shape}")
    return np.asarray(a) != np.asarray(b)


# --- curves ----------------------------------------------------------------------------------------


def _spline(anchors: list[tuple[float, float]], per_segment: int, closed: bool) -> np.ndarray:
    """Catmull-Rom through the anchors with a fixed vertex count per segment (keeps edits local)."""
    p = np.asarray(anchors, dtype=np.float64)
    if closed:
        ext = np.concatenate([p[-1:], p, p[:2]])
        segments = len(p)
    else:
        ext = np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
        segments = len(p) - 1
    t = np.arange(per_segment)[:, None] / per_segment
    t2, t3 = t * t, t * t * t
    out = []
    for i in range(segments):
        p0, p1, p2, p3 = ext[i], ext[i + 1], ext[i + 2], ext[i + 3]
        out.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (3 * p1 - p0 - 3 * p2 + p3) * t3))
    if not closed:
        out.append(p[-1:])
    return np.concatenate(out)


def _normals(v: np.ndarray, closed: bool) -> np.ndarray:
    if closed:
        d = np.roll(v, -1, axis=0) - np.roll(v, 1, axis=0)
    else:
        d = np.gradient(v, axis=0)
    n = np.stack([d[:, 1], -d[:, 0]], axis=1)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)


def _wobble(v: np.ndarray, offsets: np.ndarray, closed: bool) -> np.ndarray:
    return v + _normals(v, closed) * offsets[: len(v), None]


def _stream(face: DrawnFace, part: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([face.seed, part, *keys]))


def _noise(rng: np.random.Generator, n: int, white: float, smooth: float = 0.0, harmonics: int = 4) -> np.ndarray:
    """Per-vertex offsets: white jitter plus a few low harmonics (a hand that drifts)."""
    u = np.arange(n) / max(n - 1, 1)
    out = rng.normal(0, white, n)
    for k in range(1, harmonics + 1):
        out += smooth / k * math.sqrt(2) * rng.normal() * np.sin(2 * math.pi * k * u / 2 + rng.uniform(0, 2 * math.pi))
    return out


class _Canvas:
    """Label canvas in frame fractions; polygons filled at 1/8 pixel precision."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.labels = np.zeros((size, size), np.uint8)

    def _pts(self, pts: np.ndarray) -> np.ndarray:
        return np.round(np.asarray(pts) * self.size * 8).astype(np.int32).reshape(-1, 1, 2)

    def fill(self, pts: np.ndarray, label: int, target: np.ndarray | None = None) -> None:
        cv2.fillPoly(self.labels if target is None else target, [self._pts(pts)], int(label), cv2.LINE_8, shift=3)

    def stroke(self, pts: np.ndarray, label: int, width: float, closed: bool = False) -> None:
        thick = max(1, round(width * self.size))
        cv2.polylines(self.labels, [self._pts(pts)], closed, int(label), thick, cv2.LINE_8, shift=3)

    def mask(self, pts: np.ndarray) -> np.ndarray:
        m = np.zeros_like(self.labels)
        self.fill(pts, 1, m)
        return m.astype(bool)

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        c = (np.arange(self.size) + 0.5) / self.size
        return c[None, :], c[:, None]


# --- parts -----------------------------------------------------------------------------------------


def _face_outline(f: DrawnFace) -> np.ndarray:
    hw, cx = f.face_half_width, f.cx
    right = [(0.62 * hw, f.face_top + 0.03), (0.95 * hw, 0.3), (hw, 0.47), (0.98 * hw, 0.6),
             (f.jaw_width * hw, 0.73), (max(f.chin_width, 0.2) * hw + 0.08 * hw, 0.83)]
    anchors = [(cx, f.face_top)] + [(cx + x, y) for x, y in right] + [(cx, f.chin_y)]
    anchors += [(cx - x, y) for x, y in reversed(right)]
    v = _spline(anchors, 8, closed=True)
    return _wobble(v, _noise(_stream(f, _P_FACE), len(v), 0.0025, 0.004), closed=True)


def _face_half_width_at(f: DrawnFace, y: float) -> float:
    ys = np.array([0.3, 0.47, 0.6, 0.73, 0.83, f.chin_y])
    ws = np.array([0.95, 1.0, 0.98, f.jaw_width, f.chin_width + 0.08, 0.0]) * f.face_half_width
    return float(np.interp(y, ys, ws))


def _hair_outline(f: DrawnFace) -> tuple[np.ndarray, slice]:
    """The hair silhouette (closed polygon) and the slice of its vertices that forms the crown (top of the head)."""
    cx, hw, top = f.cx, f.face_half_width, f.hair_top
    hy = 0.42
    per = 10

    def side(s: int, vol: float, length: float) -> tuple[list, list]:
        rv = hy - top
        radius = hw + vol
        outer = [(cx + s * radius * math.sin(a), hy - rv * math.cos(a)) for a in (math.radians(38), math.radians(72))]
        outer.append((cx + s * (hw + vol * 1.05 + 0.01), 0.42))
        length = max(length, 0.47)
        spread = 1.0 + 0.4 * min(max(length - 0.7, 0.0) / 0.3, 1.0)
        mid = 0.42 + 0.55 * (length - 0.42)
        vol = max(vol, 0.05) if length > 0.58 else vol  # hair hanging below the jaw is at least a lock thick
        # hanging hair stays outside the cheek and jaw, or a longer side would hide behind the face
        outer.append((cx + s * max(hw * 0.97 + vol * spread, _face_half_width_at(f, mid) + 0.02 + vol), mid))
        tip_x = max(hw * 0.85 + vol * spread * 0.9, _face_half_width_at(f, min(length, 0.85)) + 0.015 + vol * 0.6)
        outer.append((cx + s * tip_x, length))
        neck_in = f.neck_half_width * 0.9
        inner_x = max(neck_in + 0.02, tip_x - 0.09) if length > 0.7 else hw * 0.8
        # always the same anchor count, so the wobble of the other side does not move when one side changes
        inner = [(cx + s * inner_x, length - 0.015)]
        if length > 0.7:
            inner.append((cx + s * neck_in, min(0.74, length - 0.04)))
        else:
            inner.append((cx + s * hw * 0.7, length + 0.02))
        inner.append((cx + s * hw * 0.6, 0.56))
        return outer, inner

    out_r, in_r = side(-1, f.hair_volume_r, f.hair_length_r)  # image left
    out_l, in_l = side(1, f.hair_volume_l, f.hair_length_l)  # image right
    crown = [(cx + f.parting * 0.3, top)]
    anchors = list(reversed(out_r)) + crown + out_l + in_l + [(cx, 0.5)] + list(reversed(in_r))
    v = _spline(anchors, per, closed=True)
    n = len(v)
    rng = _stream(f, _P_HAIR)
    offsets = _noise(rng, n, 0.003, 0.008, harmonics=6)
    u = np.arange(n) / n
    offsets += f.hair_wave * np.sin(2 * math.pi * f.hair_wave_count * 2 * u + rng.uniform(0, 2 * math.pi))
    # The crown runs from the anchor at the image-left temple (index 2) to the image-right one.
    crown_slice = slice(2 * per, (len(out_r) + 1 + 2) * per + 1)
    return _wobble(v, offsets, closed=True), crown_slice


def _hairline(f: DrawnFace) -> np.ndarray:
    """The lower edge of the hair over the forehead, image left to right, with parting and fringe."""
    n = 41
    t = np.linspace(-1.0, 1.0, n)
    reach = f.face_half_width * 0.97
    x = f.cx + reach * t
    temple = 0.35
    y = f.hairline_y + (temple - f.hairline_y) * np.abs(t) ** 1.8
    tp = np.clip(f.parting / reach, -0.9, 0.9)
    y -= 0.01 * np.exp(-(((t - tp) / 0.1) ** 2))
    rng = _stream(f, _P_HAIRLINE)
    if f.fringe > 0:
        brow = f.eye_y - f.brow_gap - 0.025
        if f.fringe_sweep == 0:
            g = np.clip(1.0 - np.abs(t) ** 3, 0, 1)
        else:
            d = (t - tp) * f.fringe_sweep
            g = np.clip(d / 1.1, 0, 1) ** 0.7 * np.clip(1.0 - np.abs(t) ** 6, 0, 1)
        depth = np.clip(brow - y, 0, None)
        tips = 0.5 + 0.5 * np.cos(2 * math.pi * 4.5 * (t + rng.uniform(0, 1)))
        y = y + f.fringe * depth * g - 0.012 * f.fringe * g * tips
    y = y + _noise(rng, n, 0.0025, 0.004)
    return np.stack([x, y], axis=1)


def _ear(f: DrawnFace, s: int) -> np.ndarray:
    y = 0.555
    x0 = f.cx + s * (_face_half_width_at(f, y) - 0.02)
    a = np.linspace(0, 2 * math.pi, 24, endpoint=False)
    # wider at the top (helix), narrow lobe at the bottom
    w = f.ear_width * (0.75 + 0.25 * np.cos(a))
    pts = np.stack([x0 + s * (w * (0.5 + 0.5 * np.sin(a) * 1.2)), y - f.ear_height / 2 * np.cos(a) * 1.0], axis=1)
    rng = _stream(f, _P_EAR, 0 if s < 0 else 1)
    return _wobble(pts, _noise(rng, len(pts), 0.002, 0.002), closed=True)


def _nose(f: DrawnFace) -> np.ndarray:
    cx, top, bottom = f.cx, f.nose_top, f.nose_top + f.nose_length
    bw, nw = f.bridge_width / 2, f.nose_width / 2
    right = [(bw, top), (bw * 1.1, top + 0.45 * f.nose_length), (nw * 0.7, bottom - 0.06), (nw, bottom - 0.03),
             (nw * 0.85, bottom - 0.005), (nw * 0.3, bottom)]
    anchors = [(cx + x, y) for x, y in right] + [(cx, bottom + 0.004)] + [(cx - x, y) for x, y in reversed(right)]
    anchors.append((cx, top - 0.004))
    v = _spline(anchors, 5, closed=True)
    return _wobble(v, _noise(_stream(f, _P_NOSE), len(v), 0.0015, 0.002), closed=True)


def _eye(f: DrawnFace, s: int) -> np.ndarray:
    ex, ey = f.cx + s * f.eye_spacing, f.eye_y
    u = np.linspace(0, 1, 13)
    x = ex - s * f.eye_width / 2 + s * f.eye_width * u
    lift = f.eye_tilt * f.eye_width * (u - 0.5)
    peak = u ** 0.75  # the upper lid peaks nearer the inner corner
    upper = ey - lift - 0.62 * f.eye_opening * np.sin(math.pi * peak) ** 0.9
    lower = ey - lift + 0.38 * f.eye_opening * np.sin(math.pi * u) ** 1.1
    pts = np.concatenate([np.stack([x, upper], 1), np.stack([x[::-1], lower[::-1]], 1)[1:-1]])
    rng = _stream(f, _P_EYE, 0 if s < 0 else 1)
    return _wobble(pts, _noise(rng, len(pts), 0.0008, 0.0), closed=True)


def _brow(f: DrawnFace, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Brush-stroke polygon of one brow and its centreline."""
    ex = f.cx + s * f.eye_spacing
    by = f.eye_y - f.brow_gap
    u = np.linspace(0, 1, 14)
    x = ex - s * 0.035 + s * f.brow_length * u
    arch = f.brow_arch * np.sin(math.pi * np.clip(u / 0.62, 0, 1) * 0.5) ** 2 - f.brow_arch * 1.8 * np.clip(u - 0.62, 0, 1) ** 1.5
    centre = np.stack([x, by + 0.006 - arch + 0.004 * (u - 0.5)], 1)
    half = f.brow_thickness / 2 * (1.0 - 0.65 * u ** 1.3) * (0.75 + 0.25 * np.sqrt(np.clip(u / 0.08, 0, 1)))
    rng = _stream(f, _P_BROW, 0 if s < 0 else 1)
    half = half * (1 + rng.normal(0, 0.06, len(u)))
    n = _normals(centre, closed=False)
    poly = np.concatenate([centre + n * half[:, None], (centre - n * half[:, None])[::-1]])
    return poly, centre


def _lips(f: DrawnFace) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    t = np.linspace(-1, 1, 25)
    x = f.cx + f.mouth_width / 2 * t
    line = f.mouth_y - f.smile * t ** 2 + 0.004 * t ** 2
    bow = 1.0 - 0.35 * np.exp(-((t / 0.14) ** 2))
    top = line - f.upper_lip * (1 - np.abs(t) ** 1.6) ** 0.7 * bow
    opening = f.mouth_opening * (1 - t ** 2) ** 0.8
    upper_bottom = line - 0.3 * opening
    lower_top = line + 0.7 * opening
    bottom = lower_top + f.lower_lip * (1 - t ** 2) ** 0.6
    rng = _stream(f, _P_LIP)
    top = top + rng.normal(0, 0.0008, len(t)) * (1 - np.abs(t))
    bottom = bottom + rng.normal(0, 0.001, len(t)) * (1 - np.abs(t))
    upper = np.concatenate([np.stack([x, top], 1), np.stack([x, upper_bottom], 1)[::-1]])
    lower = np.concatenate([np.stack([x, lower_top], 1), np.stack([x, bottom], 1)[::-1]])
    mouth = None
    if f.mouth_opening > 0:
        mouth = np.concatenate([np.stack([x, upper_bottom - 0.002], 1), np.stack([x, lower_top + 0.002], 1)[::-1]])
    return upper, lower, mouth


def _neck(f: DrawnFace) -> np.ndarray:
    cx, w = f.cx + f.neck_shift, f.neck_half_width
    base = f.shoulder_y - 0.05
    right = [(w, 0.66), (w, min(0.76, base - 0.05)), (w + 0.03, base - 0.005), (w + 0.12, base + 0.03), (w + 0.16, 1.06)]
    anchors = [(cx + x, y) for x, y in right] + [(cx - x, y) for x, y in reversed(right)]
    v = _spline(anchors, 6, closed=True)
    return _wobble(v, _noise(_stream(f, _P_NECK), len(v), 0.002, 0.003), closed=True)


def _cloth(f: DrawnFace) -> np.ndarray:
    cx = f.cx + f.neck_shift + f.shoulder_shift * 0.5
    w = f.neck_half_width + 0.015
    t = f.shoulder_turn
    y_l, y_r = f.shoulder_y + 0.02 * t, f.shoulder_y - 0.02 * t  # the nearer (image-right for t>0) shoulder sits lower
    reach_l, reach_r = 0.22 * (1 + 0.3 * t) + f.shoulder_shift, 0.22 * (1 - 0.3 * t)
    base = f.shoulder_y - 0.05
    depth = {"crew": 0.55, "scoop": 1.0, "v": 1.2}[f.neckline] * f.neckline_depth + 0.01
    if f.neckline == "v":
        collar = [(cx - w, base), (cx - w * 0.45, base + depth * 0.55), (cx, base + depth), (cx + w * 0.45, base + depth * 0.55)]
    else:
        collar = [(cx - w, base), (cx - w * 0.7, base + depth * 0.8), (cx, base + depth), (cx + w * 0.7, base + depth * 0.8)]
    anchors = [(cx - reach_r - 0.1, y_r + 0.12), (cx - reach_r, y_r + 0.03), (cx - w - 0.1, y_r - 0.025),
               *collar, (cx + w, base), (cx + w + 0.1, y_l - 0.025), (cx + reach_l, y_l + 0.03),
               (cx + reach_l + 0.1, y_l + 0.12), (cx + reach_l + 0.1, 1.08), (cx - reach_r - 0.1, 1.08)]
    v = _spline(anchors, 6, closed=True)
    return _wobble(v, _noise(_stream(f, _P_CLOTH), len(v), 0.002, 0.004), closed=True)


def _ponytail(f: DrawnFace) -> np.ndarray:
    s = 1 if f.parting >= 0 else -1
    x0 = f.cx + s * (f.face_half_width + 0.01)
    pts = [(x0 - s * 0.02, 0.5), (x0 + s * 0.035, 0.62), (x0 + s * 0.05, 0.78), (x0 + s * 0.03, 0.92),
           (x0 - s * 0.01, 0.97), (x0 - s * 0.02, 0.85), (x0 - s * 0.03, 0.7)]
    v = _spline(pts, 6, closed=True)
    return _wobble(v, _noise(_stream(f, _P_TAIL), len(v), 0.003, 0.005), closed=True)


def draw_mask(face: DrawnFace, size: int = 128) -> np.ndarray:
    """Render the face as a ``(size, size)`` uint8 label map of raw CelebAMask-HQ ids, painted back to front."""
    if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= MAX_SIZE:
        raise ValueError(f"mask size must be a whole number between 8 and {MAX_SIZE} pixels, got {size!r}")
    f = face
    c = _Canvas(size)
    xs, ys = c.grid()
    hair, crown = _hair_outline(f)
    hair_mask = c.mask(hair)
    if f.hair_tied == "bun":
        a = np.linspace(0, 2 * math.pi, 20, endpoint=False)
        r = 0.095 + _noise(_stream(f, _P_TAIL), 20, 0.004)
        hair_mask |= c.mask(np.stack([f.cx + f.parting * 0.3 + r * np.cos(a), f.hair_top + 0.02 + 0.8 * r * np.sin(a)], 1))
    c.labels[hair_mask] = HAIR
    c.fill(_neck(f), NECK)
    if f.cloth:
        c.fill(_cloth(f), CLOTH)
    if f.necklace:
        ncx, w = f.cx + f.neck_shift, f.neck_half_width
        t = np.linspace(-1, 1, 15)
        c.stroke(np.stack([ncx + (w + 0.01) * t, f.shoulder_y - 0.06 + 0.05 * (1 - t ** 2)], 1), NECK_L, 0.008)
    # Long hair that falls in front of a shoulder is painted again over neck and cloth.
    below = ys > 0.7
    for s, front, length in ((1, f.hair_front_l, f.hair_length_l), (-1, f.hair_front_r, f.hair_length_r)):
        if front and length > 0.72:
            side = s * (xs - (f.cx + f.neck_shift)) > f.neck_half_width * 0.85
            c.labels[hair_mask & below & side] = HAIR
    if f.hair_tied == "ponytail":
        c.fill(_ponytail(f), HAIR)
    if f.ear_l:
        c.fill(_ear(f, 1), L_EAR)
    if f.ear_r:
        c.fill(_ear(f, -1), R_EAR)
    face_poly = _face_outline(f)
    c.fill(face_poly, SKIN)
    line = _hairline(f)
    top_part = hair[crown]
    c.fill(np.concatenate([top_part, line[::-1]]), HAIR)
    if f.hat:
        brim = f.hairline_y - 0.015
        hw = f.face_half_width + max(f.hair_volume_l, f.hair_volume_r) + 0.03
        t = np.linspace(-1, 1, 21)
        dome = np.stack([f.cx + hw * 0.85 * t, brim - 0.05 - 0.3 * np.sqrt(np.clip(1 - t ** 2, 0, 1))], 1)
        brim_line = np.stack([f.cx + hw * t[::-1], brim + 0.02 * (1 - t ** 2)], 1)
        c.fill(np.concatenate([dome, brim_line]), HAT)
    c.fill(_nose(f), NOSE)
    for s, label in ((1, L_BROW), (-1, R_BROW)):
        poly, centre = _brow(f, s)
        c.fill(poly, label)
        c.stroke(centre[:-2], label, f.brow_thickness * 0.35)
    for s, label in ((1, L_EYE), (-1, R_EYE)):
        c.fill(_eye(f, s), label)
    upper, lower, mouth = _lips(f)
    c.fill(upper, U_LIP)
    c.fill(lower, L_LIP)
    if mouth is not None:
        c.fill(mouth, MOUTH)
    if f.glasses:
        width = 0.009
        for s in (1, -1):
            ex = f.cx + s * f.eye_spacing
            a = np.linspace(0, 2 * math.pi, 28, endpoint=False)
            lens = np.stack([ex + 0.062 * np.sign(np.cos(a)) * np.abs(np.cos(a)) ** 0.6,
                             f.eye_y + 0.005 + 0.04 * np.sign(np.sin(a)) * np.abs(np.sin(a)) ** 0.7], 1)
            c.stroke(lens, EYE_G, width, closed=True)
            arm = [(ex + s * 0.062, f.eye_y - 0.01), (f.cx + s * (_face_half_width_at(f, f.eye_y) + 0.01), f.eye_y - 0.015)]
            c.stroke(np.asarray(arm), EYE_G, width)
        bridge = np.array([(f.cx - 0.05, f.eye_y - 0.005), (f.cx, f.eye_y - 0.015), (f.cx + 0.05, f.eye_y - 0.005)])
        c.stroke(bridge, EYE_G, width)
    if f.earrings:
        for s, shown in ((1, f.ear_l), (-1, f.ear_r)):
            if shown:
                ey = 0.555 + f.ear_height / 2 + 0.008
                ex = f.cx + s * (_face_half_width_at(f, ey - 0.02) + 0.004)
                cv2.circle(c.labels, (int(ex * size * 8), int(ey * size * 8)), max(1, int(0.011 * size * 8)), EAR_R,
                           -1, cv2.LINE_8, shift=3)
    return c.labels


# --- data set --------------------------------------------------------------------------------------


def _check(out_dir, count: int, size: int, overwrite: bool) -> Path:
    for name, value in (("count", count), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be a whole number, got {value!r}")
    if count < 1:
        raise ValueError(f"the number of masks must be at least 1, got {count}")
    if not 16 <= size <= MAX_SIZE:
        raise ValueError(f"mask size must be between 16 and {MAX_SIZE} pixels, got {size}")
    return prepare_output_folder(out_dir, overwrite, "drawn.json", "DrawnFaces set")


def _edit_plan(seed: int, count: int) -> list[list[str]]:
    """Edits of each base: a shuffled cycle through all edits, so a set of >= 4 bases covers every edit."""
    names = list(DRAWN_EDITS)
    order = [names[i] for i in np.random.default_rng(np.random.SeedSequence([seed, 99])).permutation(len(names))]
    return [[order[(EDITS_PER_BASE * i + k) % len(order)] for k in range(EDITS_PER_BASE)] for i in range(count)]


def write_drawn_set(out_dir: str | os.PathLike, count: int, size: int = 128, seed: int = 0, edits: bool = True,
                    overwrite: bool = False) -> dict:
    """Write ``count`` drawn masks (and, with ``edits``, two edited variants of each) to ``out_dir``.

    Layout: ``masks/<name>.png`` (mode L, raw ids), ``index.json`` (one entry per mask with its drawing
    parameters) and ``drawn.json`` (generator, version, seed, counts). The same arguments give the same bytes.

    Raises:
        ValueError: with a one-line message for bad arguments or an unusable output folder.
        TypeError: when the count or the size is not a whole number.
    """
    out = _check(out_dir, count, size, overwrite)
    for name in ("masks", "index.json", "drawn.json"):
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    (out / "masks").mkdir()
    started = time.perf_counter()
    plan = _edit_plan(seed, count) if edits else [[] for _ in range(count)]
    entries = []
    for i in range(count):
        base = sample_drawn_face(np.random.default_rng(np.random.SeedSequence([seed, i])))
        name = f"drawn{i:03d}"
        variants = [(name, None, base)] + [(f"{name}_{e}", e, apply_drawn_edit(base, e)) for e in plan[i]]
        for vname, edit, face in variants:
            file = f"masks/{vname}.png"
            Image.fromarray(draw_mask(face, size), mode="L").save(out / file, optimize=True)
            entries.append({
                "name": vname, "file": file, "scheme": SCHEME, "yaw": 0.0, "pitch": 0.0, "base": name, "edit": edit,
                "description": DRAWN_EDITS[edit] if edit else "drawn base mask",
                "params": dataclasses.asdict(face),
            })
    seconds = time.perf_counter() - started
    (out / "index.json").write_text(json.dumps(entries, indent=1) + "\n")
    edited = len(entries) - count
    description = {
        "generator": "sem2nerf.drawn", "version": GENERATOR_VERSION, "seed": seed, "base_masks": count,
        "edited_masks": edited, "masks": len(entries), "size": size, "label_scheme": SCHEME,
        "pose": {"yaw": 0.0, "pitch": 0.0},
        "left_right": "l_eye / l_brow / l_ear are the person's left: the image's right (x > 0.5)",
        "edits": {e: DRAWN_EDITS[e] for e in DRAWN_EDITS if any(e in p for p in plan)},
        "purpose": "out-of-family evaluation masks; never used for training",
    }
    (out / "drawn.json").write_text(json.dumps(description, indent=2) + "\n")
    return {"out_dir": str(out), "base_masks": count, "edited_masks": edited, "masks": len(entries), "size": size,
            "seconds": round(seconds, 3), "masks_per_second": round(len(entries) / seconds, 1) if seconds > 0 else math.inf}


def contact_sheet(count: int = 8, size: int = 160, seed: int = 7) -> Image.Image:
    """Coloured sheet: one column per base mask, the base on top and its two edits below, each captioned."""
    from PIL import ImageDraw

    from .labels import get_label_scheme

    scheme = get_label_scheme(SCHEME)
    caption = 14
    sheet = Image.new("RGB", (count * (size + 4), 3 * (size + caption + 4)), (255, 255, 255))
    pen = ImageDraw.Draw(sheet)
    for i, edits in enumerate(_edit_plan(seed, count)):
        base = sample_drawn_face(np.random.default_rng(np.random.SeedSequence([seed, i])))
        for row, edit in enumerate([None, *edits]):
            face = base if edit is None else apply_drawn_edit(base, edit)
            x, y = i * (size + 4), row * (size + caption + 4)
            pen.text((x + 2, y + 1), f"drawn{i:03d}" if edit is None else edit, fill=(0, 0, 0))
            sheet.paste(Image.fromarray(scheme.colorize(draw_mask(face, size))), (x, y + caption))
    return sheet


# --- command line ----------------------------------------------------------------------------------


def add_drawn_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m sem2nerf drawn``."""
    parser.add_argument("--out", required=True, help="output folder (new or empty)")
    parser.add_argument("--count", type=int, default=100, help="number of base masks (default 100)")
    parser.add_argument("--size", type=int, default=128, help="mask side in pixels (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same bytes")
    parser.add_argument("--no-edits", action="store_true", help="base masks only, no edited variants")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier DrawnFaces set in --out")


def run_drawn(args: argparse.Namespace) -> int:
    """Run the ``drawn`` command; print a one-line error and return 2 on bad arguments."""
    try:
        summary = write_drawn_set(args.out, args.count, args.size, args.seed, edits=not args.no_edits,
                                  overwrite=args.overwrite)
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {summary['masks']} masks ({summary['base_masks']} drawn, {summary['edited_masks']} edited) of "
          f"{summary['size']}x{summary['size']} to {summary['out_dir']} in {summary['seconds']:.2f} s, "
          f"{summary['masks_per_second']:.0f} masks/s")
    return 0
