"""How well a model follows the masks it is given, with no ground-truth images: silhouette, edit locality,
one-sided edits, distinctness and (SynthFaces only) novel-view cleanliness.

Every mask is encoded with its own pose and rendered at that pose (``--size`` px, ``--samples`` coarse + as many
fine samples per ray, render seed 0 for every render so that base and edit share their sampling jitter). Label
maps are compared with renders *framed the way the model sees the mask*: the domain crop (the central 80 % for
CelebAMask-HQ), resized to the render size with nearest (``eval_synthetic.framed_labels``).

Metrics, per mask set:

1. **Silhouette IoU**: rendered opacity > 0.5 against the mask's foreground (every non-background label).
   ``iou`` is over the base masks, ``iou_edited`` over the edited variants.
2. **Edit locality** over (base, edited) pairs: the mean absolute RGB change (0-255, channels averaged) of the
   render inside the pixels whose framed label changed (``inside``) and outside them (``outside``). ``ratio`` is
   the *pooled pixel means*: every inside pixel of every pair pooled into one mean, every outside pixel into
   another, then inside / outside (large pairs weigh more); ``mean_of_ratios`` averages the per-pair ratios.
   Per edit kind the same numbers. Pairs whose framed masks do not differ are counted as ``unchanged`` and left
   out (e.g. ``mouth_open`` on a face whose mouth is open already).
3. **Asymmetry of one-sided edits** (``hair_longer_left`` / ``hair_longer_right``): the mean render change on
   the edited side of the image over that on the other side, pooled (sum over pairs of the edited half's mean
   over the same sum for the other half; the halves have equal pixel counts, so this is the pooled pixel mean).
   ``l_*`` / ``left`` is the person's left, which is the IMAGE's right: ``hair_longer_left`` edits x > W/2.
   ``side_share`` is the edited side's part of the change (edited / (edited + other); 0.5 = symmetric) and
   ``mask_side_share`` the same for the label change itself (edited pixels on the edited side over all edited
   pixels; 1.0 for a purely one-sided edit): what a model that follows the mask exactly would come near.
   ``correct_side`` is the share of pairs whose own ratio exceeds 1.
4. **Distinctness**: the mean (and min) mean absolute difference (0-255) between the renders of every two
   different base masks of the set; 0 means the model ignores its input.
5. **Novel-view cleanliness** (SynthFaces only, it has ground-truth geometry): the share of rendered opacity
   outside the ground-truth silhouette (sum of opacity outside / total opacity, pooled over identities) at the
   input pose and at yaw -35 / +35, pitch 0. The ground truth re-renders the identity (``draw_identity`` with
   the data set's seed, the input view's light; ``eval_synthetic.ground_truth``). 0 is clean; matter floating
   outside the head raises it.

Mask sets:

* ``synthfaces``: the held-out (test split) identities of ``--synth`` (``--synth-count``), the mask of view
  ``--input-view`` and its pose. Edited pairs re-render the identity's parameters with ``apply_edit`` (``--synth-
  edits``) at the input pose and light; the pair's base is the identity re-rendered the same way (the stored mask
  when they agree exactly; the JSON reports the lowest agreement as ``rerender_label_agreement_min``). Skipped,
  with a note, when the folder (or its test split) is missing.
* ``drawn``: ``--drawn-count`` out-of-family DrawnFaces masks generated in memory (``sem2nerf.drawn``, base i
  from ``SeedSequence([--drawn-seed, i])`` as ``write_drawn_set`` does, ``--drawn-size`` px, pose 0, 0), each with
  every edit of ``--drawn-edits`` (default: all of ``DRAWN_EDITS``).
* ``examples``: the bases and edited variants of ``examples/index.json`` (``--examples``) at their poses.
* ``examples_drawn``: the committed DrawnFaces set ``examples/drawn/index.json`` (``--examples-drawn``).

``--sheet`` writes a PNG: per row a drawn mask (the label palette, framed like the renders) and its renders at
yaw -35, -20, 0, +20, +35, for the first ``--sheet-rows`` drawn bases, then the base with the most one-sided
``hair_longer_left`` and ``hair_longer_right`` edits and those two edits, each edit row ending with
|edit - base| at yaw 0 (x 3).

Commands (the bundled default model with every default: 24 SynthFaces identities, 24 drawn masks, the
examples; about 3 minutes on 2 busy CPU cores; the second command measures another model)::

    python benchmarks/mask_following.py --json runs/mask_following_before.json --sheet runs/drawn_renders_before.png
    python benchmarks/mask_following.py --model runs/synthfaces_encoder/export --synth data/synthfaces_default \\
        --synth-count 24 --drawn-count 24 --json runs/mask_following.json --sheet runs/drawn_renders.png
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.eval_synthetic import (
    SHEET_YAWS,
    _fmt,
    _json_ready,
    edit_change,
    framed_labels,
    framing,
    ground_truth,
    load_identities,
    render,
    silhouette_iou,
)
from sem2nerf import DEFAULT_MODEL, Sem2NeRF
from sem2nerf.drawn import DRAWN_EDITS, apply_drawn_edit, draw_mask, sample_drawn_face
from sem2nerf.labels import get_label_scheme
from sem2nerf.masks import load_mask
from sem2nerf.synthfaces import EDITS, apply_edit, render_identity

DEFAULT_SYNTH = "data/synthfaces_default"
DEFAULT_EXAMPLES = "examples/index.json"
DEFAULT_EXAMPLES_DRAWN = "examples/drawn/index.json"
SYNTH_EDITS = ("eyes_bigger", "mouth_open", "hair_long", "hair_longer_left", "hair_longer_right", "nose_bigger")
# one-sided edits -> the IMAGE side they change (the person's left is the image's right)
ONE_SIDED = {"hair_longer_left": "right", "hair_longer_right": "left"}
NOVEL_POSES = (("yaw-35", -35.0, 0.0), ("yaw+35", 35.0, 0.0))
SET_NAMES = ("synthfaces", "drawn", "examples", "examples_drawn")


# --- metrics (plain arrays) ------------------------------------------------------------------------------


def foreground_iou(opacity: np.ndarray, labels: np.ndarray, background: int = 0) -> float:
    """IoU of the rendered silhouette (opacity > 0.5) and the framed mask's foreground (labels != background)."""
    return silhouette_iou(opacity > 0.5, labels != background)


