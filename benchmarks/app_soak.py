"""Soak the app: N clients x M renders per round, for R rounds, against the app served on a loopback port.

    PYTHONPATH=. python benchmarks/app_soak.py                          # a tiny random model, 3 rounds of 2 x 5
    PYTHONPATH=. python benchmarks/app_soak.py --model synthfaces --clients 2 --renders 10 --rounds 5 --size 128

Each client encodes the example mask once, then renders views at random yaws (the baked renderer by default, so
the bake cache fills and evicts as styles change: every render of a client uses a new style seed with
``--styles``). With ``--bad-every K`` every K-th request of a client is bad input instead (a corrupt canvas image,
an out-of-range slider value, a non-finite seed), which must come back as an error while the next request works.
Each round prints the requests, the errors (expected and unexpected), p50 / p95 latency of the good requests and
the server process's resident memory (the app runs in this process). It stops by itself after the last round.
"""

from __future__ import annotations

import argparse
import random
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tiny_model():
    import torch

    from sem2nerf import Sem2NeRF

    torch.manual_seed(0)
    model = Sem2NeRF(encoder_size=64, encoder_embed_dim=24, encoder_depths=(1, 1), encoder_num_heads=(1, 2),
                     encoder_window_size=4, decoder_hidden_dim=32, decoder_num_layers=3, decoder_z_dim=16,
                     decoder_mapping_hidden_dim=32, latent_avg_samples=512)
    return model.eval()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a model folder or name (default: a tiny random model)")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--renders", type=int, default=5, help="renders per client per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--renderer", choices=["baked", "direct"], default="baked")
    parser.add_argument("--styles", action="store_true", help="a new style seed for every render (a new bake each)")
    parser.add_argument("--bad-every", type=int, default=0, help="every K-th request of a client is bad input")
    parser.add_argument("--timeout", type=float, default=600.0, help="stop after this many seconds in all")
    args = parser.parse_args(argv)
    for name in ("clients", "renders", "rounds"):
        if not 1 <= getattr(args, name) <= 64:
            parser.error(f"--{name} must be between 1 and 64")

    import torch
    from gradio_client import Client, handle_file
    from PIL import Image

    import app
    from sem2nerf import Sem2NeRF

    torch.set_num_threads(max(1, torch.get_num_threads() // 2))
    model = tiny_model() if args.model is None else Sem2NeRF.from_pretrained(args.model)
    work = Path(tempfile.mkdtemp(prefix="sem2nerf_soak_"))
    demo = app.build_demo(model, "soak", workdir=work / "app")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.serve(demo, model, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"

    example = app.load_examples(model.domain)[0]
    mask = app.mask_from_file(example.path, example.scheme, model.domain)
    Image.fromarray(mask.colorize()).save(work / "mask.png")
    (work / "corrupt.png").write_bytes((work / "mask.png").read_bytes()[:200] + b"\x00" * 64)
    renderer = app.RENDERERS[0] if args.renderer == "baked" else app.RENDERERS[1]
    started = time.monotonic()
    print(f"app on {url}  model: {args.model or 'tiny random'}  {args.clients} clients x {args.renders} renders x "
          f"{args.rounds} rounds, {args.size} px, {args.samples} samples, {args.renderer}; RSS {rss_mb():.0f} MB")

    def canvas(path: Path) -> dict:
        f = handle_file(str(path))
        return {"background": f, "layers": [], "composite": f}

    def client_loop(k: int, round_no: int, out: dict) -> None:
        rng = random.Random(1000 * round_no + k)
        client = Client(url, verbose=False)
        client.predict(canvas(work / "mask.png"), api_name="/encode")
        for i in range(args.renders):
            if time.monotonic() - started > args.timeout:
                return
            bad = args.bad_every and (i + 1) % args.bad_every == 0
            seed = 100_000 * round_no + 1000 * k + i if args.styles else -1
            view = [rng.uniform(-40, 40), 0, model.fov, args.size, args.samples, seed, "colour only",
                    [model.decoder.num_film_layers - 1], -1, 0.5, renderer]
            t = time.perf_counter()
            try:
                if bad:
                    kind = i // args.bad_every % 3
                    if kind == 0:
                        client.predict(canvas(work / "corrupt.png"), api_name="/encode")
                    elif kind == 1:
                        client.predict(*view[:4], 10_000, *view[5:], api_name="/view")  # samples beyond the slider
                    else:
                        client.predict(*view[:5], 1e30, *view[6:], api_name="/view")  # a seed beyond the limits
                    out["unexpected"].append(f"client {k}: bad request {i} succeeded")
                else:
                    client.predict(*view, api_name="/view")
                    out["latency"].append(time.perf_counter() - t)
            except Exception as err:  # noqa: BLE001 - counted and printed
                (out["expected"] if bad else out["unexpected"]).append(f"client {k} request {i}: {err}")
            out["requests"] += 1
        client.close()

    log = (work / "server.log").open("w")  # Gradio prints a traceback for every error it sends: keep them aside
    print(f"server log (the tracebacks of the expected errors): {work / 'server.log'}")
    print(f"{'round':>5} {'requests':>8} {'errors':>6} {'expected':>8} {'p50 s':>7} {'p95 s':>7} {'RSS MB':>7} "
          f"{'grids':>5} {'cache MB':>8}")
    try:
        sys.stderr = log
        for r in range(1, args.rounds + 1):
            out = {"requests": 0, "latency": [], "expected": [], "unexpected": []}
            threads = [threading.Thread(target=client_loop, args=(k, r, out)) for k in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            lat = np.asarray(out["latency"]) if out["latency"] else np.zeros(1)
            cache = demo.bake_cache
            print(f"{r:>5} {out['requests']:>8} {len(out['unexpected']):>6} {len(out['expected']):>8} "
                  f"{np.percentile(lat, 50):>7.2f} {np.percentile(lat, 95):>7.2f} {rss_mb():>7.0f} "
                  f"{len(cache._grids):>5} {cache.nbytes / 2**20:>8.1f}")
            for line in out["unexpected"]:
                print("   unexpected:", line[:200])
            if time.monotonic() - started > args.timeout:
                print(f"stopped: past --timeout {args.timeout:g} s")
                break
    finally:
        sys.stderr = sys.__stderr__
        log.close()
        demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
