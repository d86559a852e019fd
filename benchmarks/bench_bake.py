"""Baked radiance grid: bake cost, new-view time, fidelity to direct renders, turntable speed-up.

For one scene it measures a direct 128 px render (24 + 24 samples), the bake, new views rendered
from the grid (the default one pass of 48 uniform samples, and the direct renders' own 24 + 24
scheme), the PSNR of baked against direct renders of the same views (same seed), and a 36-frame
"front" turntable baked (default scheme) against direct.

    python benchmarks/bench_bake.py --model DIR [--mask MASK.png]   # a trained model (default: mean face)
    python benchmarks/bench_bake.py                                # stand-in: small decoder fitted to a SynthFaces head
    python benchmarks/bench_bake.py --decoder official              # the official-size decoder, fitted the same way

A randomly initialised pi-GAN decoder has next to no density (sigma ~ 0.05): its "scene" is the
colour at the far plane, which says nothing about baking. So, without ``--model``, the stand-in is a
decoder of the requested size whose weights were fitted for a few hundred steps to the density and
colours of a SynthFaces head (at its mean-face code): a real surface with sharp edges, hair and
features, like a trained model's. The fit is cached (``--cache``). Direct turntable time is
extrapolated from ``--direct-frames`` frames unless ``--full-turntable``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sem2nerf.bake import BakedScene, bake_field, frustum_radius
from sem2nerf.decoder import PiGANDecoder
from sem2nerf.renderer import INFERENCE_SKIP_EMPTY, RenderOptions, render_poses
from sem2nerf.trajectories import Pose, front_trajectory, preview_poses

DECODERS = {"official": {"hidden_dim": 256, "num_layers": 8}, "small": {"hidden_dim": 128, "num_layers": 6}}
CAMERA = {"fov": 12.0, "ray_start": 0.88, "ray_end": 1.12}
SIGMA_SCALE = 50.0  # the stand-in fits sigma / 50 (a SIREN read-out starts near zero), then scales it back


def head_targets(points: torch.Tensor, head) -> tuple[torch.Tensor, torch.Tensor]:
    """SynthFaces head albedo ``(N, 3)`` and soft-edged density ``(N,)`` at world points (the training targets)."""
    from sem2nerf.synthfaces.targets import field_targets

    return field_targets(head, points, shade=False)


def fitted_stand_in(size: str, steps: int, cache: Path | None, seed: int = 0) -> PiGANDecoder:
    """A decoder whose mean-face field was fitted to a SynthFaces head (cached as safetensors)."""
    from safetensors.torch import load_file, save_file

    torch.manual_seed(seed)
    dec = PiGANDecoder(**DECODERS[size])
    if cache is not None and cache.is_file():
        dec.load_state_dict(load_file(str(cache)))
        return dec.eval()
    from sem2nerf.synthfaces.dataset import draw_identity
    from sem2nerf.synthfaces.head import SynthHead
    from sem2nerf.synthfaces.render import head_bounds

    head = SynthHead(draw_identity(seed, 0, 1)[0], head_bounds())
    gen = torch.Generator().manual_seed(seed)
    candidates = (torch.rand(400_000, 3, generator=gen) * 2 - 1) * 0.13
    colour, sigma = head_targets(candidates, head)
    near = (sigma > 1.0) & (sigma < 149.0)  # within ~1 mm of the surface: half of every batch comes from there
    pool = (candidates, colour, sigma)
    surface = tuple(t[near] for t in pool)
    freq, phase = dec.average_code()
    params = [p for name, p in dec.named_parameters() if not name.startswith("mapping.")]
    optim = torch.optim.Adam(params, lr=3e-4)
    t0 = time.perf_counter()
    for step in range(steps):
        idx = torch.randint(0, pool[0].shape[0], (2048,), generator=gen)
        sdx = torch.randint(0, surface[0].shape[0], (2048,), generator=gen)
        pts, col, sig = (torch.cat((a[idx], b[sdx])) for a, b in zip(pool, surface))
        out = dec.modulate(freq, phase)(pts[None])[0]
        loss = (out[:, :3] - col).pow(2).mean() + (out[:, 3] - sig / SIGMA_SCALE).pow(2).mean()
        optim.zero_grad()
        loss.backward()
        optim.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"  fitting stand-in: step {step + 1}/{steps}, loss {loss.item():.4f}, {time.perf_counter() - t0:.0f} s", flush=True)
    with torch.no_grad():  # the density read-out learnt sigma / SIGMA_SCALE: fold the scale into its weights
        dec.density.weight.mul_(SIGMA_SCALE)
        dec.density.bias.mul_(SIGMA_SCALE)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in dec.state_dict().items()}, str(cache))
    return dec.eval()


def load_scene(args):
    """-> (field, camera dict, description)."""
    if args.model:
        from sem2nerf import Sem2NeRF
        from sem2nerf.decoder_folder import DECODER_CONFIG_NAME, load_decoder

        folder = Path(args.model)
        if (folder / DECODER_CONFIG_NAME).is_file():
            dec, config = load_decoder(folder)
            camera = {k: float(config[k]) if config.get(k) is not None else v for k, v in CAMERA.items()}
            return dec.eval().modulate(*dec.average_code()), camera, f"{folder.name} decoder, mean-face code"
        model = Sem2NeRF.from_pretrained(folder)
        scene = model.encode(args.mask) if args.mask else model.average_scene()
        camera = {"fov": model.fov, "ray_start": model.ray_start, "ray_end": model.ray_end}
        what = f"mask {Path(args.mask).name}" if args.mask else "mean-face code"
        dec = model.decoder
        return model.field(scene), camera, f"{folder.name} ({dec.hidden_dim} x {dec.num_layers}), {what}"
    cache = None if args.cache == "none" else Path(args.cache.format(size=args.decoder, steps=args.fit_steps)).expanduser()
    dec = fitted_stand_in(args.decoder, args.fit_steps, cache)
    desc = f"stand-in: {args.decoder} decoder ({dec.hidden_dim} x {dec.num_layers}) fitted {args.fit_steps} steps to a SynthFaces head"
    return dec.modulate(*dec.average_code()), dict(CAMERA), desc


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) / 2).pow(2).mean())
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


def render(field, pose: Pose, size: int, opts: RenderOptions, seed: int = 0) -> torch.Tensor:
    return render_poses(field, [pose], size, opts, seed)[0].rgb


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a model folder (config.json + model.safetensors) or a decoder folder")
    parser.add_argument("--mask", help="with --model: encode this mask (default: the mean-face code)")
    parser.add_argument("--decoder", choices=sorted(DECODERS), default="small", help="stand-in size without --model")
    parser.add_argument("--fit-steps", type=int, default=400)
    parser.add_argument("--cache", default="~/.cache/sem2nerf/bench_stand_in_v2_{size}_{steps}.safetensors",
                        help="where the fitted stand-in is kept ('none': refit every time)")
    parser.add_argument("--resolution", type=int, default=128, help="grid cells per axis")
    parser.add_argument("--levels", type=int, default=2)
    parser.add_argument("--bake-fov", type=float, default=22.0, help="widest view to cover (front trajectory: 22)")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--samples", type=int, default=24)
    parser.add_argument("--frames", type=int, default=36)
    parser.add_argument("--direct-frames", type=int, default=3, help="direct turntable frames timed (rest extrapolated)")
    parser.add_argument("--full-turntable", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--truth-samples", type=int, default=256,
                        help="deterministic uniform samples per ray of the field's reference image")
    parser.add_argument("--skip-empty", type=float, default=INFERENCE_SKIP_EMPTY,
                        help="RenderOptions.skip_empty of direct and baked renders (default: the inference value; 0: off)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with torch.enable_grad():
        field, cam, desc = load_scene(args)
    opts = RenderOptions(num_samples=args.samples, ray_start=cam["ray_start"], ray_end=cam["ray_end"], skip_empty=args.skip_empty)
    views = [Pose(p.yaw, p.pitch, cam["fov"]) for p in preview_poses()] + [Pose(35.0, -15.0, cam["fov"]), Pose(-60.0, 10.0, cam["fov"])]
    print(f"scene: {desc}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.size} px, {args.samples} + {args.samples} samples")

    render(field, views[0], 32, opts)  # warm-up
    direct, direct_s = zip(*(timed(lambda v=v: render(field, v, args.size, opts)) for v in views[:2]))
    direct_view_s = min(direct_s)
    print(f"direct render:      {direct_view_s:.2f} s/view")

    radius = frustum_radius(args.bake_fov, cam["ray_end"])
    (grid, stats) = bake_field(field, radius, args.resolution, levels=args.levels, sphere=radius)
    baked = BakedScene(grid, radius, cam["fov"], cam["ray_start"], cam["ray_end"], stats)
    print(f"bake:               {stats.seconds:.2f} s = {stats.seconds / direct_view_s:.2f} direct renders "
          f"({args.resolution + 1}^3 nodes over +-{radius:.3f}, {args.levels} levels; {stats.points_evaluated:,} points "
          f"evaluated = {100 * stats.fraction_of_dense:.0f}% of dense; grid {grid.numel() * 4 / 2**20:.0f} MiB)")

    # The field's own image: the network at many deterministic samples per ray. Direct and baked renders are both
    # estimates of it; "vs direct (same seed)" also rewards sharing the direct render's jitter.
    truth_views = [views[0], views[-2], views[-1]]
    truth_opts = opts.with_(num_samples=args.truth_samples, hierarchical=False, deterministic=True)
    truths = [render(field, v, args.size, truth_opts) for v in truth_views]

    def against_truth(f, o) -> str:
        scores = [psnr(render(f, v, args.size, o), t) for v, t in zip(truth_views, truths)]
        return f"min {min(scores):.1f} dB, mean {sum(scores) / len(scores):.1f} dB"

    print(f"direct vs the field ({args.truth_samples} deterministic samples, {len(truth_views)} views): "
          f"{against_truth(field, opts)}")

    # baked views: the default one pass of 2n uniform samples, and the direct renders' own coarse + fine scheme
    references = [*direct, *(render(field, v, args.size, opts) for v in views[len(direct):])]
    schemes = {"uniform": baked.render_options(args.samples, skip_empty=args.skip_empty), "hierarchical": opts}
    baked_opts = schemes["uniform"]
    for name, bopts in schemes.items():
        render(baked.field, views[0], 32, bopts)
        scores, baked_s = [], []
        for i, view in enumerate(views):
            image, seconds = timed(lambda v=view, o=bopts: render(baked.field, v, args.size, o))
            baked_s.append(seconds)
            scores.append(psnr(image, references[i]))
        det_score = psnr(render(baked.field, views[-2], args.size, bopts.with_(deterministic=True)),
                         render(field, views[-2], args.size, opts.with_(deterministic=True)))
        what = (f"{bopts.num_samples} uniform samples, one pass" if name == "uniform"
                else f"{bopts.num_samples} + {bopts.fine_samples} samples as direct")
        print(f"new view, baked ({what}{', the default' if name == 'uniform' else ''}):")
        print(f"                    {min(baked_s):.3f} s/view (median {sorted(baked_s)[len(baked_s) // 2]:.3f}), "
              f"{direct_view_s / min(baked_s):.0f}x faster than direct")
        print(f"                    PSNR baked vs direct over {len(views)} views (same seed): min {min(scores):.1f} dB, "
              f"mean {sum(scores) / len(scores):.1f} dB; deterministic mode: {det_score:.1f} dB")
        print(f"                    PSNR baked vs the field: {against_truth(baked.field, bopts)}")

    poses = front_trajectory(args.frames)
    _, baked_tt = timed(lambda: [render(baked.field, p, args.size, baked_opts, i) for i, p in enumerate(poses)])
    count = len(poses) if args.full_turntable else min(args.direct_frames, len(poses))
    _, direct_part = timed(lambda: [render(field, p, args.size, opts, i) for i, p in enumerate(poses[:count])])
    direct_tt = direct_part * len(poses) / count
    note = "" if count == len(poses) else f" (extrapolated from {count} frames)"
    print(f"turntable {len(poses)} frames: direct {direct_tt:.1f} s{note}; bake + baked frames "
          f"{stats.seconds:.1f} + {baked_tt:.1f} s = {stats.seconds + baked_tt:.1f} s; "
          f"speed-up {direct_tt / (stats.seconds + baked_tt):.1f}x; of a scene baked already (the app after its "
          f"first view): {direct_tt / baked_tt:.1f}x")


if __name__ == "__main__":
    main()