def abs_change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel mean absolute difference (0-255, channels averaged) of two uint8 RGB images."""
    return np.abs(a.astype(np.float64) - b.astype(np.float64)).mean(axis=2)


def pooled_locality(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Edit locality of ``(region, change)`` pairs: the pooled pixel means inside / outside the edited regions.

    Pairs whose region is empty or covers the whole image are left out (there is nothing to compare)."""
    inside = [c[r] for r, c in pairs if r.any() and not r.all()]
    outside = [c[~r] for r, c in pairs if r.any() and not r.all()]
    if not inside:
        return {"pairs": 0, "inside": None, "outside": None, "ratio": None}
    pin, pout = float(np.concatenate(inside).mean()), float(np.concatenate(outside).mean())
    ratio = pin / pout if pout > 0 else (math.inf if pin > 0 else None)
    return {"pairs": len(inside), "inside": pin, "outside": pout, "ratio": ratio}


def side_means(values: np.ndarray, side: str) -> tuple[float, float]:
    """Means of ``values`` ``(H, W)`` on the image ``side`` ("left" / "right") and on the other side; the middle
    column of an odd width belongs to neither."""
    half = values.shape[1] // 2
    left, right = values[:, :half], values[:, values.shape[1] - half:]
    if side == "right":
        return float(right.mean()), float(left.mean())
    if side == "left":
        return float(left.mean()), float(right.mean())
    raise ValueError(f"side must be 'left' or 'right', got {side!r}")


