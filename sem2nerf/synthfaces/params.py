"""Identity parameters of a SynthFaces head: sampling, named edits and JSON round trips.

Lengths are in centimetres of the *head frame* (x to the image right of a frontal view, y up,
z towards a frontal camera; the origin is between the ears, near eye level). Colours are sRGB
triples in [0, 1].
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

__all__ = ["BEARDS", "COLOUR_FIELDS", "EDITS", "HAIR_STYLES", "HAIR_TIES", "HIDDEN_FIELDS", "FaceParams", "apply_edit",
           "mean_hidden_params", "sample_face_params"]

HAIR_STYLES = ("bald", "short", "bangs", "bob", "long")  # the length class; the shape is set by the hair_* fields
HAIR_TIES = ("none", "bun")
BEARDS = ("none", "moustache", "goatee", "full")  # painted on the skin: CelebAMask-HQ labels facial hair as skin
_CHOICES = {"hair_style": HAIR_STYLES, "hair_tie": HAIR_TIES, "beard": BEARDS}  # one-hot in features()
# Typical end of each side's hair (cm, head frame; eyes at y = 0.3, chin near -11) by length class.
_HAIR_LENGTHS = {"bald": (0.0, 0.0), "short": (-0.5, 1.5), "bangs": (-0.5, 1.5), "bob": (-12.0, -8.0),
                 "long": (-24.0, -15.0)}

_SKIN_TONES = (
    (0.96, 0.80, 0.69), (0.93, 0.75, 0.62), (0.88, 0.68, 0.54), (0.80, 0.59, 0.45),
    (0.69, 0.49, 0.35), (0.56, 0.38, 0.26), (0.43, 0.28, 0.19), (0.32, 0.21, 0.15),
)
_HAIR_COLOURS = (
    (0.05, 0.04, 0.04), (0.14, 0.09, 0.06), (0.28, 0.18, 0.10), (0.45, 0.31, 0.18),
    (0.78, 0.63, 0.40), (0.52, 0.21, 0.09), (0.58, 0.58, 0.58), (0.86, 0.85, 0.82),
)
_HAIR_WEIGHTS = (0.22, 0.22, 0.18, 0.12, 0.12, 0.06, 0.05, 0.03)  # black ... white
_IRIS_COLOURS = (
    (0.20, 0.11, 0.05), (0.36, 0.21, 0.09), (0.42, 0.37, 0.16), (0.27, 0.42, 0.24),
    (0.27, 0.45, 0.66), (0.45, 0.50, 0.54),
)
_METALS = ((0.85, 0.68, 0.30), (0.80, 0.80, 0.82), (0.93, 0.91, 0.86))

EDITS = {
    "eyes_bigger": "eye openings 40 % taller and 10 % wider",
    "eyes_smaller": "eye openings 30 % shorter",
    "mouth_open": "mouth opened by 1 cm (the interior and teeth show)",
    "mouth_closed": "mouth closed",
    "glasses": "eyeglasses added",
    "no_glasses": "eyeglasses removed",
    "hat": "a cap added",
    "hair_bald": "hair removed",
    "hair_short": "short hair",
    "hair_bangs": "short hair with bangs over the forehead",
    "hair_bob": "chin-length hair",
    "hair_long": "long hair down to the shoulders",
    "hair_longer_left": "hair on the person's left (the image's right) 8 cm longer",
    "hair_longer_right": "hair on the person's right (the image's left) 8 cm longer",
    "fringe_swept": "a fringe swept down to the brows on the person's left",
    "nose_bigger": "nose 20 % longer and 25 % wider",
}


# Parameters a semantic mask cannot show (besides every colour): the iris lies inside the eye label, stripes are paint.
_MASK_INVISIBLE = frozenset({"iris_size", "cloth_stripes"})
_NOT_FEATURES = frozenset({"hair_seed"})  # the phases of the hair's waves: an index, not a quantity

# Features that mean nothing without an accessory: feature name -> the flag that gates it.
_FEATURE_GATES = {"glasses_round": "glasses", "glasses_rgb": "glasses", "hat_rgb": "hat", "earring_hoops": "earrings",
                  "earring_rgb": "earrings", "necklace_rgb": "necklace"}


@dataclass(frozen=True)
class FaceParams:
    """Everything that makes one SynthFaces identity (shape, colours, hair, accessories).

    Shape factors are multiplicative (1.0 = average head); offsets are in centimetres.
    """

    head_width: float = 1.0
    head_height: float = 1.0
    head_depth: float = 1.0
    jaw_width: float = 1.0
    chin_drop: float = 0.0
    cheek_fullness: float = 1.0
    eye_spacing: float = 3.2
    eye_open: float = 1.0
    eye_width: float = 1.0
    iris_size: float = 1.0
    brow_height: float = 0.0
    brow_thickness: float = 1.0
    brow_arch: float = 0.3
    brow_tilt: float = 0.0
    nose_length: float = 1.0
    nose_width: float = 1.0
    nose_protrusion: float = 1.0
    mouth_width: float = 1.0
    mouth_open: float = 0.0
    lip_thickness: float = 1.0
    ear_size: float = 1.0
    neck_width: float = 1.0
    hair_style: str = "short"
    hair_volume: float = 1.0
    hairline: float = 0.0
    hair_part: float = 0.0  # x (cm) of the parting; + is the person's left (the image's right)
    hair_fringe: float = 0.0  # 0: hairline on the forehead's top ... 1: a fringe down to the brows
    hair_sweep: float = 0.0  # tilt of the hairline / fringe edge: + hangs lower on the person's left
    hair_volume_left: float = 1.0  # side volume factors (the person's left / right)
    hair_volume_right: float = 1.0
    hair_length_left: float = 0.5  # y (cm) where each side's hair ends (chin ~ -11; the box cuts below ~ -11.6)
    hair_length_right: float = 0.5
    hair_front_left: bool = False  # long hair on that side falls in front of the shoulder
    hair_front_right: bool = False
    hair_wave: float = 0.0  # amplitude of the outline's waves (0 straight ... 1 curly)
    hair_seed: int = 0
    hair_tie: str = "none"
    beard: str = "none"
    chin_width: float = 1.0
    jaw_square: float = 1.0
    shoulder_width: float = 1.0
    shoulder_drop: float = 0.0  # cm
    torso_turn: float = 0.0  # degrees about the vertical axis (+ turns the chest towards the person's left)
    shoulder_tilt: float = 0.0  # degrees (+ raises the person's left shoulder)
    neckline_shift: float = 0.0  # cm
    neckline_v: bool = False
    skin_rgb: tuple[float, float, float] = _SKIN_TONES[2]
    hair_rgb: tuple[float, float, float] = _HAIR_COLOURS[1]
    brow_rgb: tuple[float, float, float] = _HAIR_COLOURS[1]
    iris_rgb: tuple[float, float, float] = _IRIS_COLOURS[1]
    lip_rgb: tuple[float, float, float] = (0.70, 0.38, 0.36)
    cloth_rgb: tuple[float, float, float] = (0.20, 0.30, 0.55)
    cloth_stripes: bool = False
    neckline_depth: float = 1.0
    glasses: bool = False
    glasses_round: bool = False
    glasses_rgb: tuple[float, float, float] = (0.08, 0.08, 0.09)
    hat: bool = False
    hat_rgb: tuple[float, float, float] = (0.70, 0.15, 0.12)
    earrings: bool = False
    earring_hoops: bool = False
    earring_rgb: tuple[float, float, float] = _METALS[0]
    necklace: bool = False
    necklace_rgb: tuple[float, float, float] = _METALS[0]
    background_top: tuple[float, float, float] = (0.80, 0.80, 0.80)
    background_bottom: tuple[float, float, float] = (0.65, 0.65, 0.65)

    def __post_init__(self) -> None:
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"unknown {name.replace('_', ' ')} {getattr(self, name)!r}; known: {', '.join(choices)}")

    def features(self, visible_only: bool = False, hidden: dict | None = None) -> np.ndarray:
        """The parameters as one float vector: numbers as they are, flags as 0/1, the hair style one-hot, colours
        per channel; an accessory's colour (and its variant flag) is 0 when it is absent.

        ``visible_only``: only what a semantic mask of the head can show (shapes, hair style, accessories), without
        the colours, the iris size and the cloth stripes. ``hidden``: values for those mask-invisible fields
        (e.g. :func:`mean_hidden_params`) in the full vector, in place of this head's own.
        """
        values: list[float] = []
        for f in fields(self):
            if f.name in _NOT_FEATURES:
                continue
            value = getattr(self, f.name)
            if f.name in HIDDEN_FIELDS:
                if visible_only:
                    continue
                if hidden is not None and f.name in hidden:
                    value = hidden[f.name]
            gate = float(getattr(self, _FEATURE_GATES[f.name])) if f.name in _FEATURE_GATES else 1.0
            if f.name in _CHOICES:
                values += [float(value == choice) for choice in _CHOICES[f.name]]
            elif isinstance(value, tuple):
                values += [gate * float(c) for c in value]
            else:
                values.append(gate * float(value))
        return np.asarray(values, dtype=np.float32)

    @classmethod
    def feature_names(cls, visible_only: bool = False) -> list[str]:
        """Names of the :meth:`features` entries, in order: a field's name, ``hair_<style>`` for the hair style's
        one-hot (``<field>_<choice>`` for the other choices: hair_tie, beard), ``<field>.r`` / ``.g`` / ``.b`` for a
        colour."""
        names: list[str] = []
        for f in fields(cls):
            if (visible_only and f.name in HIDDEN_FIELDS) or f.name in _NOT_FEATURES:
                continue
            if f.name == "hair_style":
                names += [f"hair_{style}" for style in HAIR_STYLES]
            elif f.name in _CHOICES:
                names += [f"{f.name}_{choice}" for choice in _CHOICES[f.name]]
            elif isinstance(f.default, tuple):
                names += [f"{f.name}.{c}" for c in "rgb"]
            else:
                names.append(f.name)
        return names

    def to_dict(self) -> dict:
        """A JSON-ready dictionary; :meth:`from_dict` rebuilds exactly the same parameters from it."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> FaceParams:
        """Inverse of :meth:`to_dict` (unknown keys are an error, missing keys take defaults)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown face parameters: {', '.join(unknown)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


# The sRGB-triple fields of FaceParams (skin, hair, ..., the backdrop): what no semantic mask shows.
COLOUR_FIELDS = tuple(f.name for f in fields(FaceParams) if isinstance(f.default, tuple))
HIDDEN_FIELDS = (*COLOUR_FIELDS, *sorted(_MASK_INVISIBLE))  # what no semantic mask shows


def mean_hidden_params(params: Sequence[FaceParams]) -> dict:
    """The mean of each mask-invisible field (:data:`HIDDEN_FIELDS`) over heads: colours per channel, numbers
    as they are, flags as the fraction set (for :meth:`FaceParams.features`' ``hidden``)."""
    if not params:
        raise ValueError("mean_hidden_params needs at least one head")
    out = {}
    for name in HIDDEN_FIELDS:
        values = np.asarray([np.asarray(getattr(p, name), dtype=np.float64) for p in params])
        mean = values.mean(0)
        out[name] = tuple(float(c) for c in mean) if mean.ndim else float(mean)
    return out


def _jitter_colour(rng: np.random.Generator, rgb, amount: float) -> tuple[float, float, float]:
    scale = 1.0 + rng.normal(0.0, amount)
    tint = rng.normal(0.0, amount * 0.3, size=3)
    return tuple(float(np.clip(c * scale + t, 0.0, 1.0)) for c, t in zip(rgb, tint, strict=True))


def _hsv_colour(
    rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float], hue: tuple[float, float] = (0.0, 1.0)
) -> tuple[float, float, float]:
    h = rng.uniform(*hue) % 1.0
    s = rng.uniform(*sat)
    v = rng.uniform(*val)
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h, s, v))


