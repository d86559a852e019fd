"""Render speed and memory: our renderer against a faithful re-implementation of the official one.

The baseline follows the official inference path (pi-GAN ``staged_forward`` as Sem2NeRF calls it,
official-sem2nerf.md 1.3, 2.2-2.6, 7.2): the 10,000-sample latent average recomputed on every call
(unused), rays built as a (rays x steps) point grid and moved to world space with homogeneous 4x4
matrices, the siren evaluated in chunks of 50,000 points with unfused FiLM ops
(``sin(gamma * linear(h) + beta)``, the locked view direction materialised per point), coarse and
fine outputs kept for the whole image, then concatenated, sorted and gathered before the final
integration. Deterministic mode (no jitter, ``u = linspace(0, 1)`` importance sampling) makes
both renders comparable: the script prints their largest absolute pixel difference (in [-1, 1]).

Both use the same decoder weights and code. Times are wall-clock minima over interleaved repeats
(baseline, ours, baseline, ...), so a load that comes and goes affects both alike; other jobs on
the machine still slow both down. Peak RSS is the process's resident high-water mark during the
render (reset before each one; torch's own ~0.4 GiB included).

    python benchmarks/bench_render.py                       # official-size decoder, 128 px, 24 + 24 samples
    python benchmarks/bench_render.py --decoder small --size 64
    python benchmarks/bench_render.py --model DIR           # a model or decoder folder (its mean-face code)
    python benchmarks/bench_render.py --memory              # our peak memory at 128, 256, 512 px
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import resource
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sem2nerf.camera import angles_to_renderer, camera_to_world
from sem2nerf.decoder import FREQ_SCALE, FREQ_SHIFT, PiGANDecoder
from sem2nerf.renderer import RenderOptions, render_poses
from sem2nerf.trajectories import Pose

DECODERS = {"official": {"hidden_dim": 256, "num_layers": 8}, "small": {"hidden_dim": 128, "num_layers": 6}}
OFFICIAL_CHUNK = 50_000  # --pigan_infer_max_batch at inference


# --- the official inference path, re-implemented from official-sem2nerf.md -------------------------


def official_siren(dec: PiGANDecoder, x, frequencies, phase_shifts, ray_directions):
    """``forward_with_frequencies_phase_shifts``: unfused FiLM layers, [direction, features] into the colour layer."""
    frequencies = frequencies * FREQ_SCALE + FREQ_SHIFT
    x = x * (2.0 / dec.box_size)  # UniformBoxWarp
    hidden = dec.hidden_dim
    for i, layer in enumerate(dec.trunk):
        freq = frequencies[..., i * hidden : (i + 1) * hidden].unsqueeze(1)
        phase = phase_shifts[..., i * hidden : (i + 1) * hidden].unsqueeze(1)
        x = F.linear(x, layer.weight, layer.bias)
        x = torch.sin(freq.expand_as(x) * x + phase.expand_as(x))
    sigma = F.linear(x, dec.density.weight, dec.density.bias)
    c = F.linear(torch.cat([ray_directions, x], dim=-1), dec.color_film.weight, dec.color_film.bias)
    freq, phase = frequencies[..., -hidden:].unsqueeze(1), phase_shifts[..., -hidden:].unsqueeze(1)
    c = torch.sin(freq.expand_as(c) * c + phase.expand_as(c))
    rgb = torch.sigmoid(F.linear(c, dec.color_out.weight, dec.color_out.bias))
    return torch.cat([rgb, sigma], dim=-1)


def official_integration(rgb_sigma, z_vals, last_back=False):
    """``fancy_integration`` with relu clamping, no noise, no white background."""
    rgbs, sigmas = rgb_sigma[..., :3], rgb_sigma[..., 3:]
    deltas = z_vals[:, :, 1:] - z_vals[:, :, :-1]
    deltas = torch.cat([deltas, 1e10 * torch.ones_like(deltas[:, :, :1])], -2)
    alphas = 1 - torch.exp(-deltas * torch.relu(sigmas))
    shifted = torch.cat([torch.ones_like(alphas[:, :, :1]), 1 - alphas + 1e-10], -2)
    weights = alphas * torch.cumprod(shifted, -2)[:, :, :-1]
    weights_sum = weights.sum(2)
    if last_back:
        weights[:, :, -1] += 1 - weights_sum
    return torch.sum(weights * rgbs, -2), torch.sum(weights * z_vals, -2), weights


def official_sample_pdf(bins, weights, n_importance, det, eps=1e-5):
    """Inverse-CDF sampling with the gathers done on expanded (rays, samples, bins) tensors."""
    rays = weights.shape[0]
    weights = weights + eps
    pdf = weights / torch.sum(weights, -1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, -1)], -1)
    u = torch.linspace(0, 1, n_importance).expand(rays, n_importance) if det else torch.rand(rays, n_importance)
    inds = torch.searchsorted(cdf, u.contiguous(), right=True)
    below = torch.clamp_min(inds - 1, 0)
    above = torch.clamp_max(inds, cdf.shape[-1] - 1)
    inds_g = torch.stack([below, above], -1)
    shape = [rays, n_importance, cdf.shape[-1]]
    cdf_g = torch.gather(cdf.unsqueeze(1).expand(shape), 2, inds_g)
    bins_g = torch.gather(bins.unsqueeze(1).expand(shape), 2, inds_g)
    denom = cdf_g[..., 1] - cdf_g[..., 0]
    denom[denom < eps] = 1
    return bins_g[..., 0] + (u - cdf_g[..., 0]) / denom * (bins_g[..., 1] - bins_g[..., 0])


@torch.no_grad()
def official_render(dec, frequencies, phase_shifts, yaw, pitch, size, fov, steps, ray_start, ray_end,
                    max_batch=OFFICIAL_CHUNK, deterministic=True):
    """``staged_forward`` for one view, hierarchical, view-locked, last_back: pixels (1, 3, S, S) in [-1, 1]."""
    avg_freq, avg_phase = dec.mapping(torch.randn(10000, dec.z_dim))  # generate_avg_frequencies ...
    avg_freq, avg_phase = avg_freq.mean(0, keepdim=True), avg_phase.mean(0, keepdim=True)  # ... result unused
    n = 1
    # get_initial_rays_trig
    x, y = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(1, -1, size), indexing="xy")
    z = -torch.ones_like(x) / math.tan((2 * math.pi * fov / 360) / 2)
    rays_d_cam = F.normalize(torch.stack([x, y, z], -1).reshape(-1, 3), dim=-1).unsqueeze(0)
    z_vals = torch.linspace(ray_start, ray_end, steps).reshape(1, steps, 1).repeat(size * size, 1, 1).unsqueeze(0)
    points = rays_d_cam.unsqueeze(2).repeat(1, 1, steps, 1) * z_vals
    if not deterministic:  # perturb_points
        offset = (torch.rand(z_vals.shape) - 0.5) * (z_vals[0, 0, 1] - z_vals[0, 0, 0])
        z_vals = z_vals + offset
        points = points + offset * rays_d_cam.unsqueeze(2)
    # transform_sampled_points
    cam2world = camera_to_world(*angles_to_renderer(yaw, pitch))[None]
    homogeneous = torch.cat([points, torch.ones_like(points[..., :1])], -1).reshape(n, -1, 4)
    world = torch.bmm(cam2world, homogeneous.permute(0, 2, 1)).permute(0, 2, 1).reshape(n, size * size, steps, 4)[..., :3]
    rays_d = torch.bmm(cam2world[..., :3, :3], rays_d_cam.permute(0, 2, 1)).permute(0, 2, 1)
    origins = cam2world[:, None, :3, 3].expand_as(rays_d)

    def chunked(pts):
        flat = pts.reshape(n, -1, 3)
        dirs = torch.zeros_like(flat)
        dirs[..., -1] = -1  # lock_view_dependence
        out = torch.zeros(n, flat.shape[1], 4)
        for head in range(0, flat.shape[1], max_batch):
            tail = head + max_batch
            out[:, head:tail] = official_siren(dec, flat[:, head:tail], frequencies, phase_shifts, dirs[:, head:tail])
        return out.reshape(n, size * size, -1, 4)

    coarse = chunked(world)
    _, _, weights = official_integration(coarse, z_vals)
    weights = weights.reshape(n * size * size, steps) + 1e-5
    z_flat = z_vals.reshape(n * size * size, steps)
    mids = 0.5 * (z_flat[:, :-1] + z_flat[:, 1:])
    fine_z = official_sample_pdf(mids, weights[:, 1:-1], steps, det=deterministic).reshape(n, size * size, steps, 1)
    fine_points = origins.unsqueeze(2).contiguous() + rays_d.unsqueeze(2).contiguous() * fine_z.expand(-1, -1, -1, 3)
    fine = chunked(fine_points)
    all_out = torch.cat([fine, coarse], -2)
    all_z = torch.cat([fine_z, z_vals], -2)
    _, indices = torch.sort(all_z, dim=-2)
    all_z = torch.gather(all_z, -2, indices)
    all_out = torch.gather(all_out, -2, indices.expand(-1, -1, -1, 4))
    rgb, _, _ = official_integration(all_out, all_z, last_back=True)
    return rgb.reshape(n, size, size, 3).permute(0, 3, 1, 2).contiguous() * 2 - 1


# --- ours ----------------------------------------------------------------------------------------


@torch.no_grad()
def our_render(field, yaw, pitch, size, fov, opts):
    return render_poses(field, [Pose(yaw, pitch, fov)], size, opts, seed=None)[0].rgb


# --- measurement helpers -------------------------------------------------------------------------


def reset_peak_rss() -> bool:
    """Reset the kernel's resident high-water mark of this process (Linux); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def matmul_peak_gflops(repeats: int = 5, n: int = 2048) -> float:
    """Best fp32 square-matmul rate of this machine with the current thread count."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def macs_per_point(dec: PiGANDecoder) -> int:
    """Multiply-accumulates of one siren evaluation (526,848 for the official decoder)."""
    layers = [*dec.trunk, dec.density, dec.color_film, dec.color_out]
    return sum(layer.weight.numel() for layer in layers)


def load_decoder_and_code(args) -> tuple[PiGANDecoder, torch.Tensor, torch.Tensor, dict, str]:
    """The decoder to time, a latent code, the camera, and a description."""
    camera = {"fov": 12.0, "ray_start": 0.88, "ray_end": 1.12}
    if args.model:
        from sem2nerf.decoder_folder import DECODER_CONFIG_NAME, load_decoder

        folder = Path(args.model)
        if (folder / DECODER_CONFIG_NAME).is_file():
            dec, config = load_decoder(folder)
            freq, phase = dec.average_code()
            camera = {k: float(config[k]) if config.get(k) is not None else v for k, v in camera.items()}
        else:
            from sem2nerf import Sem2NeRF

            model = Sem2NeRF.from_pretrained(folder)
            dec = model.decoder
            scene = model.average_scene()
            freq, phase = scene.frequencies, scene.phase_shifts
            camera = {"fov": model.fov, "ray_start": model.ray_start, "ray_end": model.ray_end}
        return dec.eval(), freq, phase, camera, f"{folder.name} ({dec.hidden_dim} x {dec.num_layers}), mean-face code"
    torch.manual_seed(args.seed)
    dec = PiGANDecoder(**DECODERS[args.decoder]).eval()
    with torch.no_grad():
        freq, phase = dec.mapping(torch.randn(1, dec.z_dim))
    return dec, freq, phase, camera, f"{args.decoder} ({dec.hidden_dim} x {dec.num_layers}), random weights"


def compare(args) -> None:
    dec, freq, phase, cam, name = load_decoder_and_code(args)
    field = dec.modulate(freq, phase)
    opts = RenderOptions(num_samples=args.samples, ray_start=cam["ray_start"], ray_end=cam["ray_end"],
                         deterministic=True, chunk_points=args.chunk)
    view = (args.yaw, args.pitch, args.size, cam["fov"])
    peak = matmul_peak_gflops()
    runs = {
        "official": lambda: official_render(dec, freq, phase, *view[:3], view[3], args.samples, cam["ray_start"], cam["ray_end"]),
        "ours": lambda: our_render(field, *view, opts),
    }
    images = {k: fn() for k, fn in runs.items()}  # warm-up, and the outputs compared
    times: dict[str, list[float]] = {k: [] for k in runs}
    rss: dict[str, float] = {}
    for _ in range(args.repeats):
        for key, fn in runs.items():
            gc.collect()
            reset_peak_rss()
            times[key].append(_timed(fn))
            rss[key] = max(rss.get(key, 0.0), peak_rss_mib())
    points = args.size**2 * args.samples * 2
    flops = 2 * macs_per_point(dec) * points
    print(f"decoder: {name}; view {args.size} x {args.size}, {args.samples} + {args.samples} samples, deterministic")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; measured fp32 matmul peak {peak:.0f} GFLOP/s; "
          f"siren work {flops / 1e12:.3f} TFLOP ({points:,} points)")
    print(f"max |official - ours| = {float((images['official'] - images['ours']).abs().max()):.2e} (pixels in [-1, 1])")
    print(f"{'renderer':<10} {'s/view':>8} {'mean':>8} {'Mpoints/s':>10} {'% of peak':>10} {'peak RSS MiB':>13}")
    for key in runs:
        best = min(times[key])
        print(f"{key:<10} {best:>8.2f} {sum(times[key]) / len(times[key]):>8.2f} {points / best / 1e6:>10.3f} "
              f"{100 * flops / best / 1e9 / peak:>9.0f}% {rss[key]:>13.0f}")
    print(f"speed-up official / ours: {min(times['official']) / min(times['ours']):.2f}x")


def memory(args) -> None:
    dec, freq, phase, cam, name = load_decoder_and_code(args)
    field = dec.modulate(freq, phase)
    opts = RenderOptions(num_samples=args.samples, ray_start=cam["ray_start"], ray_end=cam["ray_end"], chunk_points=args.chunk)
    our_render(field, 0.0, 0.0, 32, cam["fov"], opts)
    gc.collect()
    reset_peak_rss()
    idle = peak_rss_mib()
    print(f"decoder: {name}; {args.samples} + {args.samples} samples, chunk_points {args.chunk:,}, jittered")
    print(f"resident before rendering: {idle:.0f} MiB")
    print(f"{'size':>6} {'s/view':>8} {'peak RSS MiB':>13} {'above idle':>11} {'image MiB':>10}")
    for size in args.memory_sizes:
        gc.collect()
        reset_peak_rss()
        seconds = _timed(lambda s=size: our_render(field, 20.0, -5.0, s, cam["fov"], opts))
        peak = peak_rss_mib()
        image = size * size * 5 * 4 / 2**20  # rgb + depth + opacity, float32
        print(f"{size:>6} {seconds:>8.2f} {peak:>13.0f} {peak - idle:>11.0f} {image:>10.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decoder", choices=sorted(DECODERS), default="official")
    parser.add_argument("--model", help="a model folder (config.json + model.safetensors) or a decoder folder")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--samples", type=int, default=24, help="coarse samples per ray (as many fine ones)")
    parser.add_argument("--yaw", type=float, default=20.0)
    parser.add_argument("--pitch", type=float, default=-5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=RenderOptions().chunk_points, help="our points per field call")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory", action="store_true", help="our peak memory at several sizes instead")
    parser.add_argument("--memory-sizes", type=int, nargs="+", default=[128, 256, 512])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    (memory if args.memory else compare)(args)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    main()
