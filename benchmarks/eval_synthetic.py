"""Evaluate a Sem2NeRF model on held-out SynthFaces identities (issue 5, "Measure").

For each test identity of a SynthFaces data set the mask of one view (``--input-view``, with its annotated
pose) is encoded and rendered at the input pose and at the novel poses yaw +-20, +-35 (pitch 0) and pitch
+-15 (yaw 0). Ground truth for any pose is the identity re-rendered by the generator
(``draw_identity(seed, index, views)`` with the data set's seed, the light of the input view for every
pose), framed as the model sees it: the central 80 % of a full frame of side S, i.e. a 12-degree view of side
0.8 S. Reported per pose: PSNR / SSIM (LPIPS when AlexNet weights can be loaded) of the model and of the
"mean face" baseline (the decoder at the latent average, no encoder), and the margin; and the silhouette IoU
(opacity > 0.5 against the ground truth's non-background labels), which measures the geometry alone (a mask
fixes the shape, not the colours, which dominate PSNR). A reference puts numbers on that: the ground truth's
own shape and light painted in the training identities' mean colours, scored against the ground truth.

It also measures editing (the edited example masks of ``examples/index.json``: mean absolute change of the
render inside the edited region over that outside it), style mixing (silhouette IoU and colour change of
renders with the colour / texture FiLM layers of other seeds) and writes a results sheet (mask, renders at
five yaws, ground truth at the same yaws).

    python benchmarks/eval_synthetic.py --model DIR --data data/synthfaces_default --identities 20 \\
        --json eval.json --sheet docs/results_synthfaces.png
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sem2nerf
from sem2nerf import Sem2NeRF, get_domain
from sem2nerf.labels import get_label_scheme
from sem2nerf.masks import frame_to_domain, load_mask
from sem2nerf.model import preset_style_layers
from sem2nerf.synthfaces import COLOUR_FIELDS, Light, draw_identity, render_identity
from sem2nerf.trajectories import Pose

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = "data/synthfaces_default"
DEFAULT_EXAMPLES = REPO / "examples" / "index.json"
CROP_FRACTION = get_domain("celebamask_hq").crop_fraction  # SynthFaces frames use the CelebAMask-HQ framing
# (name, yaw, pitch) of the novel views, public degrees; the input pose comes first, named "input"
NOVEL_POSES = (("yaw-35", -35.0, 0.0), ("yaw-20", -20.0, 0.0), ("yaw+20", 20.0, 0.0), ("yaw+35", 35.0, 0.0),
               ("pitch-15", 0.0, -15.0), ("pitch+15", 0.0, 15.0))
POSE_NAMES = ("input",) + tuple(name for name, _, _ in NOVEL_POSES)
SHEET_YAWS = (-35.0, -20.0, 0.0, 20.0, 35.0)
LPIPS_OFFLINE = "unavailable offline (AlexNet weights missing)"
LIGHTING = "the input view's key light (camera frame) for every pose"


# --- metrics ---------------------------------------------------------------------------------------------


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images (inf when they are identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two uint8 RGB images (scikit-image, Gaussian-free 7 x 7 window, channels averaged)."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=2, data_range=255))


class Lpips:
    """LPIPS (AlexNet) when its weights can be loaded; otherwise ``available`` is False and ``reason`` says why."""

    def __init__(self, enabled: bool = True, device: torch.device | str = "cpu") -> None:
        self.net, self.device = None, torch.device(device)
        self.reason = "disabled (--no-lpips)"
        if not enabled:
            return
        try:
            import lpips

            # quiet: torch.hub announces on stdout the AlexNet download it is about to fail offline
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                self.net = lpips.LPIPS(net="alex", verbose=False).to(self.device).eval()
            self.reason = ""
        except (ImportError, OSError, RuntimeError) as error:  # lpips missing, or no AlexNet weights offline (download fails)
            self.reason = LPIPS_OFFLINE if not isinstance(error, ImportError) else f"unavailable ({error})"

    @property
    def available(self) -> bool:
        return self.net is not None

    @torch.no_grad()
    def __call__(self, a: np.ndarray, b: np.ndarray) -> float | None:
        if self.net is None:
            return None

        def tensor(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(x).permute(2, 0, 1)[None].float().div(127.5).sub(1.0).to(self.device)

        return float(self.net(tensor(a), tensor(b)).item())


def silhouette_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean silhouettes; 1.0 when both are empty (identical), which the caller flags."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


@dataclass
class EditChange:
    """Mean absolute render change (0-255, channels averaged) inside / outside the edited region."""

    edited_fraction: float
    inside: float | None
    outside: float | None
    ratio: float | None
    message: str = ""


def edit_change(base_labels: np.ndarray, edited_labels: np.ndarray, base_rgb: np.ndarray, edited_rgb: np.ndarray) -> EditChange:
    """Change of the render inside the edited region (labels differ) over the change outside it.

    The label maps must already be framed like the renders (domain crop, resized to the render size).
    """
    region = base_labels != edited_labels
    change = np.abs(base_rgb.astype(np.float64) - edited_rgb.astype(np.float64)).mean(axis=2)
    fraction = float(region.mean())
    if not region.any():
        return EditChange(fraction, None, float(change.mean()), None, "the masks are identical: no edited region")
    inside = float(change[region].mean())
    if region.all():
        return EditChange(fraction, inside, None, None, "every pixel is edited: no region outside the edit")
    outside = float(change[~region].mean())
    if outside == 0.0:
        ratio = math.inf if inside > 0 else None
        return EditChange(fraction, inside, outside, ratio, "the render does not change outside the edit")
    return EditChange(fraction, inside, outside, inside / outside)


# --- data ------------------------------------------------------------------------------------------------


@dataclass
class Identity:
    name: str
    index: int
    image: str  # image id of the input view
    mask_path: Path
    pose: tuple[float, float]
    light: Light
    params: object  # FaceParams


def framing(image_size: int) -> tuple[int, int]:
    """``(render size, offset)``: the central 80 % crop of a full frame of side ``image_size``."""
    size = round(CROP_FRACTION * image_size)
    return size, (image_size - size) // 2


def exact_crop(image_size: int) -> bool:
    """Whether slicing the central pixels of a full frame gives exactly the 12-degree view (integer framing)."""
    size, offset = framing(image_size)
    return abs(CROP_FRACTION * image_size - size) < 1e-9 and image_size - size == 2 * offset


def load_identities(data_dir: Path, count: int | None, input_view: int) -> tuple[dict, list[Identity]]:
    """The data set's description and its held-out identities (those of ``test_paths.txt``), sorted by name."""
    info = json.loads((data_dir / "synthfaces.json").read_text())
    groups = json.loads((data_dir / "identities.json").read_text())
    saved = json.loads((data_dir / "identity_params.json").read_text())
    test_images = set((data_dir / "test_paths.txt").read_text().split())
    views = int(info["views_per_identity"])
    if not 0 <= input_view < views:
        raise ValueError(f"--input-view must be between 0 and {views - 1}, got {input_view}")
    names = sorted(name for name, images in groups.items() if test_images.intersection(images))
    if not names:
        raise ValueError(f"{data_dir / 'test_paths.txt'} lists no identity")
    info = {**info, "mean_colours": mean_colours(saved[n]["params"] for n in groups if n not in set(names))}
    identities = []
    for name in names[: count or None]:
        index = int(name.removeprefix("id"))
        images = groups[name]
        if [int(i) for i in images] != [index * views + v for v in range(views)]:
            raise ValueError(f"{name}: image ids {images} do not follow identity_index * views + view_index")
        params, poses, lights = draw_identity(int(info["seed"]), index, views)
        view = saved[name]["views"][input_view]
        if params.to_dict() != saved[name]["params"] or lights[input_view].to_dict() != view["light"] \
                or tuple(poses[input_view]) != (view["yaw"], view["pitch"]):
            raise ValueError(f"{name}: draw_identity(seed={info['seed']}, {index}) does not match identity_params.json "
                             f"(another generator version?)")
        image = images[input_view]
        identities.append(Identity(name, index, image, data_dir / "masks" / f"{image}.png", tuple(poses[input_view]),
                                   lights[input_view], params))
    return info, identities


