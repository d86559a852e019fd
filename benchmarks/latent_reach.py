"""How far a decoder's latent space reaches toward masks made by another process than its training data.

For each decoder folder (a generator stage's export: ``decoder.safetensors`` with ``identity_latents.safetensors``)
and each DrawnFaces mask (``sem2nerf.drawn``, base i from ``SeedSequence([--seed, i])``, pose 0, 0): start at the mean
of the decoder's identity latents and fit the latent to the mask's silhouette by Adam, along the principal
directions of those latents (``z = mean + (u * std) @ basis``, all directions with a spread above 1e-3 of the
largest, ``u`` pulled toward 0 with weight ``--prior``), minimising the binary cross-entropy of the rendered
opacity at the mask's pose (``--fit-size`` px, one deterministic pass of ``--samples`` samples) against the framed
mask's foreground. Printed per decoder: the silhouette IoU (opacity > 0.5 against the foreground, 64 px, 24 + 24
samples) of the mean latent and of the fitted one, and how far the fit went (the RMS of ``u``). No encoder is
involved: this is the best outline each decoder's latent space can draw (within the fit's budget), not what an
encoder gives.

Command (the generator stage's export, and another one to compare; about 2 minutes per decoder on 2 CPU cores)::

    python benchmarks/latent_reach.py runs/synthfaces_generator/export runs/gen_residual/export --count 12
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sem2nerf.camera import LOCKED_VIEW_DIRECTION, angles_to_renderer, camera_to_world
from sem2nerf.decoder_folder import load_decoder, load_identity_latents
from sem2nerf.domains import get_domain
from sem2nerf.drawn import draw_mask, sample_drawn_face
from sem2nerf.masks import frame_to_domain
from sem2nerf.renderer import RenderOptions, render_image


def principal_directions(latents: torch.Tensor, rel_tol: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(mean (z_dim,), basis (K, z_dim), std (K,))`` of a table of latents ``(N, z_dim)``."""
    z = latents.double()
    mean = z.mean(0)
    _, s, vh = torch.linalg.svd(z - mean, full_matrices=False)
    keep = int((s > rel_tol * s[0]).sum())
    return mean.float(), vh[:keep].float(), (s[:keep] / (z.shape[0] - 1) ** 0.5).float()


def silhouette(decoder, z: torch.Tensor, size: int, fov: float, opts: RenderOptions) -> torch.Tensor:
    freq, phase = decoder.mapping(z)
    field = decoder.modulate(freq, phase, LOCKED_VIEW_DIRECTION)
    c2w = camera_to_world(*angles_to_renderer(0.0, 0.0))[None]
    return render_image(field, c2w, size, fov, opts).opacity[0]


def iou(opacity: torch.Tensor, foreground: np.ndarray) -> float:
    a = opacity.detach().numpy() > 0.5
    return float((a & foreground).sum() / max(1, (a | foreground).sum()))


def reach(folder: Path, masks: list[np.ndarray], args) -> dict:
    """The mean latent's and the fitted latents' IoU over ``masks`` for one decoder folder."""
    decoder, config = load_decoder(folder)
    decoder = decoder.eval().requires_grad_(False)
    table = load_identity_latents(folder)
    if table is None:
        raise SystemExit(f"{folder} has no identity_latents.safetensors (a generator stage's export has)")
    mean, basis, std = principal_directions(table[1])
    domain = get_domain(config.get("domain", "celebamask_hq"))
    fov, near, far = config.get("fov") or domain.fov, config.get("ray_start") or domain.ray_start, config.get("ray_end") or domain.ray_end
    fit_opts = RenderOptions(num_samples=args.samples, hierarchical=False, ray_start=near, ray_end=far, deterministic=True)
    eval_opts = RenderOptions(num_samples=24, ray_start=near, ray_end=far, deterministic=True)
    start, fitted, moves = [], [], []
    t0 = time.perf_counter()
    for labels in masks:
        framed = np.asarray(frame_to_domain(Image.fromarray(labels), domain, 256)) != 0
        fg64 = np.asarray(Image.fromarray(framed).resize((64, 64), Image.NEAREST))
        target = F.adaptive_avg_pool2d(torch.from_numpy(framed.astype(np.float32))[None, None], args.fit_size)[0, 0]
        target = target.clamp(1e-3, 1 - 1e-3)
        u = torch.zeros(1, len(std), requires_grad=True)
        optim = torch.optim.Adam([u], lr=args.lr)
        with torch.no_grad():
            start.append(iou(silhouette(decoder, mean[None], 64, fov, eval_opts), fg64))
        for _ in range(args.steps):
            z = mean + (u * std) @ basis
            opacity = silhouette(decoder, z, args.fit_size, fov, fit_opts).clamp(1e-4, 1 - 1e-4)
            loss = F.binary_cross_entropy(opacity, target) + args.prior * (u**2).mean()
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
        with torch.no_grad():
            fitted.append(iou(silhouette(decoder, mean + (u * std) @ basis, 64, fov, eval_opts), fg64))
        moves.append(float(u.detach().pow(2).mean().sqrt()))
    return {"decoder": str(folder), "directions": len(std), "iou_mean_latent": float(np.mean(start)),
            "iou_fitted": float(np.mean(fitted)), "iou_fitted_min": float(np.min(fitted)), "u_rms": float(np.mean(moves)),
            "seconds": time.perf_counter() - t0, "per_mask": {"mean_latent": start, "fitted": fitted}}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("decoders", nargs="+", help="generator-stage export folders")
    parser.add_argument("--count", type=int, default=12, help="DrawnFaces masks (default 12)")
    parser.add_argument("--seed", type=int, default=0, help="DrawnFaces seed (default 0)")
    parser.add_argument("--steps", type=int, default=60, help="Adam steps per mask (default 60)")
    parser.add_argument("--lr", type=float, default=0.1, help="Adam learning rate on u (default 0.1)")
    parser.add_argument("--prior", type=float, default=1e-3, help="weight of mean(u^2) (default 1e-3)")
    parser.add_argument("--fit-size", type=int, default=32, help="opacity side during the fit (default 32)")
    parser.add_argument("--samples", type=int, default=16, help="samples per ray during the fit (default 16)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--json", default=None, help="write every number here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    masks = [draw_mask(sample_drawn_face(np.random.default_rng(np.random.SeedSequence([args.seed, i]))), 256)
             for i in range(args.count)]
    results = []
    for folder in args.decoders:
        r = reach(Path(folder), masks, args)
        results.append(r)
        print(f"{folder}: {r['directions']} directions; IoU mean latent {r['iou_mean_latent']:.3f}, fitted "
              f"{r['iou_fitted']:.3f} (min {r['iou_fitted_min']:.3f}), RMS of u {r['u_rms']:.2f}, {r['seconds']:.0f} s",
              flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