def _sample_hair(rng: np.random.Generator, style: str) -> dict:
    """Free-form hair: a length per side, a parting, a fringe, volume per side, waves; asymmetric in about half."""
    u = rng.uniform
    lo, hi = _HAIR_LENGTHS[style]
    left = right = float(u(lo, hi))
    asymmetric = style != "bald" and rng.uniform() < 0.5
    if asymmetric and rng.uniform() < 0.6:  # one side longer: swept over, or tucked behind the other ear
        other = str(rng.choice(("short", "bob", "long")))
        olo, ohi = _HAIR_LENGTHS[other]
        if rng.uniform() < 0.5:
            left = float(u(olo, ohi))
        else:
            right = float(u(olo, ohi))
    elif style != "bald":
        right = float(np.clip(left + u(-1.5, 1.5), -24.0, 2.0))
    fringe = 0.0
    if style == "bangs":
        fringe = float(u(0.7, 1.0))
    elif style != "bald" and rng.uniform() < 0.25:
        fringe = float(u(0.3, 0.8))
    part = float(u(-3.5, 3.5)) if rng.uniform() < 0.6 else float(u(-0.5, 0.5))
    # hair is fuller on the side it is swept to, i.e. away from an off-centre parting
    lean = float(np.clip(-part / 3.5, -1.0, 1.0)) * (u(0.1, 0.35) if asymmetric else u(0.0, 0.1))
    long_hair = min(left, right) < -6.0
    return {
        "hair_part": part,
        "hair_fringe": fringe,
        "hair_sweep": float(u(-0.35, 0.35) if fringe > 0 or asymmetric else u(-0.1, 0.1)),
        "hair_volume_left": float(u(0.85, 1.15) * (1.0 + lean)),
        "hair_volume_right": float(u(0.85, 1.15) * (1.0 - lean)),
        "hair_length_left": left,
        "hair_length_right": right,
        "hair_front_left": bool(long_hair and left < -13.0 and rng.uniform() < 0.45),
        "hair_front_right": bool(long_hair and right < -13.0 and rng.uniform() < 0.45),
        "hair_wave": float(u(0.0, 0.35) if rng.uniform() < 0.7 else u(0.35, 1.0)),
        "hair_seed": int(rng.integers(1 << 30)),
        "hair_tie": "bun" if style in ("short", "bangs") and rng.uniform() < 0.1 else "none",
    }


