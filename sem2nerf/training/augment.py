"""Mask realism: make an exact (SynthFaces) label mask look like a hand-annotated CelebAMask-HQ mask.

CelebAMask-HQ masks are polygons drawn by people: outlines are polygonised and a little off, neighbouring regions
leave thin unlabelled slivers between them, regions have small holes, small classes are sometimes not annotated
at all and one annotator draws a class a pixel thicker than the next. :func:`hand_annotated` imitates those
effects on a raw-id mask (scheme ``celebamask_hq_raw``) so that the encoder learns to read such masks; it is
meant for the encoder's input only, never for the targets of the render losses.

Every magnitude is given in pixels of a ``reference_size`` (512 px, the CelebAMask-HQ annotation side) mask and
scaled to the mask's own side, so a 128 px and a 512 px mask change by about the same share of their pixels.
Sub-pixel magnitudes are kept right on average (stochastic rounding, area-preserving lengths) rather than rounded
away, which is what keeps small masks comparable to large ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

__all__ = ["DRAW_ORDER", "MaskRealism", "hand_annotated"]

# Raw CelebAMask-HQ ids (sem2nerf.labels scheme celebamask_hq_raw).
_SKIN, _NOSE, _EYE_G, _L_EYE, _R_EYE, _L_BROW, _R_BROW, _L_EAR, _R_EAR = 1, 2, 3, 4, 5, 6, 7, 8, 9
_MOUTH, _U_LIP, _L_LIP, _HAIR, _HAT, _EAR_R, _NECK_L, _NECK, _CLOTH = 10, 11, 12, 13, 14, 15, 16, 17, 18
_NUM_IDS = 19

DRAW_ORDER: tuple[int, ...] = (
    _CLOTH, _NECK, _NECK_L, _HAIR, _HAT, _SKIN, _L_EAR, _R_EAR, _EAR_R, _NOSE,
    _L_LIP, _U_LIP, _MOUTH, _L_EYE, _R_EYE, _L_BROW, _R_BROW, _EYE_G,
)
"""The order in which an annotator draws the classes: large regions first, small parts on top of them."""

# Classes an annotator may leave out, each group at once (both brows are skipped together, an ear on its own).
_DROP_GROUPS: tuple[tuple[int, ...], ...] = (
    (_L_BROW, _R_BROW), (_L_EYE, _R_EYE), (_NOSE,), (_MOUTH,), (_L_EAR,), (_R_EAR,), (_EYE_G,), (_EAR_R,), (_NECK_L,),
)
_FACE_PARTS = frozenset((_L_BROW, _R_BROW, _L_EYE, _R_EYE, _NOSE))
_MIN_EPSILON = 0.7  # px at the mask's own side
_HOLED = (_SKIN, _HAIR, _CLOTH, _NECK, _HAT)  # regions large enough for an annotator to leave a hole in


@dataclass(frozen=True)
class MaskRealism:
    """How strongly :func:`hand_annotated` imitates a hand-drawn mask.

    Lengths are pixels at ``reference_size``; ``strength`` multiplies every probability (clipped to 1) and every
    length, so ``MaskRealism(strength=0)`` changes nothing and ``strength=2`` is twice as sloppy.
    """

    strength: float = 1.0
    """Global multiplier of every probability and magnitude below (0: the mask is returned unchanged)."""
    reference_size: int = 512
    """Mask side (px) at which the lengths below are given; they scale with ``max(H, W) / reference_size``."""
    polygon_epsilon: float = 1.5
    """``cv2.approxPolyDP`` tolerance of each outline (px): how far straight polygon edges cut across curves."""
    vertex_jitter: float = 1.0
    """Standard deviation (px) of the independent offset of each polygon vertex (the annotator's click error)."""
    resize_prob: float = 0.15
    """Per class: the chance that it is drawn thicker or thinner than it is (dilated or eroded)."""
    resize_px: float = 1.0
    """How much thicker or thinner (px)."""
    gap_prob: float = 0.15
    """Per pair of touching classes: the chance of an unlabelled sliver along a stretch of their shared boundary."""
    gap_width: float = 1.5
    """Width of a sliver (px)."""
    gap_length: float = 24.0
    """Half the length of a sliver's stretch of boundary (px)."""
    hole_prob: float = 0.2
    """Per large region (skin, hair, cloth, neck, hat): the chance that it has unlabelled holes."""
    hole_count: int = 2
    """At most this many holes in a region that has holes."""
    hole_radius: float = 3.0
    """Mean radius of a hole (px)."""
    drop_prob: float = 0.04
    """Per group of small classes (both brows, both eyes, nose, mouth, each ear, glasses, earring, necklace): the
    chance that it is not annotated and is filled with what surrounds it."""


def hand_annotated(labels: np.ndarray, rng: np.random.Generator, realism: MaskRealism | None = None) -> np.ndarray:
    """A hand-annotated-looking copy of a raw CelebAMask-HQ id mask.

    Args:
        labels: ``(H, W)`` uint8 ids 0-18 (scheme ``celebamask_hq_raw``).
        rng: the only source of randomness: the same generator state gives the same mask.
        realism: effect probabilities and magnitudes (``None``: the defaults).

    Returns:
        A new ``(H, W)`` uint8 mask whose ids are among the input's ids and background; a mask with any
        foreground keeps some foreground.
    """
    realism = realism or MaskRealism()
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.dtype != np.uint8:
        raise ValueError(f"hand_annotated: expected an (H, W) uint8 mask, got {labels.shape} {labels.dtype}")
    if labels.size and int(labels.max()) >= _NUM_IDS:
        raise ValueError(f"hand_annotated: ids must be 0-{_NUM_IDS - 1} (celebamask_hq_raw), got {int(labels.max())}")
    s = float(realism.strength)
    if s <= 0 or not labels.any():
        return labels.copy()
    px = max(labels.shape) / realism.reference_size * s  # one reference pixel at this side and strength

    def chance(p: float) -> bool:
        return bool(rng.random() < min(1.0, p * s))

    work = _drop_classes(labels, rng, lambda: chance(realism.drop_prob))
    # below ~0.7 px approxPolyDP keeps every half-pixel stair step of a pixel outline: the outline would stay the
    # pixel outline (unchanged by jitter too small to cross pixel centres) and small masks would look exact
    epsilon = max(realism.polygon_epsilon * px, _MIN_EPSILON) if realism.polygon_epsilon > 0 else 0.0
    canvas = _redraw(work, rng, epsilon, realism.vertex_jitter * px,
                     lambda: chance(realism.resize_prob), realism.resize_px * px)
    _add_gaps(canvas, rng, lambda: chance(realism.gap_prob), realism.gap_width * px, realism.gap_length * px)
    _add_holes(canvas, rng, lambda: chance(realism.hole_prob), realism.hole_count, realism.hole_radius * px)
    if not canvas.any():  # never hand back an empty mask for a drawn one
        return labels.copy()
    return canvas


def _stochastic_round(value: float, rng: np.random.Generator) -> int:
    """``floor(value)`` or ``ceil(value)``, with the mean ``value``: sub-pixel sizes stay right on average."""
    low = int(np.floor(value))
    return low + int(rng.random() < value - low)


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _nearest_fill(labels: np.ndarray, region: np.ndarray, allowed: np.ndarray) -> None:
    """Give each pixel of ``region`` the label of its nearest ``allowed`` pixel (in place)."""
    if not allowed.any():
        return
    _, (iy, ix) = ndimage.distance_transform_edt(~allowed, return_indices=True)
    labels[region] = labels[iy[region], ix[region]]


def _drop_classes(labels: np.ndarray, rng: np.random.Generator, drop) -> np.ndarray:
    """(d) Leave some small classes out: each dropped class takes the label an annotator would have drawn there."""
    work = labels.copy()
    present = set(np.unique(labels).tolist())
    for group in _DROP_GROUPS:
        ids = [c for c in group if c in present]
        if not ids or not drop():
            continue
        region = np.isin(work, ids)
        if not region.any():
            continue
        if _FACE_PARTS.issuperset(ids) and _SKIN in present:
            work[region] = _SKIN
        elif ids == [_MOUTH]:
            lips = np.isin(work, (_U_LIP, _L_LIP))
            if lips.any() and (rng.random() < 0.5 or _SKIN not in present):
                _nearest_fill(work, region, lips)  # an open mouth closed into the lips, each lip its own half
            elif _SKIN in present:
                work[region] = _SKIN
            else:
                _nearest_fill(work, region, ~region)
        elif ids in ([_L_EAR], [_R_EAR]):
            under = [c for c in (_SKIN, _HAIR) if c in present]
            if under:
                work[region] = under[0] if len(under) == 1 or rng.random() < 0.7 else under[1]
            else:
                _nearest_fill(work, region, ~region)
        else:  # accessories (and face parts without skin): what is under them is what surrounds them
            _nearest_fill(work, region, ~region)
    return work


def _redraw(labels: np.ndarray, rng: np.random.Generator, epsilon: float, jitter: float, resize, resize_px: float
            ) -> np.ndarray:
    """(a, e) Redraw every class as jittered polygons in :data:`DRAW_ORDER`, some a little thicker or thinner.

    A class is drawn over the later classes inside its outline (the skin under the eyes), as an annotator outlines
    the face and then draws the eyes on it, so a later class that shrinks shows what is under it, not background.
    """
    canvas = np.zeros_like(labels)
    present = set(np.unique(labels).tolist())
    order = [c for c in DRAW_ORDER if c in present] + sorted(present - set(DRAW_ORDER) - {0})
    for k, c in enumerate(order):
        own = labels == c
        region = own | (_fill_outer(own) & np.isin(labels, order[k + 1:]))
        if resize():
            r = _stochastic_round(resize_px, rng)
            if r > 0:
                grow = rng.random() < 0.5
                op = cv2.dilate if grow else cv2.erode
                changed = op(region.astype(np.uint8), _disc(r)) > 0
                region = changed if grow or (changed & own).any() else region
        drawn = _polygons(region, rng, epsilon, jitter)
        canvas[drawn] = c
    lost = [c for c in order if not (canvas == c).any()]
    for c in lost:  # a class too small for its polygon keeps its exact pixels: only (d) removes classes
        canvas[labels == c] = c
    return canvas


def _fill_outer(binary: np.ndarray) -> np.ndarray:
    """``binary`` with its holes filled."""
    contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros(binary.shape, np.uint8)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled > 0


_SHIFT = 4  # fillPoly fixed-point bits: vertices keep 1/16 px, so sub-pixel jitter is not rounded away


def _polygons(binary: np.ndarray, rng: np.random.Generator, epsilon: float, jitter: float) -> np.ndarray:
    """A region redrawn from its outlines: each outer contour and each hole polygonised and jittered.

    Holes are traced on the hole's own pixels (and redrawn recursively, islands in holes included), so the
    region's inner boundary is jittered both ways instead of always losing its border pixels.
    """
    h, w = binary.shape
    contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.zeros((h, w), np.uint8)
    exact = np.zeros((h, w), np.uint8)
    polys = []
    for contour in contours:
        cv2.drawContours(exact, [contour], -1, 1, thickness=cv2.FILLED)
        poly = cv2.approxPolyDP(contour, epsilon, True) if epsilon > 0 else contour
        if len(poly) < 3:
            poly = contour
        pts = poly[:, 0, :].astype(np.float64)
        moved = pts + rng.normal(0.0, jitter, pts.shape) if jitter > 0 else pts
        # vertices on the frame's edge stay on it: a region cut by the frame has no drawn outline there
        for axis, last in ((0, w - 1), (1, h - 1)):
            on_edge = (pts[:, axis] <= 0) | (pts[:, axis] >= last)
            moved[on_edge, axis] = pts[on_edge, axis]
        moved = np.clip(moved, -0.5, np.array([w - 0.5, h - 0.5]))
        polys.append(np.round(moved * (1 << _SHIFT)).astype(np.int32))
    if polys:
        cv2.fillPoly(out, polys, 1, lineType=cv2.LINE_8, shift=_SHIFT)
    drawn = out > 0
    holes = (exact > 0) & ~binary
    if holes.any():
        drawn &= ~_polygons(holes, rng, epsilon, jitter)
    return drawn


def _neighbour_pairs(canvas: np.ndarray) -> list[tuple[int, int]]:
    """Pairs ``(a, b)``, ``0 < a < b``, of classes that touch (4-neighbours), sorted."""
    pairs = set()
    for a, b in ((canvas[:, :-1], canvas[:, 1:]), (canvas[:-1, :], canvas[1:, :])):
        touch = (a != b) & (a > 0) & (b > 0)
        lo, hi = np.minimum(a[touch], b[touch]), np.maximum(a[touch], b[touch])
        pairs.update(zip(lo.tolist(), hi.tolist(), strict=True))
    return sorted(pairs)


def _add_gaps(canvas: np.ndarray, rng: np.random.Generator, gap, width: float, length: float) -> None:
    """(b) Thin background slivers along stretches of some shared boundaries (in place).

    A sliver is cut from the larger of the two classes (an eye stays an eye, the skin around it opens). Its width
    is at least one pixel; a sub-pixel width shortens the stretch instead, so the sliver keeps its area.
    """
    if width <= 0 or length <= 0:
        return
    h, w = canvas.shape
    ys, xs = np.mgrid[0:h, 0:w]
    for a, b in _neighbour_pairs(canvas):
        if not gap():
            continue
        in_a, in_b = canvas == a, canvas == b
        side, other = (in_a, in_b) if in_a.sum() >= in_b.sum() else (in_b, in_a)
        k = max(1, round(width))
        band = side & (cv2.dilate(other.astype(np.uint8), _disc(k)) > 0)
        if not band.any():
            continue
        by, bx = np.nonzero(band)
        i = int(rng.integers(len(by)))
        reach = length * min(1.0, width / k)
        canvas[band & ((ys - by[i]) ** 2 + (xs - bx[i]) ** 2 <= reach ** 2)] = 0


def _add_holes(canvas: np.ndarray, rng: np.random.Generator, holed, count: int, radius: float) -> None:
    """(c) Small unlabelled holes inside some large regions (in place)."""
    if count < 1 or radius <= 0:
        return
    h, w = canvas.shape
    for c in _HOLED:
        inside = canvas == c
        if not inside.any() or not holed():
            continue
        for _ in range(int(rng.integers(1, count + 1))):
            r = radius * rng.uniform(0.5, 1.5)
            core = cv2.erode(inside.astype(np.uint8), _disc(int(np.ceil(r)) + 1)) > 0
            if not core.any():
                break
            cy, cx = np.nonzero(core)
            i = int(rng.integers(len(cy)))
            hole = np.zeros((h, w), np.uint8)
            if np.pi * r * r < 1.0:  # smaller than a pixel: one pixel, as often as keeps the mean area
                hole[cy[i], cx[i]] = rng.random() < np.pi * r * r
            else:
                angles = np.sort(rng.uniform(0, 2 * np.pi, 7))
                radii = r * rng.uniform(0.6, 1.3, 7)
                pts = np.stack([cx[i] + radii * np.cos(angles), cy[i] + radii * np.sin(angles)], 1)
                cv2.fillPoly(hole, [np.round(pts * (1 << _SHIFT)).astype(np.int32)], 1, cv2.LINE_8, shift=_SHIFT)
            canvas[(hole > 0) & inside] = 0