def asymmetry(pairs: list[tuple[str, np.ndarray, np.ndarray]]) -> dict:
    """One-sided edits ``(edited image side, region, change)``: the render change on the edited side over the
    other side, pooled over pairs (``ratio``), the edited side's share of it (``side_share``) and the share of the
    edited region itself that lies on the edited side (``mask_side_share``)."""
    if not pairs:
        return {"pairs": 0, "ratio": None, "side_share": None, "mask_side_share": None, "correct_side": None,
                "edited_side": None, "other_side": None}
    edited, other, mask_edited, mask_other, correct = 0.0, 0.0, 0.0, 0.0, 0
    for side, region, change in pairs:
        e, o = side_means(change, side)
        me, mo = side_means(region.astype(np.float64), side)
        edited, other, mask_edited, mask_other = edited + e, other + o, mask_edited + me, mask_other + mo
        correct += e > o
    n = len(pairs)

    def ratio(a: float, b: float) -> float | None:
        return a / b if b > 0 else (math.inf if a > 0 else None)

    def share(a: float, b: float) -> float | None:
        return a / (a + b) if a + b > 0 else None

    return {"pairs": n, "ratio": ratio(edited, other), "side_share": share(edited, other),
            "mask_side_share": share(mask_edited, mask_other), "correct_side": correct / n,
            "edited_side": edited / n, "other_side": other / n}


def distinctness(renders: list[np.ndarray]) -> dict:
    """Mean absolute difference (0-255) of every two renders: mean, min and max over the pairs."""
    diffs = [float(abs_change(a, b).mean()) for a, b in combinations(renders, 2)]
    if not diffs:
        return {"pairs": 0, "mean": None, "min": None, "max": None}
    return {"pairs": len(diffs), "mean": float(np.mean(diffs)), "min": min(diffs), "max": max(diffs)}


def opacity_outside(opacity: np.ndarray, silhouette: np.ndarray) -> tuple[float, float]:
    """``(opacity outside the silhouette, total opacity)``; their ratio is the share of stray matter."""
    return float(opacity[~silhouette].sum()), float(opacity.sum())


def _mean(values) -> float | None:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(values)) if values else None


# --- mask sets -------------------------------------------------------------------------------------------


@dataclass
class Item:
    """One mask: full-frame raw label ids, its pose, and (for an edited variant) the base it edits."""

    name: str
    labels: np.ndarray
    pose: tuple[float, float]
    base: str | None = None
    edit: str | None = None


@dataclass
class Rendered:
    scene: object
    rgb: np.ndarray  # (S, S, 3) uint8
    opacity: np.ndarray  # (S, S)
    framed: np.ndarray  # (S, S) framed labels


def render_items(model, items: list[Item], size: int, samples: int) -> dict[str, Rendered]:
    """Encode every mask at its pose and render it there."""
    out = {}
    for item in items:
        scene = model.encode(item.labels, pose=item.pose)
        rgb, opacity = render(model, scene, [item.pose], size, samples)
        out[item.name] = Rendered(scene, rgb[0], opacity[0], framed_labels(item.labels, size, model.domain.name))
    return out


