"""Semantic masks: reading any input into label ids, and building the encoder's input channels.

:func:`load_mask` accepts a label-id image (PNG mode L, P, I, or grey RGB as in the official
edited samples), a palette-coloured RGB(A) image (every pixel snapped to the nearest class colour,
so anti-aliased strokes work), a numpy array or a torch tensor, of any size, and returns a
:class:`LabelMask`. :func:`encoder_input` turns it into the official encoder input
(official-sem2nerf.md 4.3-4.5): one-hot merged labels, a contour channel and a distance field.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

from .domains import Domain, get_domain
from .errors import MaskError
from .labels import LabelScheme, get_label_scheme

__all__ = [
    "MAX_DECODE_PIXELS",
    "MAX_MASK_SIDE",
    "LabelMask",
    "contour_map",
    "crop_to_domain",
    "distance_field",
    "encoder_input",
    "frame_to_domain",
    "load_mask",
    "open_image",
    "snap_to_palette",
]

# Masks larger than this (per side) are reduced with nearest-neighbour sampling before any work:
# the encoder sees 224 px, and contours are drawn at the official 512-px scale or so.
MAX_MASK_SIDE = 1024
# Largest image decoded at all (pixels), checked from the file's header before decoding: a small PNG can declare a
# giant image. 4096 x 4096 is 64 MB as RGBA; masks are reduced to MAX_MASK_SIDE right after decoding anyway.
MAX_DECODE_PIXELS = 4096 * 4096
# An indexed (mode P) image is read as a colour mask when every palette entry it uses is this close to a class
# colour of the scheme (image editors save colour masks so); otherwise its indices are the label ids.
PALETTE_MATCH_DISTANCE = 12.0
# A coloured mask is rejected as "a photo" when this fraction of pixels is far from every class colour.
PHOTO_FAR_FRACTION = 0.2
PHOTO_FAR_DISTANCE = 60.0
# Pixels this close to a class colour are taken as drawn in that colour (not a blend).
SNAP_TRUSTED_DISTANCE = 24.0


@dataclass
class LabelMask:
    """Label ids ``(H, W)`` uint8 in a named scheme.

    ``from_colours``: the ids were found by snapping colours to the scheme's palette (not read as ids), so
    reading the same ids in another scheme means nothing (see :mod:`sem2nerf.layout`).
    """

    labels: np.ndarray
    scheme: LabelScheme
    from_colours: bool = field(default=False, compare=False)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.labels.shape[0], self.labels.shape[1]

    def merged(self) -> LabelMask:
        """The mask in the scheme this one merges into (itself if there is none)."""
        if self.scheme.merge_into is None:
            return self
        return LabelMask(self.scheme.merge(self.labels), get_label_scheme(self.scheme.merge_into), self.from_colours)

    def to_scheme(self, scheme: str | LabelScheme) -> LabelMask:
        """Convert to ``scheme``: the same scheme, or its merged target."""
        scheme = get_label_scheme(scheme)
        if scheme.name == self.scheme.name:
            return self
        if self.scheme.merge_into == scheme.name:
            return self.merged()
        raise MaskError(f"cannot convert a {self.scheme.name!r} mask to {scheme.name!r}")

    def colorize(self) -> np.ndarray:
        """Palette colours ``(H, W, 3)`` uint8."""
        return self.scheme.colorize(self.labels)

    def is_empty(self) -> bool:
        """True if every pixel is background."""
        return bool((self.labels == self.scheme.background).all())

    def save(self, path: str | os.PathLike) -> None:
        """Write the label ids as a mode-L PNG."""
        Image.fromarray(self.labels, mode="L").save(path)


def snap_to_palette(rgb: np.ndarray, scheme: LabelScheme) -> tuple[np.ndarray, float]:
    """Class ids for every pixel of an ``(H, W, 3)`` palette-coloured image.

    Anti-aliased strokes and resampling mix neighbouring class colours, and a mix of two colours
    can equal a third class colour (black + 75 % hair blue is lip blue), so the nearest colour
    alone invents thin false regions along edges. Instead:

    1. *core* pixels are within ``SNAP_TRUSTED_DISTANCE`` of a class colour inside a 3x3 patch of
       that class, and keep it;
    2. every other pixel takes, among the classes with core pixels within 2 px, the one whose
       colour is nearest;
    3. except an exact class colour whose class has no core nearby and which is no mix of two
       nearby classes: a thin stroke drawn on purpose, kept.

    A clean palette image is read exactly. Returns the ids and the fraction of pixels farther than
    ``PHOTO_FAR_DISTANCE`` from every class colour (0 for a clean mask, a few % for anti-aliased
    edges, large for a photo). Classes that share a colour resolve to the lower id.
    """
    palette = scheme.palette_array().astype(np.float32)
    colors, inverse = np.unique(rgb.reshape(-1, 3), axis=0, return_inverse=True)
    d2 = ((colors[:, None, :].astype(np.float32) - palette[None]) ** 2).sum(-1)  # (U, K)
    inverse = inverse.reshape(rgb.shape[:2])
    dist = np.sqrt(d2.min(1))
    labels = d2.argmin(1).astype(np.uint8)[inverse]
    far_fraction = float((dist > PHOTO_FAR_DISTANCE)[inverse].mean())
    uniform = ndimage.minimum_filter(labels, size=3) == ndimage.maximum_filter(labels, size=3)
    core = (dist <= SNAP_TRUSTED_DISTANCE)[inverse] & uniform
    loose = ~core
    if not loose.any() or not core.any():
        return labels, far_fraction
    ys, xs = np.nonzero(loose)
    kernel = np.ones((5, 5), np.uint8)
    present = np.unique(labels[core])
    nearby = np.zeros((ys.size, len(present)), bool)  # core of class present[k] within 2 px
    for k, c in enumerate(present):
        nearby[:, k] = cv2.dilate((core & (labels == c)).astype(np.uint8), kernel)[ys, xs] > 0
    pix_d2 = d2[inverse[ys, xs]][:, present]  # (E, P)
    choice = present[np.where(nearby, pix_d2, np.inf).argmin(1)]
    has_nearby = nearby.any(1)
    own = labels[ys, xs]
    exact = dist[inverse[ys, xs]] <= 3.0
    own_nearby = (nearby & (present[None] == own[:, None])).any(1)
    stroke = exact & ~own_nearby & ~_between(rgb[ys, xs].astype(np.float32), nearby, present, palette)
    labels[ys, xs] = np.where(has_nearby & ~stroke, choice, own)
    return labels, far_fraction


def _between(colour: np.ndarray, nearby: np.ndarray, present: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Whether each colour ``(E, 3)`` lies on the segment between the colours of two of its nearby classes."""
    out = np.zeros(colour.shape[0], bool)
    for i in range(len(present)):
        for j in range(i + 1, len(present)):
            both = nearby[:, i] & nearby[:, j] & ~out
            if not both.any():
                continue
            ca, cb = palette[present[i]], palette[present[j]]
            seg = cb - ca
            t = np.clip(((colour[both] - ca) @ seg) / max(float(seg @ seg), 1.0), 0.0, 1.0)
            gap = np.linalg.norm(colour[both] - (ca + t[:, None] * seg), axis=1)
            out[np.nonzero(both)[0][gap <= SNAP_TRUSTED_DISTANCE / 2]] = True
    return out