def sample_face_params(rng: np.random.Generator) -> FaceParams:
    """Draw one identity from ``rng`` (the same generator state always gives the same identity)."""
    u = rng.uniform
    skin = _jitter_colour(rng, _SKIN_TONES[int(rng.integers(len(_SKIN_TONES)))], 0.04)
    hair = _jitter_colour(rng, _HAIR_COLOURS[int(rng.choice(len(_HAIR_COLOURS), p=_HAIR_WEIGHTS))], 0.06)
    brow = tuple(float(c * 0.8) for c in hair)
    if rng.uniform() < 0.25:  # bleached or grey hair often keeps darker brows
        brow = tuple(float(c * 0.45) for c in hair)
    lip_base = np.array(skin) * 0.62 + np.array((0.70, 0.30, 0.32)) * 0.38
    lipstick = rng.uniform() < 0.2
    if lipstick:
        lip = _hsv_colour(rng, (0.55, 0.8), (0.45, 0.75), hue=(0.93, 1.02))
    else:
        lip = tuple(float(c) for c in lip_base * u(0.85, 1.0))
    style = str(rng.choice(HAIR_STYLES, p=(0.04, 0.22, 0.13, 0.22, 0.39)))
    bg_top = _hsv_colour(rng, (0.0, 0.35), (0.35, 0.95))
    plain = rng.uniform() < 0.4
    bg_bottom = bg_top if plain else tuple(float(np.clip(c * u(0.6, 0.95), 0, 1)) for c in bg_top)
    mouth_open = float(u(0.25, 1.1)) if rng.uniform() < 0.3 else 0.0
    beard = str(rng.choice(BEARDS, p=(0.8, 0.06, 0.06, 0.08)))
    return FaceParams(
        head_width=u(0.92, 1.08),
        head_height=u(0.94, 1.06),
        head_depth=u(0.94, 1.06),
        jaw_width=u(0.82, 1.15),
        chin_drop=u(-0.6, 0.6),
        cheek_fullness=u(0.8, 1.2),
        eye_spacing=u(3.0, 3.4),
        eye_open=u(0.6, 1.5),
        eye_width=u(0.85, 1.2),
        iris_size=u(0.9, 1.1),
        brow_height=u(-0.25, 0.35),
        brow_thickness=u(0.7, 1.4),
        brow_arch=u(0.0, 0.6),
        brow_tilt=u(-0.12, 0.12),
        nose_length=u(0.85, 1.15),
        nose_width=u(0.8, 1.25),
        nose_protrusion=u(0.85, 1.15),
        mouth_width=u(0.85, 1.15),
        mouth_open=mouth_open,
        lip_thickness=u(0.7, 1.3),
        ear_size=u(0.85, 1.15),
        neck_width=u(0.8, 1.15),
        hair_style=style,
        hair_volume=u(0.9, 1.8),
        hairline=u(-0.6, 0.8),
        **_sample_hair(rng, style),
        beard=beard,
        chin_width=u(0.8, 1.3),
        jaw_square=u(0.8, 1.25),
        shoulder_width=u(0.85, 1.2),
        shoulder_drop=u(-1.0, 1.5),
        torso_turn=u(-25.0, 25.0) if rng.uniform() < 0.6 else u(-5.0, 5.0),
        shoulder_tilt=u(-6.0, 6.0),
        neckline_shift=u(-1.5, 1.5),
        neckline_v=bool(rng.uniform() < 0.3),
        skin_rgb=skin,
        hair_rgb=hair,
        brow_rgb=brow,
        iris_rgb=_jitter_colour(rng, _IRIS_COLOURS[int(rng.integers(len(_IRIS_COLOURS)))], 0.05),
        lip_rgb=lip,
        cloth_rgb=_hsv_colour(rng, (0.0, 0.8), (0.12, 0.9)),
        cloth_stripes=bool(rng.uniform() < 0.15),
        neckline_depth=u(0.6, 1.6),
        glasses=bool(rng.uniform() < 0.18),
        glasses_round=bool(rng.uniform() < 0.4),
        glasses_rgb=_hsv_colour(rng, (0.0, 0.6), (0.05, 0.5)),
        hat=bool(rng.uniform() < 0.07),
        hat_rgb=_hsv_colour(rng, (0.2, 0.9), (0.2, 0.85)),
        earrings=bool(rng.uniform() < 0.2),
        earring_hoops=bool(rng.uniform() < 0.5),
        earring_rgb=_METALS[int(rng.integers(len(_METALS)))],
        necklace=bool(rng.uniform() < 0.15),
        necklace_rgb=_METALS[int(rng.integers(len(_METALS)))],
        background_top=bg_top,
        background_bottom=bg_bottom,
    )


