"""Write a SynthFaces data set in the CelebAMask-HQ layout, and the ``synth`` command line.

Layout of ``out_dir``::

    CelebA-HQ-img/<id>.jpg         RGB renders (full frame; the model sees the central 80 %)
    masks/<id>.png                 raw CelebAMask-HQ label ids, PIL mode L
    depth/<id>.png                 16-bit distance along each ray in units of DEPTH_UNIT (0 = background)
    CelebAMask-HQ-pose-anno.txt    yaw / pitch in degrees (sem2nerf.domains.write_pose_file)
    train_paths.txt, test_paths.txt   one image id per line; identities never straddle the split
    identities.json                identity -> list of image ids
    identity_params.json           identity -> its parameters and, per view, pose and light
    synthfaces.json                generator version and every setting needed to reproduce the set

Everything is a function of ``seed``: each identity draws from its own random stream, so the
bytes do not depend on the number of worker processes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..domains import get_domain, write_pose_file
from ..folders import prepare_output_folder
from ..masks import crop_to_domain
from .head import SynthHead
from .params import FaceParams, sample_face_params
from .render import BOX_HALF, HEAD_OFFSET, HEAD_SCALE, Light, full_fov, head_bounds, render_views

__all__ = [
    "DEPTH_UNIT",
    "GENERATOR_VERSION",
    "PITCH_STD",
    "POSE_CLIP",
    "YAW_STD",
    "add_synth_arguments",
    "domain_center_crop",
    "draw_identity",
    "generate_dataset",
    "read_depth",
    "render_identity",
    "run_synth",
    "sample_light",
    "sample_poses",
]

GENERATOR_VERSION = "2.0"  # see docs/synthfaces.md, "Versions"
DOMAIN = "celebamask_hq"
DEPTH_UNIT = 2e-5  # world units per step of the 16-bit depth PNGs (1.12 -> 56000)
YAW_STD = 0.3  # radians, pi-GAN CelebA h_stddev
PITCH_STD = 0.155  # radians, pi-GAN CelebA v_stddev
POSE_CLIP = 2.0  # poses are clipped at this many standard deviations
MAX_SIZE = 2048
_FILES = ("CelebA-HQ-img", "masks", "depth", "CelebAMask-HQ-pose-anno.txt", "train_paths.txt", "test_paths.txt",
          "identities.json", "identity_params.json", "synthfaces.json")
# independent random streams per identity
_STREAM_PARAMS, _STREAM_POSES, _STREAM_LIGHTS, _STREAM_SPLIT = 1, 2, 3, 4


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def sample_poses(rng: np.random.Generator, count: int) -> list[tuple[float, float]]:
    """Poses like pi-GAN's CelebA curriculum: yaw ~ N(0, 0.3 rad), pitch ~ N(0, 0.155 rad), clipped at 2 std.

    Returned as public (yaw, pitch) degrees rounded to 1e-4, exactly what the pose file stores.
    """
    z = np.clip(rng.standard_normal((count, 2)), -POSE_CLIP, POSE_CLIP)
    yaw = np.degrees(z[:, 0] * YAW_STD)
    pitch = np.degrees(z[:, 1] * PITCH_STD)
    return [(round(float(a), 4), round(float(b), 4)) for a, b in zip(yaw, pitch, strict=True)]


def sample_light(rng: np.random.Generator) -> Light:
    """A key light from the upper front with jittered direction and strength."""
    direction = np.array((-0.35 + rng.normal(0, 0.35), 0.55 + rng.normal(0, 0.2), 0.8))
    direction /= np.linalg.norm(direction)
    return Light(tuple(round(float(c), 4) for c in direction), round(float(rng.uniform(0.32, 0.48)), 4),
                 round(float(rng.uniform(0.6, 0.85)), 4))


def draw_identity(seed: int, index: int, views: int) -> tuple[FaceParams, list[tuple[float, float]], list[Light]]:
    """The parameters, poses and lights of identity ``index`` of the data set made with ``seed``."""
    params = sample_face_params(_rng(seed, _STREAM_PARAMS, index))
    poses = sample_poses(_rng(seed, _STREAM_POSES, index), views)
    light_rng = _rng(seed, _STREAM_LIGHTS, index)
    return params, poses, [sample_light(light_rng) for _ in range(views)]


def render_identity(
    params: FaceParams,
    poses: list[tuple[float, float]],
    size: int,
    lights: list[Light] | None = None,
    fov: float | None = None,
) -> dict[str, np.ndarray]:
    """Render one identity at public poses (degrees); ``fov`` defaults to the data-set framing :func:`full_fov`."""
    head = SynthHead(params, head_bounds())
    return render_views(head, [p[0] for p in poses], [p[1] for p in poses], size,
                        full_fov(size) if fov is None else fov, lights)


def read_depth(path: str | os.PathLike) -> np.ndarray:
    """A depth PNG as float32 distances along the rays in world units (0 where no surface was hit)."""
    return np.asarray(Image.open(path), dtype=np.float32) * DEPTH_UNIT


def domain_center_crop(array: np.ndarray, domain: str = DOMAIN, resample: int = Image.NEAREST) -> np.ndarray:
    """The domain's mask framing applied to an array (see :func:`sem2nerf.masks.crop_to_domain`)."""
    return np.asarray(crop_to_domain(Image.fromarray(array), domain, resample))


