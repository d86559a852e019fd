"""How face masks are framed: per-class statistics of a set of masks, and the real CelebAMask-HQ values to match.

:func:`framing_statistics` measures raw-id masks (CelebAMask-HQ ids, full frame before the domain's 80 % crop):
each class's share of the frame, centroid, extent and whether it runs off the frame (and off the crop).
:data:`REAL_FRAMING` holds the same statistics measured on real CelebAMask-HQ annotation masks (published
statistics, not data), and :func:`framing_report` compares a measurement with them against :data:`TOLERANCES`.
Fractions are of the frame's side: x to the image's right, y down.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .head import LABELS

__all__ = ["REAL_FRAMING", "TOLERANCES", "framing_report", "framing_statistics"]

_NAMES = {v: k for k, v in LABELS.items()}

# Real CelebAMask-HQ annotation masks (512 x 512), per class: area % of the frame, centroid (x, y), mean extent
# (x range, y range) and the share of masks in which the class touches the frame's border.
REAL_FRAMING: dict[str, dict] = {
    "background": {"area": 28.5, "border": 1.0},
    "skin": {"area": 25.8, "centroid": (0.50, 0.54), "x_range": (0.24, 0.76), "y_range": (0.19, 0.92), "border": 0.0},
    "nose": {"area": 2.1, "centroid": (0.50, 0.58), "x_range": (0.42, 0.58), "y_range": (0.47, 0.67)},
    "l_eye": {"area": 0.2, "centroid": (0.62, 0.48)},
    "r_eye": {"area": 0.2, "centroid": (0.38, 0.48)},
    "l_brow": {"area": 0.5, "centroid": (0.64, 0.42)},
    "r_brow": {"area": 0.6, "centroid": (0.37, 0.42)},
    "u_lip": {"area": 0.4, "centroid": (0.50, 0.73), "x_range": (0.39, 0.61)},
    "l_lip": {"area": 0.7, "centroid": (0.50, 0.77), "x_range": (0.39, 0.61)},
    "l_ear": {"area": 0.6, "centroid": (0.80, 0.55), "present": 2 / 3},
    "r_ear": {"area": 0.7, "centroid": (0.20, 0.55), "present": 2 / 3},
    "hair": {"area": 31.5, "centroid": (0.50, 0.33), "x_range": (0.08, 0.92), "y_range": (0.00, 0.79), "border": 1.0},
    "neck": {"area": 4.3, "centroid": (0.52, 0.92), "x_range": (0.30, 0.73), "y_range": (0.75, 1.00), "border": 1.0},
    "cloth": {"area": 5.2, "centroid": (0.61, 0.93), "x_range": (0.23, 0.95), "y_range": (0.77, 1.00), "border": 1.0,
              "present": 7 / 9},
}

# How close a measured statistic must be to the real one to count as matching: large areas within 6 points of %,
# small parts' areas within a factor of 2, centroids and extents within a few hundredths of the frame.
TOLERANCES = {"area_small_factor": 2.0, "area_large": 6.0, "centroid": 0.035, "range": 0.05}
_LARGE = 3.0  # classes above this area % use the large tolerance


def _class_statistics(labels: np.ndarray, cls: int, crop_fraction: float) -> dict | None:
    inside = labels == cls
    if not inside.any():
        return None
    h, w = labels.shape
    ys, xs = np.nonzero(inside)
    fx, fy = (xs + 0.5) / w, (ys + 0.5) / h
    lo, hi = (1.0 - crop_fraction) / 2, (1.0 + crop_fraction) / 2
    in_crop = (fx >= lo) & (fx <= hi) & (fy >= lo) & (fy <= hi)
    step = 1.0 / min(h, w)
    return {
        "area": 100.0 * inside.mean(),
        "centroid": (float(fx.mean()), float(fy.mean())),
        "x_range": (float(xs.min() / w), float((xs.max() + 1) / w)),
        "y_range": (float(ys.min() / h), float((ys.max() + 1) / h)),
        "border": bool(xs.min() == 0 or ys.min() == 0 or xs.max() == w - 1 or ys.max() == h - 1),
        "crop_top_or_sides": bool(in_crop.any() and (fy[in_crop].min() < lo + step or fx[in_crop].min() < lo + step
                                                     or fx[in_crop].max() > hi - step)),
        "crop_bottom": bool(in_crop.any() and fy[in_crop].max() > hi - step),
    }


def framing_statistics(masks: Iterable[np.ndarray], crop_fraction: float = 0.8) -> dict[str, dict]:
    """Per-class framing statistics of raw-id masks ``(H, W)`` (full frames).

    For each class that occurs: ``present`` (share of masks that have it), ``area`` (mean % of the frame over
    all masks), and over the masks that have it: mean ``centroid``, mean ``x_range`` / ``y_range`` (each mask's
    extent), ``border`` (share touching the frame's edge), ``crop_top_or_sides`` / ``crop_bottom`` (share reaching
    the top or a side edge / the bottom edge of the central ``crop_fraction`` crop that the encoder sees).
    Also ``"_any"``: ``neck_or_cloth_crop_bottom``, the share of masks whose neck or clothes reach the crop's bottom.
    """
    per_class: dict[int, list] = {}
    count = 0
    bottom = 0
    for labels in masks:
        labels = np.asarray(labels)
        count += 1
        reached = False
        for cls in np.unique(labels):
            stats = _class_statistics(labels, int(cls), crop_fraction)
            per_class.setdefault(int(cls), []).append(stats)
            reached |= int(cls) in (LABELS["neck"], LABELS["cloth"]) and stats["crop_bottom"]
        bottom += reached
    if count == 0:
        raise ValueError("framing_statistics needs at least one mask")
    out: dict[str, dict] = {}
    for cls, rows in sorted(per_class.items()):
        out[_NAMES.get(cls, str(cls))] = {
            "present": len(rows) / count,
            "area": sum(r["area"] for r in rows) / count,
            "centroid": tuple(float(np.mean([r["centroid"][i] for r in rows])) for i in range(2)),
            "x_range": tuple(float(np.mean([r["x_range"][i] for r in rows])) for i in range(2)),
            "y_range": tuple(float(np.mean([r["y_range"][i] for r in rows])) for i in range(2)),
            "border": float(np.mean([r["border"] for r in rows])),
            "crop_top_or_sides": float(np.mean([r["crop_top_or_sides"] for r in rows])),
            "crop_bottom": float(np.mean([r["crop_bottom"] for r in rows])),
        }
    out["_any"] = {"neck_or_cloth_crop_bottom": bottom / count, "masks": count}
    return out


def framing_report(measured: dict[str, dict]) -> list[dict]:
    """One row per real statistic: the class, the statistic, the real and the measured value, and ``ok`` when
    the measurement is within :data:`TOLERANCES` of the real one (a missing class is not ok)."""
    rows = []
    for name, real in REAL_FRAMING.items():
        got = measured.get(name)
        for key, value in real.items():
            if key == "present":
                continue
            mine = None if got is None else got[key]
            if key == "area" and value > _LARGE:
                ok = mine is not None and abs(mine - value) <= TOLERANCES["area_large"]
            elif key == "area":  # small parts: within a factor
                ok = mine is not None and 1 / TOLERANCES["area_small_factor"] <= mine / value <= TOLERANCES["area_small_factor"]
            elif key == "border":
                ok = mine is not None and abs(mine - value) <= 0.25
            else:
                tol = TOLERANCES["centroid" if key == "centroid" else "range"]
                ok = mine is not None and all(abs(a - b) <= tol for a, b in zip(mine, value, strict=True))
            rows.append({"class": name, "statistic": key, "real": value, "measured": mine, "ok": bool(ok)})
    return rows