def measure_set(model, bases: list[Item], edits: list[Item], size: int, samples: int,
                pair_bases: list[Item] = ()) -> tuple[dict, dict[str, Rendered]]:
    """Metrics 1-4 of one set. ``pair_bases`` are extra masks that serve only as the bases of edited pairs."""
    framed = {item.name: framed_labels(item.labels, size, model.domain.name) for item in [*bases, *pair_bases, *edits]}
    unchanged = {}
    kept = []
    for item in edits:
        if np.array_equal(framed[item.name], framed[item.base]):
            unchanged[item.edit] = unchanged.get(item.edit, 0) + 1
        else:
            kept.append(item)
    renders = render_items(model, [*bases, *pair_bases, *kept], size, samples)
    result = {
        "masks": len(bases), "edited_masks": len(edits),
        "iou": _mean([foreground_iou(renders[b.name].opacity, renders[b.name].framed) for b in bases]),
        "iou_min": min((foreground_iou(renders[b.name].opacity, renders[b.name].framed) for b in bases), default=None),
        "iou_edited": _mean([foreground_iou(renders[e.name].opacity, renders[e.name].framed) for e in kept]),
        "empty_renders": sum(not (renders[b.name].opacity > 0.5).any() for b in bases),
    }
    per_pair, by_kind, one_sided = [], {}, []
    for item in kept:
        base, edited = renders[item.base], renders[item.name]
        change = abs_change(base.rgb, edited.rgb)
        region = base.framed != edited.framed
        ec = edit_change(base.framed, edited.framed, base.rgb, edited.rgb)
        per_pair.append({"name": item.name, "base": item.base, "edit": item.edit, "edited_fraction": ec.edited_fraction,
                         "inside": ec.inside, "outside": ec.outside, "ratio": ec.ratio})
        by_kind.setdefault(item.edit, []).append((region, change, ec.ratio, ec.edited_fraction))
        if item.edit in ONE_SIDED:
            one_sided.append((ONE_SIDED[item.edit], region, change))
    overall = pooled_locality([(r, c) for pairs in by_kind.values() for r, c, _, _ in pairs])
    overall["mean_of_ratios"] = _mean([p["ratio"] for p in per_pair])
    overall["unchanged"] = sum(unchanged.values())
    kinds = {}
    for kind in sorted(set(by_kind) | set(unchanged)):
        pairs = by_kind.get(kind, [])
        entry = pooled_locality([(r, c) for r, c, _, _ in pairs])
        entry.update(mean_of_ratios=_mean([p[2] for p in pairs]), edited_fraction=_mean([p[3] for p in pairs]),
                     unchanged=unchanged.get(kind, 0))
        if kind in ONE_SIDED:
            entry["asymmetry"] = asymmetry([(ONE_SIDED[kind], r, c) for r, c, _, _ in pairs])
        kinds[kind] = entry
    result["editing"] = {**overall, "per_kind": kinds, "per_pair": per_pair}
    result["asymmetry"] = asymmetry(one_sided)
    result["distinctness"] = distinctness([renders[b.name].rgb for b in bases])
    return result, renders


def synth_set(model, data_dir: Path, count: int | None, input_view: int, edits: list[str], size: int,
              samples: int, log) -> dict:
    """The held-out SynthFaces identities: metrics 1-4 and the novel-view cleanliness (5)."""
    if not (data_dir / "test_paths.txt").is_file() or not (data_dir / "synthfaces.json").is_file():
        return {"skipped": f"no SynthFaces set with a test split at {data_dir} (make one with `python -m sem2nerf synth`)"}
    info, identities = load_identities(data_dir, count, input_view)
    image_size = int(info["image_size"])
    framed_size, _ = framing(image_size)
    bases, pair_bases, edited, agreement = [], [], [], []
    for ident in identities:
        stored = np.asarray(Image.open(ident.mask_path))
        bases.append(Item(ident.name, stored, ident.pose))
        variants = [apply_edit(ident.params, e) for e in edits]
        drawn = render_identity(ident.params, [ident.pose], image_size, [ident.light])["labels"][0]
        agreement.append(float((drawn == stored).mean()))
        base_name = ident.name
        if not np.array_equal(drawn, stored):
            base_name = f"{ident.name}_rerendered"
            pair_bases.append(Item(base_name, drawn, ident.pose))
        for e, params in zip(edits, variants, strict=True):
            labels = render_identity(params, [ident.pose], image_size, [ident.light])["labels"][0]
            edited.append(Item(f"{ident.name}_{e}", labels, ident.pose, base_name, e))
    log(f"  synthfaces: {len(bases)} identities, {len(edited)} edited masks")
    result, renders = measure_set(model, bases, edited, size, samples, pair_bases)
    # 5. novel-view cleanliness
    poses = [(y, p) for _, y, p in NOVEL_POSES]
    sums = {"input": [0.0, 0.0], **{name: [0.0, 0.0] for name, _, _ in NOVEL_POSES}}
    per_identity = {}
    for ident, base in zip(identities, bases, strict=True):
        rendered = renders[base.name]
        _, opacity = render(model, rendered.scene, poses, size, samples)
        if framed_size == size:
            gt = ground_truth(ident, poses, image_size, model.fov, check=False)[1]
        else:  # another render size: the model's 12-degree view rendered directly
            gt = render_identity(ident.params, poses, size, [ident.light] * len(poses), fov=model.fov)["labels"]
        shares = {}
        for name, alpha, truth in [("input", rendered.opacity, rendered.framed),
                                   *[(n, opacity[k], gt[k]) for k, (n, _, _) in enumerate(NOVEL_POSES)]]:
            out, total = opacity_outside(alpha, truth != 0)
            sums[name][0] += out
            sums[name][1] += total
            shares[name] = out / total if total > 0 else None
        per_identity[ident.name] = shares
    result["novel_view"] = {
        "opacity_outside": {name: (o / t if t > 0 else None) for name, (o, t) in sums.items()},
        "poses": {"input": "each identity's input pose", **{n: [y, p] for n, y, p in NOVEL_POSES}},
        "per_identity": per_identity,
        "ground_truth": "the identity re-rendered (draw_identity, input view's light), framed like the renders",
    }
    result.update(source=str(data_dir), identities=[i.name for i in identities], input_view=input_view,
                  generator_version=info.get("version"), edits=list(edits),
                  rerender_label_agreement_min=min(agreement) if agreement else None)
    return result