def _identity_name(index: int) -> str:
    return f"id{index:05d}"


def _render_and_write(task: tuple) -> dict:
    """Worker: draw, render and write all views of one identity; return its index entry.

    Rendering runs on one torch thread: the work is many small element-wise operations, which
    scale better over processes, and a busy second core then cannot stall the other thread.
    """
    out_dir, seed, index, views, size, jpeg_quality = task
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        params, poses, lights = draw_identity(seed, index, views)
        out = render_identity(params, poses, size, lights)
    finally:
        torch.set_num_threads(threads)
    root = Path(out_dir)
    entries = []
    for v in range(views):
        image_id = str(index * views + v)
        Image.fromarray(out["rgb"][v]).save(root / "CelebA-HQ-img" / f"{image_id}.jpg", quality=jpeg_quality)
        Image.fromarray(out["labels"][v], mode="L").save(root / "masks" / f"{image_id}.png")
        depth = np.round(out["depth"][v] / DEPTH_UNIT).astype(np.uint16)
        Image.fromarray(depth).save(root / "depth" / f"{image_id}.png")
        entries.append({"image": image_id, "yaw": poses[v][0], "pitch": poses[v][1], "light": lights[v].to_dict()})
    return {"identity": _identity_name(index), "params": params.to_dict(), "views": entries}


