"""Measure the 3D semantic field (``sem2nerf.semantic``) on example masks, and draw its sheet.

    PYTHONPATH=. python benchmarks/semantic_field.py --sheet docs/semantic_field.png

Prints, over the example masks (``examples/index.json``, unedited heads by default):

* **agreement**: the label map at the mask's own view against the mask framed as the encoder sees it (share of
  pixels with the same label);
* **silhouette IoU**: the label map's foreground against the rendered opacity (>= 0.5) at yaw +-30 and +-60;
* **baked**: the label map read from a baked grid against the direct one (share of equal pixels);
* **round trip**: the label map at yaw +-30 framed as a mask file (``Sem2NeRF.label_mask``), encoded at that pose,
  rendered frontally, against the head's own frontal render (mean absolute difference, 0-255), beside the mean
  difference between the frontal renders of different heads, and how often the round trip is closest to its own head;
* **regional style**: with a style on the hair only, the mean change of the render inside the hair's label pixels
  over that outside, for the colour layer, the texture layers and every layer;
* the time of a label map and of a regional-style render.

The sheet: per head, the mask, then renders at five yaws, their label maps, and the hair alone restyled.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sem2nerf import Sem2NeRF
from sem2nerf.masks import frame_to_domain
from sem2nerf.semantic import SURFACE_OPACITY
from sem2nerf.trajectories import Pose

YAWS = (-35, -20, 0, 20, 35)


def as_float(image) -> np.ndarray:
    return np.asarray(image).astype(np.float32)


def measure(model: Sem2NeRF, examples: list[dict], size: int, samples: int, seed: int) -> dict:
    """Every number of the module docstring, over ``examples``."""
    scenes = {e["name"]: model.encode(ROOT / "examples" / e["mask"], pose=(e["yaw"], e["pitch"])) for e in examples}
    options = model.render_options(samples, deterministic=True)
    result: dict = {"heads": list(scenes), "size": size, "samples": samples}

    agreement, iou, baked_agreement, label_times = [], {y: [] for y in (-60, -30, 30, 60)}, [], []
    for scene in scenes.values():
        t = time.perf_counter()
        labels = model.render_labels(scene, *scene.pose, size=size, samples=samples)
        label_times.append(time.perf_counter() - t)
        framed = np.asarray(frame_to_domain(Image.fromarray(scene.mask.labels, mode="L"), model.domain, size))
        agreement.append(float((labels == framed).mean()))
        for yaw, values in iou.items():
            labels = model.render_labels(scene, yaw, 0, size=size, samples=samples)
            out = model.render_output(scene, [Pose(yaw, 0, model.fov)], size, options)[0]
            silhouette = out.opacity[0].reshape(size, size).numpy() >= SURFACE_OPACITY
            fg = labels != scene.mask.scheme.background
            values.append(float((fg & silhouette).sum() / max((fg | silhouette).sum(), 1)))
        baked = model.bake(scene)
        baked_agreement.append(float((model.render_labels(baked, 20, 0, size=size, samples=samples)
                                      == model.render_labels(scene, 20, 0, size=size, samples=samples)).mean()))
    result["agreement_at_input_view"] = agreement
    result["silhouette_iou"] = {str(y): float(np.mean(v)) for y, v in iou.items()}
    result["baked_vs_direct"] = float(np.mean(baked_agreement))
    result["label_map_s"] = float(np.median(label_times))

    def frontal(scene) -> np.ndarray:
        return as_float(model.render(scene, 0, 0, size=64, samples=samples, deterministic=True))

    own = {name: frontal(s) for name, s in scenes.items()}
    between = [float(np.abs(own[a] - own[b]).mean()) for a, b in itertools.combinations(own, 2)]
    trips, nearest_self = {}, 0
    for (name, scene), yaw in itertools.product(scenes.items(), (30, -30)):
        back = frontal(model.encode(model.label_mask(scene, yaw, 0, size=320, samples=samples), pose=(yaw, 0)))
        distances = {other: float(np.abs(back - img).mean()) for other, img in own.items()}
        trips[f"{name}@{yaw}"] = distances[name]
        nearest_self += min(distances, key=distances.get) == name
    result["round_trip"] = {"mean": float(np.mean(list(trips.values()))), "per_head": trips,
                            "between_heads": float(np.mean(between)), "nearest_is_own": f"{nearest_self}/{len(trips)}"}

    n = model.decoder.num_film_layers
    regional = {}
    for label, layers in (("colour", [n - 1]), ("texture", list(range(max(0, n - 3), n))), ("all", list(range(n)))):
        ratios, inside, times = [], [], []
        for scene in scenes.values():
            hair = model.render_labels(scene, 20, 0, size=size, samples=samples) == scene.mask.scheme.class_names.index("hair")
            if hair.sum() < 20:
                continue
            styled = model.mix_style(scene, seed, layers, regions=["hair"])
            t = time.perf_counter()
            b = as_float(model.render(styled, 20, 0, size=size, samples=samples, deterministic=True))
            times.append(time.perf_counter() - t)
            change = np.abs(as_float(model.render(scene, 20, 0, size=size, samples=samples, deterministic=True)) - b).mean(axis=2)
            ratios.append(float(change[hair].mean() / max(change[~hair].mean(), 1e-6)))
            inside.append(float(change[hair].mean()))
        regional[label] = {"layers": layers, "ratio": float(np.mean(ratios)), "inside": float(np.mean(inside)),
                           "render_s": float(np.median(times))}
    result["regional_hair"] = regional
    t = time.perf_counter()
    model.render(next(iter(scenes.values())), 20, 0, size=size, samples=samples, deterministic=True)
    result["own_render_s"] = time.perf_counter() - t
    return result


def sheet(model: Sem2NeRF, examples: list[dict], size: int, samples: int, seed: int, path: Path) -> None:
    """Per head, three rows: mask + renders at :data:`YAWS`; label maps; the hair alone restyled."""
    rows = []
    for e in examples:
        scene = model.encode(ROOT / "examples" / e["mask"], pose=(e["yaw"], e["pitch"]))
        palette = scene.mask.scheme.palette_array()
        mask = Image.fromarray(palette[np.asarray(frame_to_domain(Image.fromarray(scene.mask.labels, mode="L"),
                                                                  model.domain, size))])
        styled = model.mix_style(scene, seed, regions=["hair"])
        blank = Image.new("RGB", (size, size), (255, 255, 255))
        renders = [model.render(scene, y, 0, size=size, samples=samples, deterministic=True) for y in YAWS]
        labels = [Image.fromarray(palette[model.render_labels(scene, y, 0, size=size, samples=samples)]) for y in YAWS]
        hair = [model.render(styled, y, 0, size=size, samples=samples, deterministic=True) for y in YAWS]
        rows += [[mask, *renders], [blank, *labels], [blank, *hair]]
    gap = 4
    out = Image.new("RGB", (len(rows[0]) * (size + gap) - gap, len(rows) * (size + gap) - gap), (255, 255, 255))
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            out.paste(tile.convert("RGB"), (c * (size + gap), r * (size + gap)))
    path.parent.mkdir(parents=True, exist_ok=True)
    out.save(path, optimize=True)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="synthfaces")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--samples", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7, help="style seed of the regional style")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--edited", action="store_true", help="also measure the edited example masks")
    parser.add_argument("--sheet", default=None, help="write the sheet here (PNG)")
    parser.add_argument("--sheet-heads", default="synth01,synth02_hair_longer_left")
    parser.add_argument("--json", default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = Sem2NeRF.from_pretrained(args.model)
    index = json.loads((ROOT / "examples" / "index.json").read_text())
    examples = [e for e in index if args.edited or e["edit"] is None]
    result = measure(model, examples, args.size, args.samples, args.seed)
    print(json.dumps(result, indent=1))
    rt, reg = result["round_trip"], result["regional_hair"]
    print(f"agreement at the input view: mean {np.mean(result['agreement_at_input_view']):.3f}, "
          f"min {min(result['agreement_at_input_view']):.3f}; silhouette IoU {result['silhouette_iou']}; "
          f"baked vs direct {result['baked_vs_direct']:.3f}")
    print(f"round trip at yaw +-30: {rt['mean']:.1f} of 255 from its own head (different heads: "
          f"{rt['between_heads']:.1f}); closest to its own head {rt['nearest_is_own']}")
    print("regional hair style, inside / outside: " + ", ".join(f"{k} {v['ratio']:.1f}x ({v['inside']:.1f} of 255)"
                                                                 for k, v in reg.items()))
    print(f"label map {result['label_map_s']:.2f} s; regional render {reg['colour']['render_s']:.2f} s vs "
          f"{result['own_render_s']:.2f} s ({args.size} px, {args.samples} samples)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    if args.sheet:
        names = args.sheet_heads.split(",")
        sheet(model, [e for e in index if e["name"] in names], 96, args.samples, args.seed, Path(args.sheet))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