def drawn_items(count: int, seed: int, size: int, edits: list[str]) -> tuple[list[Item], list[Item], dict]:
    """DrawnFaces bases (as ``write_drawn_set`` draws them) and every requested edit of each, at pose 0, 0."""
    bases, edited, faces = [], [], {}
    for i in range(count):
        face = sample_drawn_face(np.random.default_rng(np.random.SeedSequence([seed, i])))
        name = f"drawn{i:03d}"
        faces[name] = face
        bases.append(Item(name, draw_mask(face, size), (0.0, 0.0)))
        for e in edits:
            edited.append(Item(f"{name}_{e}", draw_mask(apply_drawn_edit(face, e), size), (0.0, 0.0), name, e))
    return bases, edited, faces


def index_items(index: Path, scheme: str) -> tuple[list[Item], list[Item]]:
    """Bases and edited variants of a committed index: ``examples/index.json`` (``mask``, ``identity``) or a
    DrawnFaces ``index.json`` (``file``, ``base``)."""
    entries = json.loads(index.read_text())
    names = {}
    for e in entries:
        if not e.get("edit"):
            names[e.get("identity") or e.get("base") or e["name"]] = e["name"]
    bases, edited = [], []
    for e in entries:
        labels = load_mask(index.parent / (e.get("mask") or e["file"]), e.get("scheme") or scheme).to_scheme(scheme).labels
        pose = (float(e.get("yaw", 0.0)), float(e.get("pitch", 0.0)))
        if not e.get("edit"):
            bases.append(Item(e["name"], labels, pose))
            continue
        base = names.get(e.get("identity") or e.get("base"))
        if base is not None:
            edited.append(Item(e["name"], labels, pose, base, e["edit"]))
    return bases, edited


# --- sheet -----------------------------------------------------------------------------------------------


def _asymmetric_base(model, bases: list[Item], edited: list[Item], size: int) -> str | None:
    """The drawn base whose two one-sided hair edits are the most lopsided in the framed masks (both must exist)."""
    best, best_score = None, 0.0
    by_name = {(e.base, e.edit): e for e in edited}
    for b in bases:
        pair = [by_name.get((b.name, k)) for k in ONE_SIDED]
        if None in pair:
            continue
        base = framed_labels(b.labels, size, model.domain.name)
        score = math.inf
        for item in pair:
            region = base != framed_labels(item.labels, size, model.domain.name)
            e, o = side_means(region.astype(np.float64), ONE_SIDED[item.edit])
            score = min(score, e - o)
        if score > best_score:
            best, best_score = b.name, score
    return best


