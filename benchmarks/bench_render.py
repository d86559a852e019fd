"""Time single-view renders (24 + 24 samples per ray) for the official-size and a small decoder.

Each configuration runs in its own subprocess so that the peak resident memory it reports is its
own. Anchor (environment.md): the official code needs 23-25 s for 128x128 at 24 + 24 samples on
these 2-core CPUs.

    python benchmarks/bench_render.py            # all configurations
    python benchmarks/bench_render.py --repeats 5 --threads 2
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

DECODERS = {
    "official (256 x 8)": {"hidden_dim": 256, "num_layers": 8},
    "small (128 x 6)": {"hidden_dim": 128, "num_layers": 6},
}
SIZES = (64, 128)


def run_one(decoder: str, size: int, samples: int, repeats: int, threads: int, chunk: int) -> dict:
    import torch

    from sem2nerf.camera import angles_to_renderer, camera_to_world
    from sem2nerf.decoder import PiGANDecoder
    from sem2nerf.renderer import RenderOptions, render_image

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dec = PiGANDecoder(**DECODERS[decoder]).eval()
    with torch.no_grad():
        freq, phase = dec.mapping(torch.randn(1, dec.z_dim))
        field = dec.modulate(freq, phase)
        opts = RenderOptions(num_samples=samples, chunk_points=chunk)
        c2w = camera_to_world(*angles_to_renderer(15.0, -5.0))[None]
        render_image(field, c2w, size, 12.0, opts, torch.Generator().manual_seed(0))  # warm-up
        times = []
        for i in range(repeats):
            t0 = time.perf_counter()
            render_image(field, c2w, size, 12.0, opts, torch.Generator().manual_seed(i))
            times.append(time.perf_counter() - t0)
    points = size * size * samples * 2
    return {
        "decoder": decoder,
        "size": size,
        "samples": f"{samples}+{samples}",
        "seconds_per_view": min(times),
        "mean_seconds": sum(times) / len(times),
        "points_per_second": points / min(times),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=65536, help="coarse points per chunk")
    parser.add_argument("--one", nargs=2, metavar=("DECODER", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.samples, args.repeats, args.threads, args.chunk)))
        return
    print(f"{'decoder':<20} {'size':>5} {'samples':>8} {'s/view':>8} {'Mpts/s':>7} {'peak RSS MiB':>13}")
    for decoder in DECODERS:
        for size in SIZES:
            cmd = [sys.executable, __file__, "--one", decoder, str(size), "--samples", str(args.samples),
                   "--repeats", str(args.repeats), "--threads", str(args.threads), "--chunk", str(args.chunk)]
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
            print(f"{r['decoder']:<20} {r['size']:>5} {r['samples']:>8} {r['seconds_per_view']:>8.2f} "
                  f"{r['points_per_second'] / 1e6:>7.2f} {r['peak_rss_mib']:>13.0f}", flush=True)


if __name__ == "__main__":
    main()
