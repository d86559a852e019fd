"""Soak the app: N clients x M renders per round, for R rounds, against the app served on a loopback port.

    PYTHONPATH=. python benchmarks/app_soak.py                          # a tiny random model, 3 rounds of 2 x 5
    PYTHONPATH=. python benchmarks/app_soak.py --model synthfaces --clients 20 --renders 3 --rounds 8 --size 128
    PYTHONPATH=. python benchmarks/app_soak.py --model synthfaces --clients 20 --renders 3 --rounds 3 --size 128 --scenes 20

The app runs in a child process (so that its resident memory is the server's alone, not the clients'); the
clients are threads of this process, each a new ``gradio_client`` session per round (as a new visitor is). Each
client encodes the example mask once, then renders views at random yaws (the baked renderer by default). The
style of a render, and so which baked grid it needs:

* default: the mask's own style, one scene for everyone (one grid);
* ``--styles``: a new style seed for every render (a new bake each: the bake cache fills and evicts);
* ``--scenes K``: client k keeps style seed k mod K for all its renders, in every round (K distinct scenes:
  the re-bake case when K grids do not fit the cache).

With ``--bad-every B`` every B-th request of a client is bad input instead (a corrupt canvas image, an
out-of-range slider value, a seed beyond the limits), which must come back as an error while the next request
works. Each round prints the requests, the errors (unexpected, and expected from bad input), p50 / p95 latency
of the good requests (queueing included), and the server's state: resident memory, sessions Gradio holds, bytes
of live torch tensors, baked grids and their bytes, bakes in the round and their seconds, files in Gradio's and
the app's temporary folders. The last lines compare the first round's RSS with the last and give the growth per
round over the last rounds. It stops by itself after the last round (or ``--timeout``); the exit status is 1 when
any request failed unexpectedly.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import random
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


def _folder_files(*folders: Path) -> tuple[int, int]:
    """Files under ``folders`` and their bytes."""
    count = size = 0
    for folder in folders:
        for dirpath, _, names in os.walk(folder):
            for name in names:
                try:
                    size += os.stat(os.path.join(dirpath, name)).st_size
                    count += 1
                except OSError:
                    pass
    return count, size


def _tensor_bytes() -> int:
    """Bytes of the storages of every torch tensor alive in this process (each storage once)."""
    import torch

    storages = {}
    for obj in gc.get_objects():
        if isinstance(obj, torch.Tensor):
            try:
                storage = obj.untyped_storage()
                storages[(storage.device, storage.data_ptr())] = storage.nbytes()
            except (RuntimeError, NotImplementedError):  # meta / sparse tensors
                pass
    return sum(storages.values())


def _server(conn, opts: dict) -> None:
    """The app in this (child) process: serve, answer ``"stats"`` with the server's numbers, stop on ``"close"``."""
    work = Path(opts["work"])
    os.environ["GRADIO_TEMP_DIR"] = str(work / "gradio")  # Gradio's cache of uploads and outputs, counted below
    if opts.get("temp_max_age") is not None:  # the app's sweep of that cache (app.temp_file_sweep)
        os.environ["SEM2NERF_TEMP_MAX_AGE"] = str(opts["temp_max_age"])
    log = (work / "server.log").open("w", buffering=1)
    sys.stdout = sys.stderr = log  # Gradio prints a traceback for every error it sends: keep them aside
    import torch

    import app
    from sem2nerf import Sem2NeRF

    torch.set_num_threads(opts["threads"])
    model = tiny_model() if opts["model"] is None else Sem2NeRF.from_pretrained(opts["model"])
    demo = app.build_demo(model, "soak", workdir=work / "app")
    cache = demo.bake_cache
    if opts["cache_mb"] is not None:
        cache.max_bytes = int(opts["cache_mb"] * 2**20)
    timing = {"bakes": 0, "bake_s": 0.0}
    get = cache.get

    def timed_get(*args, **kwargs):  # the time of the calls that baked (cache misses); hits return at once
        before, t = cache.bakes, time.perf_counter()
        out = get(*args, **kwargs)
        if cache.bakes != before:
            timing["bake_s"] += time.perf_counter() - t
        return out

    cache.get = timed_get
    kwargs = {} if opts["session_capacity"] is None else {"state_session_capacity": opts["session_capacity"]}
    _, url, _ = app.serve(demo, model, server_name="127.0.0.1", server_port=opts["port"], prevent_thread_lock=True,
                          quiet=True, **kwargs)
    example = app.load_examples(model.domain)[0]
    conn.send({"url": url, "mask": app.mask_from_file(example.path, example.scheme, model.domain).colorize(),
               "fov": model.fov, "layers": model.decoder.num_film_layers, "rss": rss_mb()})
    tracing = opts["trace"]
    if tracing:
        import tracemalloc
        from collections import Counter

        tracemalloc.start(1)
        snapshot = tracemalloc.take_snapshot()
        types = Counter(type(o).__qualname__ for o in gc.get_objects())
    while True:
        message = conn.recv()
        if message == "close":
            break
        holder = getattr(demo, "state_holder", None)
        sessions = list(holder.session_data.values()) if holder is not None else []
        files, file_bytes = _folder_files(work / "gradio", work / "app")
        stats = {"rss": rss_mb(), "sessions": len(sessions), "states": sum(len(s.state_data) for s in sessions),
                 "tensor_bytes": _tensor_bytes(), "grids": len(cache._grids), "cache_bytes": cache.nbytes,
                 "files": files, "file_bytes": file_bytes, "bakes": cache.bakes - timing["bakes"],
                 "bake_s": timing["bake_s"]}
        if opts["trim_probe"]:  # how much of the RSS is freed heap that glibc keeps (then hands it back)
            import ctypes

            ctypes.CDLL(None).malloc_trim(0)
            stats["trimmed"] = rss_mb()
        timing.update(bakes=cache.bakes, bake_s=0.0)
        if tracing:
            now = tracemalloc.take_snapshot()
            print(f"--- tracemalloc: the largest growths since the last round (RSS {stats['rss']:.0f} MB)")
            for stat in now.compare_to(snapshot, "lineno")[:12]:
                print(f"{stat.size_diff / 2**20:+.2f} MB in {stat.count_diff:+d} blocks: {stat.traceback}")
            now_types = Counter(type(o).__qualname__ for o in gc.get_objects())
            print("--- gc-tracked objects: the largest growths in count since the last round")
            for name, n in (now_types - types).most_common(12):
                print(f"{n:+8d} {name}")
            snapshot, types = now, now_types
        conn.send(stats)
    demo.close()
    conn.send("closed")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a model folder or name (default: a tiny random model)")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--renders", type=int, default=5, help="renders per client per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--renderer", choices=["baked", "direct"], default="baked")
    style = parser.add_mutually_exclusive_group()
    style.add_argument("--styles", action="store_true", help="a new style seed for every render (a new bake each)")
    style.add_argument("--scenes", type=int, default=0,
                       help="K distinct scenes: client k keeps style seed k mod K (the re-bake case)")
    parser.add_argument("--bad-every", type=int, default=0, help="every K-th request of a client is bad input")
    parser.add_argument("--cache-mb", type=float, default=None,
                        help="the bake cache's budget in MiB (default: the app's, app.BAKE_CACHE_BYTES)")
    parser.add_argument("--session-capacity", type=int, default=None,
                        help="pass Gradio's state_session_capacity to launch (default: what app.serve sets)")
    parser.add_argument("--trace", action="store_true",
                        help="tracemalloc and gc object counts in the server: the largest growths per round go to its log "
                        "(slow: use few clients)")
    parser.add_argument("--trim-probe", action="store_true",
                        help="after each round's numbers, malloc_trim the server and print its RSS after (glibc only)")
    parser.add_argument("--temp-max-age", type=int, default=None,
                        help="seconds Gradio's cached files are kept (default: the app's, an hour)")
    parser.add_argument("--timeout", type=float, default=900.0, help="stop after this many seconds in all")
    args = parser.parse_args(argv)
    for name in ("clients", "renders", "rounds"):
        if not 1 <= getattr(args, name) <= 64:
            parser.error(f"--{name} must be between 1 and 64")
    if args.scenes < 0:
        parser.error("--scenes must be 0 (one scene) or more")

    import socket

    from gradio_client import Client, handle_file
    from PIL import Image

    import app

    work = Path(tempfile.mkdtemp(prefix="sem2nerf_soak_"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    conn, child_conn = ctx.Pipe()
    threads = max(1, (os.cpu_count() or 2) // 2)
    server = ctx.Process(target=_server, args=(child_conn, {
        "work": str(work), "model": args.model, "port": port, "threads": threads, "trace": args.trace,
        "session_capacity": args.session_capacity, "trim_probe": args.trim_probe,
        "cache_mb": args.cache_mb, "temp_max_age": args.temp_max_age}), daemon=True)
    server.start()
    started = time.monotonic()
    if not conn.poll(300):
        server.kill()
        print(f"the server did not start in 300 s; see {work / 'server.log'}")
        return 1
    info = conn.recv()
    url = info["url"]
    Image.fromarray(info["mask"]).save(work / "mask.png")
    (work / "corrupt.png").write_bytes((work / "mask.png").read_bytes()[:200] + b"\x00" * 64)
    renderer = app.RENDERERS[0] if args.renderer == "baked" else app.RENDERERS[1]
    styles = "a new style per render" if args.styles else f"{args.scenes} scenes" if args.scenes else "one scene"
    print(f"app on {url}  model: {args.model or 'tiny random'}  {args.clients} clients x {args.renders} renders x "
          f"{args.rounds} rounds, {args.size} px, {args.samples} samples, {args.renderer}, {styles}"
          f"{f', bad input every {args.bad_every}' if args.bad_every else ''}; server RSS at start {info['rss']:.0f} MB")
    print(f"server log (the tracebacks of the expected errors): {work / 'server.log'}")

    def canvas(path: Path) -> dict:
        f = handle_file(str(path))
        return {"background": f, "layers": [], "composite": f}

    def client_loop(k: int, round_no: int, out: dict) -> None:
        rng = random.Random(1000 * round_no + k)
        try:
            client = Client(url, verbose=False)
            client.predict(canvas(work / "mask.png"), api_name="/encode")
        except Exception as err:  # noqa: BLE001 - counted and printed
            out["unexpected"].append(f"client {k}: could not connect and encode: {err}")
            return
        for i in range(args.renders):
            if time.monotonic() - started > args.timeout:
                break
            bad = args.bad_every and (i + 1) % args.bad_every == 0
            seed = (100_000 * round_no + 1000 * k + i if args.styles else
                    1 + k % args.scenes if args.scenes else -1)
            view = [rng.uniform(-40, 40), 0, info["fov"], args.size, args.samples, seed, "colour only",
                    [info["layers"] - 1], -1, 0.5, renderer]
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

    header = (f"{'round':>5} {'requests':>8} {'errors':>6} {'expected':>8} {'p50 s':>6} {'p95 s':>6} {'RSS MB':>6} "
              f"{'sessions':>8} {'tensor MB':>9} {'grids':>5} {'cache MB':>8} {'bakes':>5} {'bake s':>6} {'files':>5} "
              f"{'files MB':>8}")
    print(header)
    rows, failures = [], 0
    try:
        for r in range(1, args.rounds + 1):
            out = {"requests": 0, "latency": [], "expected": [], "unexpected": []}
            workers = [threading.Thread(target=client_loop, args=(k, r, out)) for k in range(args.clients)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            conn.send("stats")
            st = conn.recv()
            lat = np.asarray(out["latency"]) if out["latency"] else np.full(1, np.nan)
            rows.append(st["rss"])
            failures += len(out["unexpected"])
            print(f"{r:>5} {out['requests']:>8} {len(out['unexpected']):>6} {len(out['expected']):>8} "
                  f"{np.percentile(lat, 50):>6.2f} {np.percentile(lat, 95):>6.2f} {st['rss']:>6.0f} "
                  f"{st['sessions']:>8} {st['tensor_bytes'] / 2**20:>9.1f} {st['grids']:>5} "
                  f"{st['cache_bytes'] / 2**20:>8.1f} {st['bakes']:>5} {st['bake_s']:>6.1f} {st['files']:>5} "
                  f"{st['file_bytes'] / 2**20:>8.1f}", flush=True)
            if "trimmed" in st:
                print(f"      RSS after malloc_trim: {st['trimmed']:.0f} MB")
            for line in out["unexpected"][:10]:
                print("   unexpected:", line[:200])
            if time.monotonic() - started > args.timeout:
                print(f"stopped: past --timeout {args.timeout:g} s")
                break
    finally:
        conn.send("close")
        if conn.poll(60):
            conn.recv()
        server.join(30)
        if server.is_alive():
            server.kill()
    if rows:
        last = min(3, len(rows) - 1)
        growth = (rows[-1] - rows[-1 - last]) / last if last else float("nan")
        print(f"RSS: round 1 {rows[0]:.0f} MB, round {len(rows)} {rows[-1]:.0f} MB ({rows[-1] - rows[0]:+.0f} MB); "
              f"over the last {last} rounds {growth:+.1f} MB per round")
    print(f"unexpected errors: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