def _check_arguments(out_dir, identities, views, size, test_fraction, workers, overwrite) -> Path:
    for name, value in (("identities", identities), ("views", views), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be a whole number, got {value!r}")
    if identities < 1:
        raise ValueError(f"the number of identities must be at least 1, got {identities}")
    if views < 1:
        raise ValueError(f"the number of views per identity must be at least 1, got {views}")
    if not 16 <= size <= MAX_SIZE:
        raise ValueError(f"image size must be between 16 and {MAX_SIZE} pixels, got {size}")
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test fraction must be in [0, 1), got {test_fraction}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return prepare_output_folder(out_dir, overwrite, "synthfaces.json", "SynthFaces data set")


def generate_dataset(
    out_dir: str | os.PathLike,
    identities: int,
    views: int,
    size: int = 128,
    seed: int = 0,
    test_fraction: float = 0.1,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
    jpeg_quality: int = 95,
    overwrite: bool = False,
) -> dict:
    """Render ``identities x views`` images with masks, depth and poses into ``out_dir``.

    Args:
        out_dir: an empty (or new) folder; with ``overwrite`` an earlier SynthFaces set there is replaced.
        identities: number of distinct heads.
        views: images per head, each at its own random pose and light.
        size: image side in pixels.
        seed: the whole data set is a function of this number.
        test_fraction: share of the identities held out in ``test_paths.txt`` (at least one when > 0).
        progress: called as ``progress(images_done, images_total)`` after each identity.
        workers: processes (default: up to 2, one torch thread each; 1 renders in this process).
        jpeg_quality: quality of the JPEG images.
        overwrite: replace an earlier SynthFaces data set in ``out_dir``.

    Returns:
        A summary: counts, paths, ``seconds`` and ``images_per_second``.

    Raises:
        ValueError: with a one-line message for bad arguments or an unusable output folder.
        TypeError: when a count or the size is not an integer.
    """
    out = _check_arguments(out_dir, identities, views, size, test_fraction, workers, overwrite)
    for name in _FILES:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for folder in ("CelebA-HQ-img", "masks", "depth"):
        (out / folder).mkdir()
    if workers is None:
        workers = max(1, min(2, os.cpu_count() or 1, identities))
    total = identities * views
    tasks = [(str(out), seed, i, views, size, jpeg_quality) for i in range(identities)]
    started = time.perf_counter()
    results = []
    if workers == 1:
        for task in tasks:
            results.append(_render_and_write(task))
            if progress:
                progress(len(results) * views, total)
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            for result in pool.map(_render_and_write, tasks, chunksize=1):
                results.append(result)
                if progress:
                    progress(len(results) * views, total)
    seconds = time.perf_counter() - started
    n_test = 0 if test_fraction == 0 or identities < 2 else max(1, round(test_fraction * identities))
    order = _rng(seed, _STREAM_SPLIT).permutation(identities)
    test_ids = {_identity_name(int(i)) for i in order[:n_test]}
    poses, index, details = {}, {}, {}
    train, test = [], []
    for result in results:
        name = result["identity"]
        images = [entry["image"] for entry in result["views"]]
        index[name] = images
        details[name] = {"params": result["params"], "views": result["views"]}
        (test if name in test_ids else train).extend(images)
        for entry in result["views"]:
            poses[entry["image"]] = (entry["yaw"], entry["pitch"])
    domain = get_domain(DOMAIN)
    write_pose_file(out / domain.pose_file, poses, domain)
    (out / "train_paths.txt").write_text("".join(f"{i}\n" for i in train))
    (out / "test_paths.txt").write_text("".join(f"{i}\n" for i in test))
    (out / "identities.json").write_text(json.dumps(index, indent=1) + "\n")
    (out / "identity_params.json").write_text(json.dumps(details, indent=1) + "\n")
    description = _description(identities, views, size, seed, test_fraction, jpeg_quality, len(train), len(test))
    (out / "synthfaces.json").write_text(json.dumps(description, indent=2) + "\n")
    return {
        "out_dir": str(out),
        "identities": identities,
        "views": views,
        "size": size,
        "images": total,
        "train_images": len(train),
        "test_images": len(test),
        "test_identities": sorted(test_ids),
        "workers": workers,
        "seconds": round(seconds, 3),
        "images_per_second": round(total / seconds, 3) if seconds > 0 else math.inf,
    }


def _description(identities, views, size, seed, test_fraction, jpeg_quality, n_train, n_test) -> dict:
    domain = get_domain(DOMAIN)
    return {
        "generator": "sem2nerf.synthfaces",
        "version": GENERATOR_VERSION,
        "seed": seed,
        "identities": identities,
        "views_per_identity": views,
        "images": identities * views,
        "train_images": n_train,
        "test_images": n_test,
        "test_fraction": test_fraction,
        "image_size": size,
        "image_ids": "identity_index * views_per_identity + view_index",
        "domain": DOMAIN,
        "label_scheme": domain.raw_scheme,
        "left_right": "CelebAMask-HQ: l_eye / l_brow / l_ear are the person's left, on the image's right in a frontal view",
        "camera": {
            "convention": "sem2nerf.camera: unit sphere, looking at the origin, theta = 90 - yaw, phi = 90 + pitch",
            "fov_full_deg": round(full_fov(size, domain.fov, domain.crop_fraction), 6),
            "fov_crop_deg": domain.fov,
            "crop_fraction": domain.crop_fraction,
            "ray_start": domain.ray_start,
            "ray_end": domain.ray_end,
            "box_half": BOX_HALF,
        },
        "poses": {"yaw_std_rad": YAW_STD, "pitch_std_rad": PITCH_STD, "clip_std": POSE_CLIP,
                  "file": domain.pose_file, "units": "degrees (CelebAMask-HQ annotation convention)"},
        "head_frame": {"world_per_cm": HEAD_SCALE, "origin_world": list(HEAD_OFFSET)},
        "depth": {"folder": "depth", "format": "16-bit PNG", "unit_world": DEPTH_UNIT,
                  "meaning": "distance along the unit ray from the camera centre; 0 = background"},
        "image_files": {"folder": domain.image_folder, "format": "JPEG", "quality": jpeg_quality},
        "mask_files": {"folder": "masks", "format": "PNG mode L, raw ids"},
    }


# --- command line ---------------------------------------------------------------------------------


def add_synth_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m sem2nerf synth``."""
    parser.add_argument("--out", required=True, help="output folder (new or empty)")
    parser.add_argument("--identities", type=int, default=100, help="number of distinct heads (default 100)")
    parser.add_argument("--views", type=int, default=10, help="images per head (default 10)")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same bytes")
    parser.add_argument("--test-fraction", type=float, default=0.1, help="share of identities held out (default 0.1)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: up to 2)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier SynthFaces set in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run_synth(args: argparse.Namespace) -> int:
    """Run the ``synth`` command; print a one-line error and return 2 on bad arguments."""
    started = time.perf_counter()

    def report(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        print(f"\rsynthfaces: {done}/{total} images ({rate:.1f} images/s)", end="", file=sys.stderr, flush=True)

    try:
        summary = generate_dataset(
            args.out, args.identities, args.views, args.size, args.seed, test_fraction=args.test_fraction,
            progress=None if args.quiet else report, workers=args.workers, overwrite=args.overwrite,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(file=sys.stderr)
    print(f"wrote {summary['images']} images of {summary['identities']} identities to {summary['out_dir']} "
          f"({summary['train_images']} train, {summary['test_images']} test) in {summary['seconds']:.1f} s, "
          f"{summary['images_per_second']:.1f} images/s")
    return 0
