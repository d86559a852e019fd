"""Example masks for ``examples/`` and the review contact sheet, both made from SynthFaces.

Regenerate them from the repository root with ``python -m sem2nerf.synthfaces.examples``.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from ..labels import get_label_scheme
from .dataset import draw_identity, render_identity
from .params import EDITS, FaceParams, apply_edit, sample_face_params

__all__ = ["EXAMPLE_SEED", "example_identity", "write_contact_sheet", "write_example_masks"]

EXAMPLE_SEED = 2022
SCHEME = "celebamask_hq_raw"
# (hair style wanted, what else the head must have, values forced, pose in degrees, edits of this identity)
_EXAMPLES = (
    ("short", "symmetric", {"mouth_open": 0.0}, (0.0, 0.0),
     ("eyes_bigger", "mouth_open", "glasses", "hair_long", "nose_bigger")),
    ("bob", "symmetric", {}, (0.0, 0.0), ("hair_longer_left", "fringe_swept")),
    ("bangs", "any", {"glasses": True, "earrings": True}, (-22.0, 5.0), ()),
    ("long", "asymmetric", {"necklace": True}, (10.0, 8.0), ()),
    ("bald", "any", {"hat": False}, (-12.0, -6.0), ()),
    ("long", "asymmetric", {}, (18.0, -4.0), ("hair_bangs",)),
)
_EYE_EDIT_GROWTH = 1.4  # 'eyes_bigger' opening factor: the example heads keep the edited eyes within the drawn range
_MAX_EYE_OPEN = 1.5


def _wanted(params: FaceParams, style: str, shape: str, edits: tuple[str, ...]) -> bool:
    if params.hair_style != style or params.hat:
        return False
    if "eyes_bigger" in edits and params.eye_open * _EYE_EDIT_GROWTH > _MAX_EYE_OPEN:
        return False
    uneven = abs(params.hair_length_left - params.hair_length_right) > 4.0
    return shape == "any" or uneven == (shape == "asymmetric")


def _find_identity(style: str, start: int, shape: str = "any", edits: tuple[str, ...] = ()) -> FaceParams:
    """The first seed from ``start`` whose identity has the wanted hair style and shape (and no hat), and eyes that
    an eye edit keeps within the range the generator draws."""
    seed = start
    while True:
        params = sample_face_params(np.random.default_rng([EXAMPLE_SEED, seed]))
        if _wanted(params, style, shape, edits):
            return params
        seed += 1


def example_identity(number: int) -> tuple[FaceParams, tuple[float, float], tuple[str, ...]]:
    """Example head ``synth<number>`` (1-based): its parameters, its pose and the edits the examples make of it."""
    if not 1 <= number <= len(_EXAMPLES):
        raise ValueError(f"there are {len(_EXAMPLES)} example heads; got {number}")
    style, shape, forced, pose, edits = _EXAMPLES[number - 1]
    return replace(_find_identity(style, number * 100, shape, edits), **forced), pose, edits


def _describe(params: FaceParams) -> str:
    extras = [name for name in ("glasses", "hat", "earrings", "necklace") if getattr(params, name)]
    mouth = "open mouth" if params.mouth_open > 0.05 else "closed mouth"
    hair = "bald" if params.hair_style == "bald" else f"{params.hair_style} hair"
    if params.hair_style != "bald" and abs(params.hair_length_left - params.hair_length_right) > 4.0:
        longer = "left" if params.hair_length_left < params.hair_length_right else "right"
        hair += f", longer on the person's {longer}"
    return ", ".join([hair, mouth, *extras])


def write_example_masks(out_dir: str | os.PathLike = "examples", size: int = 512) -> list[dict]:
    """Render the example masks into ``out_dir/masks`` and write ``out_dir/index.json``; return the index."""
    out = Path(out_dir)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    index = []
    for number in range(1, len(_EXAMPLES) + 1):
        params, (yaw, pitch), edits = example_identity(number)
        identity = f"synth{number:02d}"
        variants = [(None, params)] + [(edit, apply_edit(params, edit)) for edit in edits]
        for edit, variant in variants:
            name = identity if edit is None else f"{identity}_{edit}"
            labels = render_identity(variant, [(yaw, pitch)], size)["labels"][0]
            Image.fromarray(labels, mode="L").save(out / "masks" / f"{name}.png", optimize=True)
            what = f"SynthFaces head {identity} ({_describe(params)}) at yaw {yaw:g}, pitch {pitch:g}"
            index.append({
                "name": name,
                "mask": f"masks/{name}.png",
                "scheme": SCHEME,
                "yaw": yaw,
                "pitch": pitch,
                "identity": identity,
                "edit": edit,
                "description": what if edit is None else f"{what}, edited: {EDITS[edit]}",
            })
    (out / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    return index


def write_contact_sheet(
    path: str | os.PathLike, seed: int = 0, identities: int = 6, views: int = 4, tile: int = 128
) -> Path:
    """A grid of renders and their coloured masks: one row per identity of the ``seed`` data set."""
    scheme = get_label_scheme(SCHEME)
    rows = []
    for index in range(identities):
        params, poses, lights = draw_identity(seed, index, views)
        out = render_identity(params, poses, tile, lights)
        rows.append(np.concatenate([np.concatenate((out["rgb"][v], scheme.colorize(out["labels"][v])), axis=1)
                                    for v in range(views)], axis=1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(path, optimize=True)
    return path


def main() -> None:
    """Regenerate ``examples/`` and ``docs/synthfaces_contact_sheet.png`` (run from the repository root)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", default="examples", help="examples folder")
    parser.add_argument("--sheet", default="docs/synthfaces_contact_sheet.png", help="contact sheet path")
    args = parser.parse_args()
    index = write_example_masks(args.examples)
    print(f"wrote {len(index)} example masks to {args.examples}")
    print(f"wrote {write_contact_sheet(args.sheet)}")


if __name__ == "__main__":
    main()