def open_image(source, name: str | None = None, *, max_pixels: int = MAX_DECODE_PIXELS,
               max_side: int | None = None) -> Image.Image:
    """Open and decode an image file (a path, bytes or a binary file object) for reading as a mask.

    The size is checked from the header before decoding: more than ``max_pixels`` pixels (or more than
    ``max_side`` per side) is refused. Messages name the file by ``name`` (default: the file's own name, never
    its folder) and say what to do; raises :class:`MaskError`.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = name or f"mask {path.name}"
        if not path.exists():
            raise MaskError(f"{name} not found")
        if path.is_dir():
            raise MaskError(f"{name} is a folder, not a mask image")
        opened = path
    else:
        name = name or "the mask"
        opened = BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview)) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(opened)  # reads the header only
    except Image.DecompressionBombError:
        raise MaskError(_too_large_message(name, None, max_pixels, max_side)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise MaskError(f"cannot read {name} as an image: use a PNG label map or a coloured mask") from None
    width, height = img.size
    if width * height > max_pixels or (max_side is not None and max(width, height) > max_side):
        img.close()
        raise MaskError(_too_large_message(name, (width, height), max_pixels, max_side))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        img.close()
        raise MaskError(f"{name} looks corrupted or truncated and cannot be decoded: save it again (PNG) and retry") from None
    return img


def _too_large_message(name: str, size: tuple[int, int] | None, max_pixels: int, max_side: int | None) -> str:
    declared = f"is {size[0]} x {size[1]} pixels" if size is not None else "declares a giant image"
    limit = f"up to {max_side} pixels per side" if max_side is not None else f"up to {max_pixels:,} pixels"
    return (f"{name} {declared}; masks are read {limit} (the encoder sees 224 x 224). "
            "Scale it down with nearest-neighbour resampling and try again.")


def _reduce(array: np.ndarray) -> np.ndarray:
    """Nearest-neighbour reduction of very large masks to at most MAX_MASK_SIDE per side."""
    h, w = array.shape[:2]
    if max(h, w) <= MAX_MASK_SIDE:
        return array
    scale = MAX_MASK_SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(array, size, interpolation=cv2.INTER_NEAREST)


def _image_to_array(img: Image.Image, scheme: LabelScheme) -> np.ndarray:
    """Label ids ``(H, W)`` or colours ``(H, W, 3)`` of an image; transparent pixels are background."""
    if img.mode == "P":
        if not _palette_is_colours(img, scheme):
            return np.asarray(img)  # palette indices are the label ids
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode == "L":
        return np.asarray(img)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "1"):
        return np.asarray(img.convert("I")).astype(np.int64)
    if img.mode in ("LA", "PA"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        arr = np.asarray(img)
        rgb = arr[..., :3].copy()
        rgb[arr[..., 3] < 128] = scheme.palette[scheme.background]  # transparent pixels are background
        return rgb
    return np.asarray(img.convert("RGB"))


def _palette_is_colours(img: Image.Image, scheme: LabelScheme) -> bool:
    """Whether an indexed image is a colour mask saved with a palette rather than a map of label ids.

    Colours when every palette entry the image uses is within ``PALETTE_MATCH_DISTANCE`` of a class colour, or
    when its indices are no ids of the scheme and its colours read as a mask (an editor's anti-aliased colour
    mask). Ids when index ``i`` has class colour ``i`` for every index used (both readings agree, ids are exact),
    for grey palettes, and otherwise.
    """
    raw = img.getpalette()
    if not raw:
        return False
    palette = np.zeros((256, 3), np.uint8)
    entries = np.asarray(raw[: 256 * 3], np.uint8).reshape(-1, 3)
    palette[: len(entries)] = entries
    counts = np.bincount(np.asarray(img).ravel(), minlength=256)
    used = np.nonzero(counts)[0]
    if used.size == 0:
        return False
    colours = palette[used].astype(np.float32)
    if (colours == colours[:, :1]).all():
        return False  # a grey palette: the indices are ids
    classes = scheme.palette_array()
    if used[-1] < scheme.num_classes and (palette[used] == classes[used]).all():
        return False  # the scheme's own palette in id order: ids and colours agree
    dist = np.sqrt(((colours[:, None, :] - classes[None].astype(np.float32)) ** 2).sum(-1).min(1))
    if (dist <= PALETTE_MATCH_DISTANCE).all():
        return True
    far = counts[used][dist > PHOTO_FAR_DISTANCE].sum() / counts.sum()
    return bool(used[-1] >= scheme.num_classes and far <= PHOTO_FAR_FRACTION)


def _check_ids(ids: np.ndarray, scheme: LabelScheme, origin: str) -> np.ndarray:
    if ids.size == 0:
        raise MaskError(f"{origin} is empty (0 pixels)")
    bad = np.unique(ids[(ids < 0) | (ids >= scheme.num_classes)])
    if bad.size:
        shown = ", ".join(str(int(v)) for v in bad[:10]) + (" ..." if bad.size > 10 else "")
        raise MaskError(
            f"{origin} contains label ids [{shown}] that scheme {scheme.name!r} does not define "
            f"(valid ids: 0-{scheme.num_classes - 1}); pick the scheme the mask was made with"
        )
    return ids.astype(np.uint8)


def load_mask(source, scheme: str | LabelScheme = "celebamask_hq_raw") -> LabelMask:
    """Read a semantic mask from a path, PIL image, numpy array or torch tensor.

    Args:
        source: a file path; a PIL image; an array/tensor of label ids ``(H, W)`` / ``(1, H, W)``
            or of colours ``(H, W, 3)`` / ``(3, H, W)`` (uint8).
        scheme: the label scheme of the ids or palette (default: CelebAMask-HQ raw ids).

    Grey images whose values are all valid ids are read as ids; colour images are snapped to the
    scheme's palette. Raises :class:`MaskError` with a plain message for anything unusable.
    """
    scheme = get_label_scheme(scheme)
    origin = "the mask"
    if isinstance(source, LabelMask):
        return source.to_scheme(scheme)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        origin = f"mask {path.name}"
        source = open_image(path, origin)
    if isinstance(source, Image.Image):
        if origin == "the mask" and getattr(source, "filename", ""):  # an image opened from a file (open_image)
            origin = f"mask {Path(source.filename).name}"
        if source.width * source.height == 0:
            raise MaskError(f"{origin} has no pixels")
        array = _image_to_array(source, scheme)
    elif isinstance(source, torch.Tensor):
        array = source.detach().cpu().numpy()
        if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
            array = np.moveaxis(array, 0, -1)
    elif isinstance(source, np.ndarray):
        array = source
    else:
        raise MaskError(f"cannot read a mask from {type(source).__name__}: give a path, PIL image, numpy array or tensor")

    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 3 and array.shape[-1] == 4:
        array = array[..., :3]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] != 3):
        raise MaskError(f"{origin} has shape {tuple(array.shape)}; expected (H, W) label ids or (H, W, 3) colours")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or not np.allclose(array, np.round(array)):
            raise MaskError(f"{origin} holds non-integer values; a mask holds integer label ids")
        array = np.round(array).astype(np.int64)
    elif array.dtype.kind == "b":
        array = array.astype(np.int64)
    array = _reduce(array)

    if array.ndim == 3:
        if (array[..., 0] == array[..., 1]).all() and (array[..., 1] == array[..., 2]).all():
            grey = array[..., 0].astype(np.int64)
            if grey.max(initial=0) < scheme.num_classes:
                return LabelMask(_check_ids(grey, scheme, origin), scheme)
        if array.dtype != np.uint8:
            if array.min(initial=0) < 0 or array.max(initial=0) > 255:
                raise MaskError(f"{origin}: colour values must be in 0-255")
            array = array.astype(np.uint8)
        labels, far = snap_to_palette(array, scheme)
        if far > PHOTO_FAR_FRACTION:
            raise MaskError(
                f"{origin} looks like a photo, not a semantic mask: {far:.0%} of its pixels are far from every "
                f"class colour of scheme {scheme.name!r}. Draw or upload a label map (ids or palette colours)."
            )
        return LabelMask(labels, scheme, from_colours=True)
    return LabelMask(_check_ids(array.astype(np.int64), scheme, origin), scheme)


# --- encoder input channels (official-sem2nerf.md 4.3-4.5) ----------------------------------------


def contour_map(labels: np.ndarray, thickness: int = 3, skip: str = "background", background: int = 0) -> np.ndarray:
    """External contours of every class, drawn ``thickness`` px wide: uint8 ``(H, W)`` in {0, 255}.

    ``skip="background"`` (ours) leaves out the background class only. ``skip="smallest"``
    reproduces the official quirk of leaving out the smallest label value present, which is the
    same whenever background is present, but drops a real class when it is not.
    """
    canvas = np.zeros(labels.shape, dtype=np.uint8)
    values = np.unique(labels)
    if skip == "smallest":
        values = values[1:]
    elif skip == "background":
        values = values[values != background]
    else:
        raise ValueError(f"skip must be 'background' or 'smallest', got {skip!r}")
    for value in values:
        binary = (labels == value).astype(np.uint8)
        contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(canvas, contours, -1, 255, thickness=thickness)
    return canvas


def distance_field(contour: np.ndarray) -> np.ndarray:
    """L2 distance to the nearest contour pixel (mask size 3), min-max normalised, as uint8 0-255."""
    dist = cv2.distanceTransform(cv2.bitwise_not(contour), cv2.DIST_L2, 3)
    dist = cv2.normalize(dist, None, 0, 1.0, cv2.NORM_MINMAX)
    return (dist * 255).astype(np.uint8)


def crop_to_domain(image: Image.Image, domain: str | Domain, resample: int = Image.NEAREST, crop_size: int | None = None) -> Image.Image:
    """The domain's framing: resize to ``mask_load_size`` then centre-crop ``mask_crop_size``.

    For CelebAMask-HQ that is 320 -> 256, the central 80 % (official-sem2nerf.md 4.4), with
    torchvision's PIL semantics; domains without a crop return the image unchanged. ``crop_size``
    scales both sizes to give a crop of that side (the official ground-truth transform, e.g.
    640 -> 512 for 512 px images).
    """
    domain = get_domain(domain)
    if domain.mask_load_size is None or domain.mask_crop_size is None:
        return image
    crop = domain.mask_crop_size if crop_size is None else int(crop_size)
    load = round(crop * domain.mask_load_size / domain.mask_crop_size)
    image = image.resize((load, load), resample)
    top = round((load - crop) / 2.0)
    return image.crop((top, top, top + crop, top + crop))


def frame_to_domain(image: Image.Image, domain: str | Domain, size: int | tuple[int, int]) -> Image.Image:
    """A mask (label ids or colours) framed as the encoder sees it: the domain's crop, then a nearest resize to ``size``."""
    return crop_to_domain(image, domain).resize((size, size) if isinstance(size, int) else tuple(size), Image.NEAREST)