def write_sheet(path: Path, model, bases: list[Item], edited: list[Item], size: int, samples: int, rows: int,
                zoom: int = 2, gain: float = 3.0, gap: int = 4, caption: int = 14) -> Path:
    """Rows: a framed coloured mask and its renders at :data:`SHEET_YAWS`: ``rows`` drawn bases, then the base
    with the most one-sided hair edits (:func:`_asymmetric_base`) and those two edits, which add |edit - base|
    at yaw 0."""
    colorize = get_label_scheme(model.domain.raw_scheme).colorize
    pair_base = _asymmetric_base(model, bases, edited, size)
    chosen = [(b, None) for b in bases if b.name != pair_base][:rows]  # the pair's base goes next to its edits
    if pair_base is not None:
        base = next(b for b in bases if b.name == pair_base)
        by_name = {(e.base, e.edit): e for e in edited}
        chosen += [(base, None)] + [(by_name[(pair_base, k)], base) for k in ONE_SIDED]
    poses = [(y, 0.0) for y in SHEET_YAWS]
    tile = size * zoom
    columns = 1 + len(poses) + 1
    width = columns * tile + (columns + 1) * gap
    sheet = Image.new("RGB", (width, gap + caption + len(chosen) * (tile + caption + gap)), (255, 255, 255))
    pen = ImageDraw.Draw(sheet)
    x0 = gap
    for k, label in enumerate(["mask (framed)", *[f"yaw {y:+g}" for y in SHEET_YAWS], "|edit - base| x3"]):
        pen.text((x0 + k * (tile + gap) + 2, gap), label, fill=(0, 0, 0))
    frontal = {}
    for row, (item, base) in enumerate(chosen):
        scene = model.encode(item.labels, pose=item.pose)
        rgb, _ = render(model, scene, poses, size, samples)
        frontal[item.name] = rgb[SHEET_YAWS.index(0.0)]
        tiles = [colorize(framed_labels(item.labels, size, model.domain.name)), *rgb]
        if base is not None:
            grey = np.clip(abs_change(frontal[base.name], frontal[item.name]) * gain, 0, 255).astype(np.uint8)
            tiles.append(np.stack([grey] * 3, axis=2))
        y = gap + caption + row * (tile + caption + gap)
        text = item.name if base is None else f"{item.name}  ({DRAWN_EDITS.get(item.edit, item.edit)})"
        pen.text((x0 + 2, y), text, fill=(0, 0, 0))
        for k, t in enumerate(tiles):
            big = np.repeat(np.repeat(t, zoom, axis=0), zoom, axis=1)
            sheet.paste(Image.fromarray(big), (x0 + k * (tile + gap), y + caption))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)
    return path


# --- report ----------------------------------------------------------------------------------------------