def mean_colours(params: Iterable[dict]) -> dict:
    """Every colour field of SynthFaces parameters (:data:`~sem2nerf.synthfaces.COLOUR_FIELDS`) averaged over
    identities (stripes off): what a model that knows the shape but nothing of the colours would do best to paint."""
    sums: dict[str, np.ndarray] = {}
    count = 0
    for p in params:
        count += 1
        for key in COLOUR_FIELDS:
            if key in p:
                sums[key] = sums.get(key, 0.0) + np.asarray(p[key], dtype=np.float64)
    if not count:
        raise ValueError("no training identities to average colours over")
    return {**{key: tuple(float(c) for c in total / count) for key, total in sums.items()}, "cloth_stripes": False}


def shape_reference(identity: Identity, poses: list[tuple[float, float]], image_size: int, fov: float,
                    colours: dict) -> np.ndarray:
    """The identity's true shape and lighting with the training identities' mean colours, framed like
    :func:`ground_truth`: a reference for what a mask, which fixes the shape but not the colours, can give."""
    plain = replace(identity.params, **colours)
    return ground_truth(replace(identity, params=plain), poses, image_size, fov, check=False)[0]


def ground_truth(identity: Identity, poses: list[tuple[float, float]], image_size: int,
                 fov: float, check: bool = True) -> tuple[np.ndarray, np.ndarray, dict | None]:
    """Ground-truth RGB ``(V, R, R, 3)`` and labels ``(V, R, R)`` framed like the model's renders, and a check of
    the input view.

    Renders full frames of side ``image_size`` (the data set's framing) and keeps their central 80 %; the
    first pose must be the input pose, whose full frame is compared with the stored mask and image.
    """
    size, offset = framing(image_size)
    lights = [identity.light] * len(poses)
    full = render_identity(identity.params, poses, image_size, lights)
    if exact_crop(image_size) and abs(fov - 12.0) < 1e-9:
        rgb = full["rgb"][:, offset : offset + size, offset : offset + size]
        labels = full["labels"][:, offset : offset + size, offset : offset + size]
    else:  # the crop is not a whole number of pixels: render the 12-degree (model fov) view directly
        framed = render_identity(identity.params, poses, size, lights, fov=fov)
        rgb, labels = framed["rgb"], framed["labels"]
    if not check:
        return rgb, labels, None
    stored_mask = np.asarray(Image.open(identity.mask_path))
    stored_rgb = np.asarray(Image.open(identity.mask_path.parents[1] / "CelebA-HQ-img" / f"{identity.image}.jpg"))
    check = {"label_agreement": float((stored_mask == full["labels"][0]).mean()),
             "rgb_psnr_vs_stored_jpeg": psnr(stored_rgb, full["rgb"][0])}
    return rgb, labels, check