def encoder_input(
    mask: LabelMask,
    domain: str | Domain = "celebamask_hq",
    size: int = 224,
    use_contour: bool = True,
    contour_skip: str = "background",
) -> torch.Tensor:
    """The encoder input ``(C, size, size)`` float32 for one mask.

    Channels: one-hot of the domain's merged labels, then (with ``use_contour``) the contour map
    and the distance field, both computed at the mask's own resolution before the resize, as the
    official code does. The mask is converted to the domain's input scheme first.
    """
    domain = get_domain(domain)
    merged = mask.to_scheme(domain.input_scheme)  # raw ids are merged, merged ids pass through
    num_classes = merged.scheme.num_classes
    labels = np.asarray(frame_to_domain(Image.fromarray(merged.labels, mode="L"), domain, size))
    one_hot = torch.from_numpy(np.eye(num_classes, dtype=np.float32)[labels]).permute(2, 0, 1)
    if not use_contour:
        return one_hot
    contour = contour_map(merged.labels, skip=contour_skip, background=merged.scheme.background)
    dist = distance_field(contour)
    extra = [np.asarray(frame_to_domain(Image.fromarray(c, mode="L"), domain, size), dtype=np.float32) / 255.0 for c in (contour, dist)]
    return torch.cat((one_hot, torch.from_numpy(np.stack(extra))), dim=0)