def format_report(result: dict) -> str:
    header = (f"{'set':<15} {'masks':>5} {'edits':>5} | {'IoU':>5} {'min':>5} {'edited':>6} | {'edit ratio':>10} "
              f"{'inside':>6} {'outside':>7} {'mean ratio':>10} | {'asym':>5} {'mask':>5} {'ok':>4} | {'distinct':>8} {'min':>5}")
    lines = [(f"Mask following of {result['model']}: renders {result['size']} px, {result['samples']} + "
              f"{result['samples']} samples, each mask at its own pose"), "", header]
    for name in SET_NAMES:
        s = result["sets"].get(name)
        if s is None:
            continue
        if "skipped" in s:
            lines.append(f"{name:<15} skipped: {s['skipped']}")
            continue
        e, a, d = s["editing"], s["asymmetry"], s["distinctness"]
        lines.append(f"{name:<15} {s['masks']:>5} {e['pairs']:>5} | {_fmt(s['iou'], 3):>5} {_fmt(s['iou_min'], 2):>5} "
                     f"{_fmt(s['iou_edited'], 3):>6} | {_fmt(e['ratio']):>10} {_fmt(e['inside'], 1):>6} "
                     f"{_fmt(e['outside'], 1):>7} {_fmt(e['mean_of_ratios']):>10} | {_fmt(a['ratio']):>5} "
                     f"{_fmt(a['mask_side_share']):>5} {_fmt(a['correct_side']):>4} | "
                     f"{_fmt(d['mean'], 1):>8} {_fmt(d['min'], 1):>5}")
    lines += [("IoU: opacity > 0.5 vs the framed mask's foreground (bases; 'edited': the edited variants). edit ratio: "
               "pooled pixel means inside / outside the edited region (0-255 change); mean ratio: of the per-pair ratios."),
              ("asym: one-sided hair edits, change on the edited image side / the other side (mask: share of the label "
               "change on the edited side; ok: share of pairs > 1). distinct: mean |difference| between base renders.")]
    for name in SET_NAMES:
        s = result["sets"].get(name)
        if not s or "skipped" in s:
            continue
        sided = any(k in ONE_SIDED for k in s["editing"]["per_kind"])
        lines += ["", f"{name}: per edit kind (pairs, unchanged, edited fraction, ratio, inside, outside"
                  + (", asymmetry, the edited side's share of the change (of the label change)" if sided else "") + ")"]
        for kind, k in s["editing"]["per_kind"].items():
            line = (f"  {kind:<22} {k['pairs']:>3} {k['unchanged']:>3}  {_fmt(k['edited_fraction'], 3):>6}  "
                    f"ratio {_fmt(k['ratio']):>6}  inside {_fmt(k['inside'], 1):>5}  outside {_fmt(k['outside'], 1):>5}")
            if "asymmetry" in k:
                line += (f"  asym {_fmt(k['asymmetry']['ratio'])}, share {_fmt(k['asymmetry']['side_share'])} "
                         f"(mask {_fmt(k['asymmetry']['mask_side_share'])})")
            lines.append(line)
        if "novel_view" in s:
            share = s["novel_view"]["opacity_outside"]
            lines.append("  opacity outside the ground-truth silhouette: "
                         + ", ".join(f"{n} {_fmt(v, 3)}" for n, v in share.items())
                         + f"  (re-rendered labels agree with the stored masks on >= "
                           f"{_fmt(s['rerender_label_agreement_min'], 4)} of pixels)")
    if result.get("sheet"):
        lines += ["", f"sheet: {result['sheet']}"]
    lines.append(f"wall time: {result['seconds']:.1f} s")
    return "\n".join(lines)


# --- command line ----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"model folder or bundled name (default {DEFAULT_MODEL})")
    parser.add_argument("--synth", default=DEFAULT_SYNTH, help=f"SynthFaces folder ('' to skip; default {DEFAULT_SYNTH})")
    parser.add_argument("--synth-count", type=int, default=24, help="held-out identities (0: all; default 24)")
    parser.add_argument("--input-view", type=int, default=0, help="view of each identity whose mask is encoded")
    parser.add_argument("--synth-edits", nargs="*", default=list(SYNTH_EDITS), help="SynthFaces edits of each identity")
    parser.add_argument("--drawn-count", type=int, default=24, help="DrawnFaces bases (0 to skip; default 24)")
    parser.add_argument("--drawn-seed", type=int, default=0, help="DrawnFaces seed (default 0; examples/drawn used 7)")
    parser.add_argument("--drawn-size", type=int, default=256, help="DrawnFaces mask side in pixels (default 256)")
    parser.add_argument("--drawn-edits", nargs="*", default=list(DRAWN_EDITS), help="edits of each drawn base (default all)")
    parser.add_argument("--examples", default=DEFAULT_EXAMPLES, help="examples index ('' to skip)")
    parser.add_argument("--examples-drawn", default=DEFAULT_EXAMPLES_DRAWN, help="committed DrawnFaces index ('' to skip)")
    parser.add_argument("--size", type=int, default=64, help="render side in pixels (default 64)")
    parser.add_argument("--samples", type=int, default=24, help="coarse samples per ray, as many fine (default 24)")
    parser.add_argument("--json", default=None, help="write every number here")
    parser.add_argument("--sheet", default=None, help="write the drawn-mask render sheet PNG here")
    parser.add_argument("--sheet-rows", type=int, default=4, help="drawn bases on the sheet before the one-sided pair")
    parser.add_argument("--carve", choices=["model", "on", "off"], default="model",
                        help="carve each scene to its mask's silhouette (sem2nerf.carve): the model's own setting "
                        "(default; the bundled model carves), always, or never")
    parser.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda ...")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1; 0 = torch's default)")
    return parser


