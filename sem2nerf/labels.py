"""Label schemes as data: class names, palette colours and raw -> merged mappings.

A :class:`LabelScheme` describes one way of numbering the classes of a semantic mask.
Schemes are registered by name; a scheme may name a *merged* scheme it maps onto
(``merge_into`` with ``merge_map[raw_id] = merged_id``), which is how the official code
turns the 19 raw CelebAMask-HQ classes into the 16 classes the encoder sees.

Ids, names and palettes follow official-sem2nerf.md section 5.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .registry import Registry

__all__ = [
    "LabelScheme",
    "get_label_scheme",
    "list_label_schemes",
    "register_label_scheme",
]


@dataclass(frozen=True)
class LabelScheme:
    """One numbering of semantic classes.

    Attributes:
        name: registry key, e.g. ``"celebamask_hq_raw"``.
        class_names: name of each class; the index is the label id.
        palette: RGB colour of each class (uint8 triples), used to draw and to read coloured masks.
        merge_into: name of the scheme this one maps onto, or ``None``.
        merge_map: ``merge_map[id]`` is the id in ``merge_into`` (same length as ``class_names``).
        background: id of the background class.
    """

    name: str
    class_names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    merge_into: str | None = None
    merge_map: tuple[int, ...] | None = None
    background: int = 0
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if len(self.palette) != len(self.class_names):
            raise ValueError(f"scheme {self.name!r}: {len(self.palette)} colours for {len(self.class_names)} classes")
        if (self.merge_map is None) != (self.merge_into is None):
            raise ValueError(f"scheme {self.name!r}: merge_into and merge_map go together")
        if self.merge_map is not None and len(self.merge_map) != len(self.class_names):
            raise ValueError(f"scheme {self.name!r}: merge_map needs one entry per class")

    @property
    def num_classes(self) -> int:
        """Number of classes (ids are ``0 .. num_classes - 1``)."""
        return len(self.class_names)

    def palette_array(self) -> np.ndarray:
        """The palette as a ``(num_classes, 3)`` uint8 array."""
        return np.asarray(self.palette, dtype=np.uint8).reshape(-1, 3)

    def merge(self, labels: np.ndarray) -> np.ndarray:
        """Map raw ids to the ids of ``merge_into`` (identity for a scheme without one)."""
        if self.merge_map is None:
            return labels
        return np.asarray(self.merge_map, dtype=np.uint8)[labels]

    def unmerge(self, labels: np.ndarray) -> np.ndarray:
        """Map ids of ``merge_into`` back to this scheme's: each merged class to the first of its classes here
        (CelebAMask-HQ's merged "eyes" -> raw "l_eye"), which :meth:`merge` maps back, so a mask encodes the same.
        Identity for a scheme without ``merge_into``; a merged class that no class here maps onto becomes id 0.
        """
        if self.merge_map is None:
            return labels
        first = np.zeros(get_label_scheme(self.merge_into).num_classes, np.uint8)
        for raw_id in reversed(range(self.num_classes)):
            first[self.merge_map[raw_id]] = raw_id
        return first[labels]

    def colorize(self, labels: np.ndarray) -> np.ndarray:
        """Label ids ``(H, W)`` -> palette colours ``(H, W, 3)`` uint8."""
        return self.palette_array()[labels]

    def class_id(self, name: str) -> int:
        """The id of a class by name (``ValueError`` naming the known classes otherwise)."""
        try:
            return self.class_names.index(name)
        except ValueError:
            raise ValueError(f"scheme {self.name!r} has no class {name!r}; classes: {', '.join(self.class_names)}") from None


_REGISTRY: Registry[LabelScheme] = Registry("label scheme", LabelScheme)


def register_label_scheme(scheme: LabelScheme, *, overwrite: bool = False) -> LabelScheme:
    """Add a scheme to the registry so that it can be named everywhere (CLI, app, config)."""
    if scheme.merge_into is not None:
        if scheme.merge_into not in _REGISTRY.names():
            raise ValueError(f"scheme {scheme.name!r} merges into unknown scheme {scheme.merge_into!r}")
        target = _REGISTRY.get(scheme.merge_into)
        if max(scheme.merge_map) >= target.num_classes or min(scheme.merge_map) < 0:
            raise ValueError(f"scheme {scheme.name!r}: merge_map has ids outside {target.name!r}")
    return _REGISTRY.register(scheme, overwrite)


def get_label_scheme(name: str | LabelScheme) -> LabelScheme:
    """Look a scheme up by name (a :class:`LabelScheme` is returned as it is)."""
    return _REGISTRY.get(name)


def list_label_schemes() -> list[str]:
    """Names of all registered schemes."""
    return _REGISTRY.names()


# --- the built-in schemes (official-sem2nerf.md 5.1-5.4) ---------------------------------------

_CELEBA_RAW_NAMES = (
    "background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
    "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth",
)
_CELEBA_RAW_PALETTE = (
    (0, 0, 0), (204, 0, 0), (76, 153, 0), (204, 204, 0), (51, 51, 255), (204, 0, 204), (0, 255, 255),
    (255, 204, 204), (102, 51, 0), (255, 0, 0), (102, 204, 0), (255, 255, 0), (0, 0, 153), (0, 0, 204),
    (255, 51, 153), (0, 204, 204), (0, 51, 0), (255, 153, 51), (0, 204, 0),
)
_CELEBA_MERGED_NAMES = (
    "background", "skin", "nose", "eye_g", "eyes", "brows", "ears", "mouth", "u_lip", "l_lip", "hair",
    "hat", "ear_r", "neck_l", "neck", "cloth",
)
# The 19-colour list with entries 4, 5 and 9 removed (official-sem2nerf.md 5.4).
_CELEBA_MERGED_PALETTE = tuple(c for i, c in enumerate(_CELEBA_RAW_PALETTE) if i not in (4, 5, 9))

_CAT_RAW_NAMES = (
    "background", "limbus", "back", "belly", "chest", "leg", "paw", "head", "ear", "eye", "mouth",
    "tongue", "nose", "tail", "whiskers", "neck",
)
_CAT_RAW_PALETTE = (
    (255, 255, 255), (220, 220, 0), (190, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35),
    (102, 102, 156), (152, 251, 152), (119, 11, 32), (244, 35, 232), (220, 20, 60), (52, 83, 84),
    (194, 87, 125), (225, 96, 18), (31, 102, 211), (104, 131, 101),
)
_CAT_MERGED_NAMES = ("background", "head", "ear", "eye", "mouth", "tongue", "nose", "whiskers")
_CAT_MERGED_PALETTE = (
    (0, 0, 0), (204, 0, 0), (102, 51, 0), (0, 255, 255), (255, 204, 204), (25, 204, 204), (76, 153, 0), (0, 0, 0),
)

CELEBAMASK_HQ_MERGED = register_label_scheme(LabelScheme(
    name="celebamask_hq_merged",
    class_names=_CELEBA_MERGED_NAMES,
    palette=_CELEBA_MERGED_PALETTE,
    description="CelebAMask-HQ with left/right eyes, brows and ears merged (16 classes): what the encoder sees.",
))
CELEBAMASK_HQ_RAW = register_label_scheme(LabelScheme(
    name="celebamask_hq_raw",
    class_names=_CELEBA_RAW_NAMES,
    palette=_CELEBA_RAW_PALETTE,
    merge_into="celebamask_hq_merged",
    merge_map=(0, 1, 2, 3, 4, 4, 5, 5, 6, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    description="CelebAMask-HQ raw annotation ids (19 classes, MaskGAN order).",
))
CATMASK_MERGED = register_label_scheme(LabelScheme(
    name="catmask_merged",
    class_names=_CAT_MERGED_NAMES,
    palette=_CAT_MERGED_PALETTE,
    description="CatMask merged to the 8 head classes the encoder sees (whiskers are drawn black).",
))
CATMASK_RAW = register_label_scheme(LabelScheme(
    name="catmask_raw",
    class_names=_CAT_RAW_NAMES,
    palette=_CAT_RAW_PALETTE,
    merge_into="catmask_merged",
    merge_map=(0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 0, 7, 0),
    description="CatMask raw DatasetGAN ids (16 classes).",
))