def apply_edit(params: FaceParams, edit: str) -> FaceParams:
    """Return ``params`` changed by a named edit (see :data:`EDITS`)."""
    if edit not in EDITS:
        raise ValueError(f"unknown edit {edit!r}; known edits: {', '.join(sorted(EDITS))}")
    if edit == "eyes_bigger":
        return replace(params, eye_open=params.eye_open * 1.4, eye_width=params.eye_width * 1.1)
    if edit == "eyes_smaller":
        return replace(params, eye_open=params.eye_open * 0.7)
    if edit == "mouth_open":
        return replace(params, mouth_open=1.0)
    if edit == "mouth_closed":
        return replace(params, mouth_open=0.0)
    if edit == "glasses":
        return replace(params, glasses=True)
    if edit == "no_glasses":
        return replace(params, glasses=False)
    if edit == "hat":
        return replace(params, hat=True)
    if edit == "nose_bigger":
        return replace(params, nose_length=params.nose_length * 1.2, nose_width=params.nose_width * 1.25)
    if edit in ("hair_longer_left", "hair_longer_right"):
        side = edit.removeprefix("hair_longer_")
        style = "bob" if params.hair_style in ("bald", "short", "bangs") else params.hair_style
        return replace(params, hair_style=style, **{f"hair_length_{side}": getattr(params, f"hair_length_{side}") - 8.0})
    if edit == "fringe_swept":
        return replace(params, hair_style="bangs" if params.hair_style == "bald" else params.hair_style,
                       hair_fringe=1.0, hair_sweep=0.3)
    style = edit.removeprefix("hair_")
    lo, hi = _HAIR_LENGTHS[style]
    left = min(params.hair_length_left, hi) if style in ("bob", "long") else (lo + hi) / 2
    right = min(params.hair_length_right, hi) if style in ("bob", "long") else (lo + hi) / 2
    fringe = 1.0 if style == "bangs" else (0.0 if style == "short" else params.hair_fringe)
    return replace(params, hair_style=style, hair_length_left=max(left, lo), hair_length_right=max(right, lo),
                   hair_fringe=fringe)