def _repo_path(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() or p.exists() else REPO / p


def run(model, args: argparse.Namespace, log=print) -> dict:
    start = time.perf_counter()
    for name, chosen, known in (("--synth-edits", args.synth_edits, EDITS), ("--drawn-edits", args.drawn_edits, DRAWN_EDITS)):
        unknown = [e for e in chosen if e not in known]
        if unknown:
            raise ValueError(f"{name}: unknown edits {unknown}; known: {', '.join(known)}")
    scheme = model.domain.raw_scheme
    sets, timing = {}, {}
    if args.synth:
        t = time.perf_counter()
        log("synthfaces ...")
        sets["synthfaces"] = synth_set(model, _repo_path(args.synth), args.synth_count or None, args.input_view,
                                       args.synth_edits, args.size, args.samples, log)
        timing["synthfaces"] = time.perf_counter() - t
    else:
        sets["synthfaces"] = {"skipped": "--synth ''"}
    drawn = None
    if args.drawn_count > 0:
        t = time.perf_counter()
        log("drawn ...")
        drawn = drawn_items(args.drawn_count, args.drawn_seed, args.drawn_size, args.drawn_edits)
        sets["drawn"], _ = measure_set(model, drawn[0], drawn[1], args.size, args.samples)
        sets["drawn"].update(seed=args.drawn_seed, mask_size=args.drawn_size, pose=[0.0, 0.0], edits=list(args.drawn_edits))
        timing["drawn"] = time.perf_counter() - t
    else:
        sets["drawn"] = {"skipped": "--drawn-count 0"}
    for name, index in (("examples", args.examples), ("examples_drawn", args.examples_drawn)):
        if not index:
            sets[name] = {"skipped": "no index given"}
            continue
        path = _repo_path(index)
        if not path.is_file():
            sets[name] = {"skipped": f"no index at {index}"}
            continue
        t = time.perf_counter()
        log(f"{name} ...")
        bases, edited = index_items(path, scheme)
        sets[name], _ = measure_set(model, bases, edited, args.size, args.samples)
        sets[name]["source"] = index
        timing[name] = time.perf_counter() - t
    result = {"size": args.size, "samples": args.samples, "fov": model.fov, "sets": sets, "set_seconds": timing}
    if args.sheet and drawn is not None:
        log("sheet ...")
        result["sheet"] = str(write_sheet(Path(args.sheet), model, drawn[0], drawn[1], args.size, args.samples,
                                          args.sheet_rows))
    result["seconds"] = time.perf_counter() - start
    return result


def main(argv: list[str] | None = None, model=None) -> dict:
    """Command line; returns the results (``model`` may be passed in directly, e.g. by tests)."""
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    if model is None:
        device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        model = Sem2NeRF.from_pretrained(args.model).to(device).eval()
        name = args.model
    else:
        name = type(model).__name__
    carve = model.carve
    model.carve = {"model": carve, "on": True, "off": False}[args.carve]  # encode's default (restored below)
    try:
        result = {"model": name, "carve": model.carve, **run(model, args)}
    finally:
        model.carve = carve
    result["seconds"] = time.perf_counter() - start  # including the model load
    print()
    print(format_report(result))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(_json_ready(result), indent=2) + "\n")
        print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    main()