def framed_labels(labels: np.ndarray, size: int, domain: str) -> np.ndarray:
    """A full-frame label map framed like the renders: the domain crop, resized (nearest) to ``size``."""
    return np.asarray(frame_to_domain(Image.fromarray(labels.astype(np.uint8), mode="L"), domain, size))


# --- model -----------------------------------------------------------------------------------------------


def render(model, scene, poses: list[tuple[float, float]], size: int, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 RGB ``(V, S, S, 3)`` (the official rounding) and opacity ``(V, S, S)`` of a scene at public poses."""
    outs = model.render_output(scene, [Pose(y, p, model.fov) for y, p in poses], size, model.render_options(samples), seed=0)
    rgb = [(o.rgb[0].float().cpu() * 127.5 + 128.0).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy() for o in outs]
    return np.stack(rgb), np.stack([o.opacity[0].float().cpu().numpy() for o in outs])


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def evaluate_reconstruction(model, identities: list[Identity], image_size: int, samples: int, lpips_metric: Lpips,
                            sheet_count: int, log, colours: dict | None = None) -> dict:
    """Per pose: the model and the mean face against the ground truth, and (with ``colours``) the reference of
    the true shape in mean colours (:func:`shape_reference`)."""
    size, _ = framing(image_size)
    domain = model.domain.name
    novel = [(yaw, pitch) for _, yaw, pitch in NOVEL_POSES]
    extra = [(yaw, 0.0) for yaw in SHEET_YAWS if (yaw, 0.0) not in novel]
    mean_face = model.average_scene()
    baseline_cache: dict[tuple[float, float], np.ndarray] = {}
    per_identity, checks, sheet_rows = {}, [], []
    scores = {who: {name: {"psnr": [], "ssim": [], "lpips": [], "iou": []} for name in POSE_NAMES} for who in ("model", "baseline")}
    reference: dict[str, dict[str, list[float]]] = {name: {"psnr": [], "ssim": []} for name in POSE_NAMES}
    for number, identity in enumerate(identities):
        on_sheet = number < sheet_count
        poses = [identity.pose, *novel, *(extra if on_sheet else [])]
        gt, gt_labels, check = ground_truth(identity, poses, image_size, model.fov)
        checks.append(check)
        scene = model.encode(identity.mask_path, pose=identity.pose)
        rgb, opacity = render(model, scene, poses, size, samples)
        missing = [p for p in poses[: len(POSE_NAMES)] if p not in baseline_cache]
        if missing:
            base_rgb, base_opacity = render(model, mean_face, missing, size, samples)
            baseline_cache.update(zip(missing, zip(base_rgb, base_opacity, strict=True), strict=True))
        per_identity[identity.name] = {"image": identity.image, "input_pose": list(identity.pose), **check}
        if colours is not None:
            plain = shape_reference(identity, poses[: len(POSE_NAMES)], image_size, model.fov, colours)
            for k, name in enumerate(POSE_NAMES):
                reference[name]["psnr"].append(psnr(plain[k], gt[k]))
                reference[name]["ssim"].append(ssim(plain[k], gt[k]))
        for k, name in enumerate(POSE_NAMES):
            for who, (image, alpha) in (("model", (rgb[k], opacity[k])), ("baseline", baseline_cache[poses[k]])):
                s = scores[who][name]
                s["psnr"].append(psnr(image, gt[k]))
                s["ssim"].append(ssim(image, gt[k]))
                s["lpips"].append(lpips_metric(image, gt[k]))
                s["iou"].append(silhouette_iou(alpha > 0.5, gt_labels[k] != 0))
            per_identity[identity.name][name] = {m: scores["model"][name][m][-1] for m in ("psnr", "ssim", "iou")}
        if on_sheet:
            at = {pose: k for k, pose in enumerate(poses)}
            order = [at[(yaw, 0.0)] for yaw in SHEET_YAWS]
            mask = get_label_scheme(model.domain.raw_scheme).colorize(
                framed_labels(np.asarray(Image.open(identity.mask_path)), size, domain))
            sheet_rows.append((mask, rgb[order], gt[order]))
        log(f"  {identity.name} (image {identity.image}, pose {identity.pose[0]:+.1f}/{identity.pose[1]:+.1f}): "
            f"input PSNR {scores['model']['input']['psnr'][-1]:.2f}, yaw+35 {scores['model']['yaw+35']['psnr'][-1]:.2f}")
    poses_out = []
    for k, name in enumerate(POSE_NAMES):
        entry = {"name": name, "yaw": None if k == 0 else novel[k - 1][0], "pitch": None if k == 0 else novel[k - 1][1]}
        for who in ("model", "baseline"):
            entry[who] = {metric: _mean(values) for metric, values in scores[who][name].items()}
        entry["margin"] = {metric: None if entry["model"][metric] is None else entry["model"][metric] - entry["baseline"][metric]
                           for metric in ("psnr", "ssim", "lpips", "iou")}
        if entry["margin"]["lpips"] is not None:  # lower LPIPS is better: margin = baseline - model
            entry["margin"]["lpips"] = -entry["margin"]["lpips"]
        if colours is not None:
            entry["shape_reference"] = {metric: _mean(values) for metric, values in reference[name].items()}
        poses_out.append(entry)
    return {
        "poses": poses_out,
        "lpips": "available" if lpips_metric.available else lpips_metric.reason,
        "identity_check": {"label_agreement_min": min(c["label_agreement"] for c in checks),
                           "rgb_psnr_vs_stored_jpeg_min": min(c["rgb_psnr_vs_stored_jpeg"] for c in checks)},
        "per_identity": per_identity,
        "_sheet_rows": sheet_rows,
    }


def evaluate_editing(model, examples: Path, size: int, samples: int) -> dict:
    """Edited example masks: render change inside the edited region over that outside, at the mask's pose.

    The result's ``_sheet_rows`` holds, per edit, the two framed label maps, the two renders and the mean absolute
    change per pixel (for :func:`write_edit_sheet`; not part of the JSON)."""
    entries = json.loads(examples.read_text())
    bases = {e["identity"]: e for e in entries if not e.get("edit")}
    edits, inside, outside, sheet_rows = [], [], [], []
    domain = model.domain.name
    for entry in entries:
        if not entry.get("edit"):
            continue
        base = bases.get(entry["identity"])
        if base is None:
            edits.append({"name": entry["name"], "edit": entry["edit"], "message": f"no base mask for {entry['identity']}"})
            continue
        pose = (float(entry["yaw"]), float(entry["pitch"]))
        labels, renders = [], []
        for e in (base, entry):
            mask = load_mask(examples.parent / e["mask"], e.get("scheme") or model.domain.raw_scheme)
            scene = model.encode(mask, pose=pose)
            renders.append(render(model, scene, [pose], size, samples)[0][0])
            labels.append(framed_labels(mask.to_scheme(model.domain.raw_scheme).labels, size, domain))
        change = edit_change(labels[0], labels[1], renders[0], renders[1])
        diff = np.abs(renders[0].astype(np.float64) - renders[1].astype(np.float64)).mean(axis=2)
        sheet_rows.append((labels[0], labels[1], renders[0], renders[1], diff))
        region = labels[0] != labels[1]
        if region.any() and not region.all():
            inside.append(diff[region])
            outside.append(diff[~region])
        edits.append({"name": entry["name"], "edit": entry["edit"], "base": base["name"], "pose": list(pose),
                      "edited_fraction": change.edited_fraction, "inside": change.inside, "outside": change.outside,
                      "ratio": change.ratio, "message": change.message})
    if inside:
        pooled_in, pooled_out = float(np.concatenate(inside).mean()), float(np.concatenate(outside).mean())
        ratio = pooled_in / pooled_out if pooled_out > 0 else (math.inf if pooled_in > 0 else None)
        overall = {"inside": pooled_in, "outside": pooled_out, "ratio": ratio,
                   "mean_of_ratios": _mean([e.get("ratio") for e in edits if e.get("ratio") not in (None, math.inf)]),
                   "message": "pixels of all edits pooled"}
    else:
        overall = {"inside": None, "outside": None, "ratio": None, "mean_of_ratios": None,
                   "message": "no edit with an edited region (and pixels outside it) to compare"}
    return {"examples": str(examples.relative_to(REPO)) if examples.is_relative_to(REPO) else examples.name,
            "edits": edits, "overall": overall, "_sheet_rows": sheet_rows}


def evaluate_style(model, identities: list[Identity], size: int, samples: int, seeds: list[int]) -> dict:
    """Style mixing at the input pose: silhouette IoU (opacity > 0.5) with the original and colour change inside it."""
    n = model.decoder.num_film_layers
    presets = {"colour": preset_style_layers("colour only", n), "texture": preset_style_layers("texture", n)}
    results = {}
    originals = []
    for identity in identities:
        scene = model.encode(identity.mask_path, pose=identity.pose)
        rgb, opacity = render(model, scene, [identity.pose], size, samples)
        originals.append((identity, scene, rgb[0], opacity[0] > 0.5))
    for preset, layers in presets.items():
        ious, changes, empty = [], [], 0
        for identity, scene, rgb, silhouette in originals:
            for seed in seeds:
                styled = model.mix_style(scene, seed, layers)
                srgb, sopacity = render(model, styled, [identity.pose], size, samples)
                styled_silhouette = sopacity[0] > 0.5
                if not silhouette.any() and not styled_silhouette.any():
                    empty += 1
                ious.append(silhouette_iou(silhouette, styled_silhouette))
                if silhouette.any():
                    diff = np.abs(srgb[0].astype(np.float64) - rgb.astype(np.float64)).mean(axis=2)
                    changes.append(float(diff[silhouette].mean()))
        results[preset] = {"layers": layers, "iou_mean": _mean(ious), "iou_min": min(ious) if ious else None,
                           "colour_change_mean": _mean(changes), "empty_silhouettes": empty, "renders": len(ious)}
    return {"scenes": [i.name for i in identities], "seeds": seeds, "presets": results}


# --- results sheet ---------------------------------------------------------------------------------------


def write_sheet(path: Path, rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]], gap: int = 4) -> Path:
    """One row per identity: coloured input mask, renders at the five yaws, then the ground truth at the same yaws."""
    if not rows:
        raise ValueError("no identity for the results sheet")
    size = rows[0][0].shape[0]
    white = np.full((size, gap, 3), 255, np.uint8)
    lines = []
    for mask, renders, truth in rows:
        parts = [mask, white, *renders, white, *truth]
        lines.append(np.concatenate(parts, axis=1))
        lines.append(np.full((gap, lines[-1].shape[1], 3), 255, np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(lines[:-1], axis=0)).save(path, optimize=True)
    return path


def write_edit_sheet(path: Path, rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                     scheme: str, zoom: int = 2, gain: float = 4.0, gap: int = 4) -> Path:
    """One row per edit (:func:`evaluate_editing`'s ``_sheet_rows``): the base and edited masks (coloured), their
    renders, and the change |edited - base| x ``gain`` (grey) with the edited region tinted red; every tile
    enlarged ``zoom`` x (nearest)."""
    if not rows:
        raise ValueError("no edit for the edit sheet")
    colorize = get_label_scheme(scheme).colorize
    lines = []
    for base_labels, edit_labels, base_rgb, edit_rgb, change in rows:
        grey = np.clip(change * gain, 0, 255).astype(np.uint8)
        diff = np.stack([grey] * 3, axis=2)
        region = base_labels != edit_labels
        diff[region] = (0.5 * diff[region] + np.array([127.5, 0.0, 0.0])).astype(np.uint8)
        tiles = [colorize(base_labels), colorize(edit_labels), base_rgb, edit_rgb, diff]
        tiles = [np.repeat(np.repeat(t, zoom, axis=0), zoom, axis=1) for t in tiles]
        white = np.full((tiles[0].shape[0], gap, 3), 255, np.uint8)
        parts = [tiles[0], tiles[1], white, tiles[2], tiles[3], white, tiles[4]]
        lines.append(np.concatenate(parts, axis=1))
        lines.append(np.full((gap, lines[-1].shape[1], 3), 255, np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(lines[:-1], axis=0)).save(path, optimize=True)
    return path


# --- report ----------------------------------------------------------------------------------------------


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def format_report(result: dict) -> str:
    rec = result["reconstruction"]
    lines = [(f"Sem2NeRF on SynthFaces: {len(result['identities'])} held-out identities of {result['data']}, "
             f"renders {result['render_size']} px ({result['samples']} + {result['samples']} samples, fov {result['fov']:g}), "
             f"input view {result['input_view']}"),
             f"ground truth: central {CROP_FRACTION:.0%} of the generator's full frame; lighting: {LIGHTING}",
             (f"identity check (input view re-rendered vs stored files): labels agree on >= "
             f"{rec['identity_check']['label_agreement_min']:.2%} of pixels, RGB PSNR vs JPEG >= "
             f"{_fmt(rec['identity_check']['rgb_psnr_vs_stored_jpeg_min'])} dB"),
             "",
             f"{'pose':<9} {'PSNR model':>10} {'baseline':>9} {'margin':>7} | {'SSIM model':>10} {'baseline':>9} {'margin':>7}"
             f" | {'IoU model':>9} {'baseline':>9}"
             + (f" | {'LPIPS model':>11} {'baseline':>9}" if rec["lpips"] == "available" else "")
             + (f" | {'shape ref PSNR':>14} {'SSIM':>6}" if "shape_reference" in rec["poses"][0] else "")]
    for e in rec["poses"]:
        m, b, d = e["model"], e["baseline"], e["margin"]
        line = (f"{e['name']:<9} {_fmt(m['psnr']):>10} {_fmt(b['psnr']):>9} {_fmt(d['psnr']):>7} | "
                f"{_fmt(m['ssim'], 3):>10} {_fmt(b['ssim'], 3):>9} {_fmt(d['ssim'], 3):>7} | "
                f"{_fmt(m['iou'], 3):>9} {_fmt(b['iou'], 3):>9}")
        if rec["lpips"] == "available":
            line += f" | {_fmt(m['lpips'], 3):>11} {_fmt(b['lpips'], 3):>9}"
        if "shape_reference" in e:
            line += f" | {_fmt(e['shape_reference']['psnr']):>14} {_fmt(e['shape_reference']['ssim'], 3):>6}"
        lines.append(line)
    lines.append("IoU: foreground silhouette (opacity > 0.5) against the ground truth's non-background labels")
    if "shape_reference" in rec["poses"][0]:
        lines.append("shape ref: the ground truth's own shape and light painted in the training identities' mean colours "
                     "(what a mask, which fixes the shape but not the colours, can give at best without guessing colours)")
    if rec["lpips"] != "available":
        lines.append(f"LPIPS: {rec['lpips']}")
    edit = result.get("editing")
    if edit:
        lines += ["", f"Editing ({edit['examples']}): mean |change| of the render (0-255) inside / outside the edited region"]
        for e in edit["edits"]:
            if "edited_fraction" not in e:
                lines.append(f"  {e['name']:<22} {e['message']}")
                continue
            lines.append(f"  {e['name']:<22} region {e['edited_fraction']:6.1%}  inside {_fmt(e['inside']):>6}  "
                         f"outside {_fmt(e['outside']):>6}  ratio {_fmt(e['ratio']):>6}" + (f"  ({e['message']})" if e["message"] else ""))
        o = edit["overall"]
        lines.append(f"  {'overall (pooled)':<22} {'':13}inside {_fmt(o['inside']):>6}  outside {_fmt(o['outside']):>6}  "
                     f"ratio {_fmt(o['ratio']):>6}  (mean of ratios {_fmt(o['mean_of_ratios'])})"
                     + ("" if o["ratio"] is not None else f"  {o['message']}"))
    style = result.get("style")
    if style:
        lines += ["", (f"Style mixing ({len(style['scenes'])} scenes x seeds {style['seeds']}, at the input pose): "
                      "silhouette = opacity > 0.5")]
        for preset, s in style["presets"].items():
            lines.append(f"  {preset:<8} layers {s['layers']}: silhouette IoU mean {_fmt(s['iou_mean'], 3)} "
                         f"(min {_fmt(s['iou_min'], 3)}), colour change inside the silhouette {_fmt(s['colour_change_mean'])}"
                         + (f"; {s['empty_silhouettes']} of {s['renders']} with empty silhouettes" if s["empty_silhouettes"] else ""))
    if result.get("sheet"):
        lines += ["", f"results sheet: {result['sheet']}"]
    if result.get("edit_sheet"):
        lines += [f"edit sheet: {result['edit_sheet']}"]
    lines.append(f"time: {result['seconds']:.1f} s")
    return "\n".join(lines)


def _json_ready(value):
    """Non-finite floats -> strings ("inf", "nan") so that the JSON is strict."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def evaluate(model, data_dir: str | Path, identities: int | None = 20, samples: int = 24, input_view: int = 0,
             examples: str | Path | None = DEFAULT_EXAMPLES, style_scenes: int = 4, style_seeds=(1, 2, 3),
             sheet: str | Path | None = None, sheet_identities: int = 4, lpips: bool = True, log=print,
             edit_sheet: str | Path | None = None) -> dict:
    """Run every measurement on ``model`` (a :class:`Sem2NeRF`) and return the results as a dict."""
    start = time.perf_counter()
    data_dir = Path(data_dir)
    info, chosen = load_identities(data_dir, identities, input_view)
    image_size = int(info["image_size"])
    size, _ = framing(image_size)
    lpips_metric = Lpips(lpips, model.device)
    sheet_count = min(sheet_identities, len(chosen)) if sheet else 0
    log(f"evaluating {len(chosen)} identities at {size} px ...")
    rec = evaluate_reconstruction(model, chosen, image_size, samples, lpips_metric, sheet_count, log, info["mean_colours"])
    rows = rec.pop("_sheet_rows")
    result = {"data": str(data_dir), "data_seed": info["seed"], "generator_version": info["version"],
              "image_size": image_size, "render_size": size, "samples": samples, "fov": model.fov,
              "input_view": input_view, "lighting": LIGHTING, "identities": [i.name for i in chosen],
              "reconstruction": rec}
    if examples:
        log("editing ...")
        result["editing"] = evaluate_editing(model, Path(examples).resolve(), size, samples)
        edit_rows = result["editing"].pop("_sheet_rows")
        if edit_sheet and edit_rows:
            result["edit_sheet"] = str(write_edit_sheet(Path(edit_sheet), edit_rows, model.domain.raw_scheme))
    if style_scenes and style_seeds:
        log("style mixing ...")
        result["style"] = evaluate_style(model, chosen[:style_scenes], size, samples, [int(s) for s in style_seeds])
    if sheet:
        result["sheet"] = str(write_sheet(Path(sheet), rows))
    result["seconds"] = time.perf_counter() - start
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model folder or Hub id (default: sem2nerf.DEFAULT_MODEL_DIR)")
    parser.add_argument("--data", default=DEFAULT_DATA, help=f"SynthFaces data set (default {DEFAULT_DATA})")
    parser.add_argument("--identities", type=int, default=20, help="held-out identities to evaluate (0: all; default 20)")
    parser.add_argument("--input-view", type=int, default=0, help="view of each identity whose mask is encoded (default 0)")
    parser.add_argument("--samples", type=int, default=24, help="coarse samples per ray, as many fine (default 24)")
    parser.add_argument("--examples", default=str(DEFAULT_EXAMPLES), help="examples index with edited masks ('' to skip)")
    parser.add_argument("--style-scenes", type=int, default=4, help="scenes for the style-mixing check (0 to skip)")
    parser.add_argument("--style-seeds", type=int, nargs="*", default=[1, 2, 3], help="style seeds (default 1 2 3)")
    parser.add_argument("--sheet", default=None, help="write the results sheet PNG here (e.g. docs/results_synthfaces.png)")
    parser.add_argument("--sheet-identities", type=int, default=4, help="rows of the results sheet (default 4)")
    parser.add_argument("--edit-sheet", default=None,
                        help="write the edit sheet PNG here: per edited example the masks, renders and the change "
                             "(e.g. docs/edits_synthfaces.png)")
    parser.add_argument("--carve", choices=["model", "on", "off"], default="model",
                        help="carve each scene to its mask's silhouette (sem2nerf.carve): the model's own setting "
                        "(default; the bundled model carves), always, or never")
    parser.add_argument("--json", default=None, help="also write the results as JSON here")
    parser.add_argument("--no-lpips", action="store_true", help="do not try to build LPIPS")
    parser.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda, mps ...")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: many small operations; a second thread on a busy core "
                             "stalls the first, 20x slower measured on a shared 2-core machine; 0 = torch's default)")
    return parser


def main(argv: list[str] | None = None, model=None) -> dict:
    """Command line; returns the results dict (``model`` may be passed in directly, e.g. by tests)."""
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if model is None:
        source = args.model or getattr(sem2nerf, "DEFAULT_MODEL_DIR", None)
        if source is None:
            build_parser().error("--model is required (this sem2nerf has no bundled default model)")
        device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        model = Sem2NeRF.from_pretrained(str(source)).to(device).eval()
        model_name = str(source)
    else:
        model_name = type(model).__name__
    carve = model.carve
    model.carve = {"model": carve, "on": True, "off": False}[args.carve]  # encode's default (restored below)
    try:
        result = evaluate(model, args.data, args.identities or None, args.samples, args.input_view,
                          args.examples or None, args.style_scenes, args.style_seeds, args.sheet, args.sheet_identities,
                          not args.no_lpips, edit_sheet=args.edit_sheet)
        result = {"model": model_name, "carve": model.carve, **result}
    finally:
        model.carve = carve
    print()
    print(format_report(result))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(_json_ready(result), indent=2) + "\n")
        print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    main()
