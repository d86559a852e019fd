"""What silhouette carving (``sem2nerf.carve``) changes, scene by scene: the same codes rendered carved and uncarved.

For each DrawnFaces mask (``sem2nerf.drawn``: masks drawn in 2D by another process than the training masks, base i
from ``SeedSequence([--seed, i])``, pose 0, 0), rendered at ``--size`` px at the mask's pose and at yaw -35 / +35:

* **background matter**: the share of the mask's background pixels (three pixels or more from its outline) whose
  rendered opacity exceeds one half, uncarved and carved, at the mask's pose;
* **colour change**: the mean absolute RGB change (0-255) that carving makes there, in those background pixels
  and in the foreground pixels (three pixels or more inside the outline: carving leaves their rays alone, so 0);
* **opacity at the side views**: the mean rendered opacity over the frame at yaw -35 / +35 (matter in view);
* **mesh**: vertices of the iso-surface (``extract_mesh``, ``--mesh-resolution``) and the share of them whose
  projection into the mask's view falls on the mask's background three pixels (of 128) or more from its outline
  (the backdrop a mesh export would carry; nearer the outline the mesh grid is coarser than the hull);
* **time**: seconds per direct render (``--size`` px, 24 + 24 samples), carved and uncarved, interleaved.

Command (the bundled model, which carves; about a minute on 2 CPU cores)::

    python benchmarks/carving.py --count 12
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sem2nerf import DEFAULT_MODEL, Pose, Sem2NeRF
from sem2nerf.camera import angles_to_renderer, camera_to_world
from sem2nerf.carve import hull_at, hull_image
from sem2nerf.drawn import draw_mask, sample_drawn_face
from sem2nerf.export import extract_mesh
from sem2nerf.masks import frame_to_domain

SIDE_YAWS = (-35.0, 35.0)


def measure(model: Sem2NeRF, labels: np.ndarray, size: int, mesh_resolution: int) -> dict:
    """Every number of the module docstring for one mask."""
    fg = np.asarray(frame_to_domain(Image.fromarray(labels), model.domain, size)) != 0
    inner_bg = ~(hull_image(fg, margin=3 / size).numpy() > 0)
    inner_fg = ~(hull_image(~fg, margin=3 / size).numpy() > 0)
    poses = [Pose(0.0, 0.0, model.fov), *[Pose(y, 0.0, model.fov) for y in SIDE_YAWS]]
    out, seconds, meshes = {}, {}, {}
    for carve in (False, True):
        scene = model.encode(labels, pose=(0.0, 0.0), carve=carve)
        start = time.perf_counter()
        views = model.render_output(scene, poses, size)
        seconds[carve] = (time.perf_counter() - start) / len(poses)
        out[carve] = views
        mesh = extract_mesh(model, scene, resolution=mesh_resolution)
        meshes[carve] = mesh
    rgb = {c: (out[c][0].rgb[0].numpy() + 1) * 127.5 for c in out}
    change = np.abs(rgb[True] - rgb[False]).mean(axis=0)
    framed128 = np.asarray(frame_to_domain(Image.fromarray(labels), model.domain, 128)) != 0
    hull = hull_image(framed128, margin=3 / 128)
    frontal = camera_to_world(*angles_to_renderer(0.0, 0.0))

    def backdrop(mesh) -> float:
        if len(mesh.vertices) == 0:
            return 0.0
        vertices = torch.as_tensor(np.asarray(mesh.vertices), dtype=torch.float32)
        return float((hull_at(hull, vertices, frontal, model.fov) < 0.5).float().mean())

    return {
        "background_opaque": {c: float((out[c][0].opacity[0].numpy()[inner_bg] > 0.5).mean()) for c in (False, True)},
        "colour_change_background": float(change[inner_bg].mean()),
        "colour_change_foreground": float(change[inner_fg].mean()),
        "side_opacity": {c: [float(v.opacity.mean()) for v in out[c][1:]] for c in (False, True)},
        "mesh_vertices": {c: len(meshes[c].vertices) for c in (False, True)},
        "mesh_on_background": {c: backdrop(meshes[c]) for c in (False, True)},
        "seconds_per_view": seconds,
    }


def main(argv: list[str] | None = None, model: Sem2NeRF | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"model folder or bundled name (default {DEFAULT_MODEL})")
    parser.add_argument("--count", type=int, default=12, help="DrawnFaces masks (default 12)")
    parser.add_argument("--seed", type=int, default=0, help="DrawnFaces seed (default 0)")
    parser.add_argument("--size", type=int, default=64, help="render side in pixels (default 64)")
    parser.add_argument("--mesh-resolution", type=int, default=64, help="mesh grid points per side (default 64)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2; 0 = torch's default)")
    parser.add_argument("--json", default=None, help="write every number here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = model or Sem2NeRF.from_pretrained(args.model).eval()
    per_mask = []
    for i in range(args.count):
        face = sample_drawn_face(np.random.default_rng(np.random.SeedSequence([args.seed, i])))
        per_mask.append(measure(model, draw_mask(face, 256), args.size, args.mesh_resolution))

    def mean(get) -> float:
        return float(np.mean([get(m) for m in per_mask]))

    summary = {
        "masks": args.count, "size": args.size,
        "background_opaque": {k: mean(lambda m, c=c: m["background_opaque"][c]) for k, c in (("uncarved", False), ("carved", True))},
        "colour_change_background": mean(lambda m: m["colour_change_background"]),
        "colour_change_foreground": mean(lambda m: m["colour_change_foreground"]),
        "side_opacity": {k: [mean(lambda m, c=c, j=j: m["side_opacity"][c][j]) for j in range(len(SIDE_YAWS))]
                         for k, c in (("uncarved", False), ("carved", True))},
        "mesh_vertices": {k: mean(lambda m, c=c: m["mesh_vertices"][c]) for k, c in (("uncarved", False), ("carved", True))},
        "mesh_on_background": {k: mean(lambda m, c=c: m["mesh_on_background"][c]) for k, c in (("uncarved", False), ("carved", True))},
        "seconds_per_view": {k: mean(lambda m, c=c: m["seconds_per_view"][c]) for k, c in (("uncarved", False), ("carved", True))},
    }
    s = summary
    print(f"{args.count} DrawnFaces masks at {args.size} px, uncarved -> carved:")
    print(f"  background pixels with opacity > 0.5: {s['background_opaque']['uncarved']:.3f} -> {s['background_opaque']['carved']:.3f}")
    print(f"  colour change made by carving (0-255): background {s['colour_change_background']:.1f}, "
          f"foreground {s['colour_change_foreground']:.2f}")
    print("  mean opacity at yaw " + ", ".join(f"{y:+g}" for y in SIDE_YAWS) + ": "
          + ", ".join(f"{a:.3f} -> {b:.3f}" for a, b in zip(*s["side_opacity"].values(), strict=True)))
    print(f"  mesh vertices {s['mesh_vertices']['uncarved']:.0f} -> {s['mesh_vertices']['carved']:.0f}; on the mask's "
          f"background (3 px or more out) {s['mesh_on_background']['uncarved']:.3f} -> {s['mesh_on_background']['carved']:.3f}")
    print(f"  seconds per view {s['seconds_per_view']['uncarved']:.3f} -> {s['seconds_per_view']['carved']:.3f}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"summary": summary, "per_mask": per_mask}, indent=2, default=str) + "\n")
    return summary


if __name__ == "__main__":
    main()
