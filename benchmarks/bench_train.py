"""Training speed and memory: steps per second and peak RSS of each stage, per config.

Each (config, stage) runs in its own process (``python train_accelerate.py ...``) on a small
SynthFaces set made for the benchmark; the script reads the steps/s that the run logged to
``metrics.jsonl`` (after a warm-up of ``--warmup`` steps, so start-up and the first steps'
allocation are not counted) and the process's peak RSS.

    python benchmarks/bench_train.py                          # tiny + default-model configs, both stages
    python benchmarks/bench_train.py --configs synthfaces_tiny --steps 20

On a GPU machine it runs on the GPU that Accelerate picks (one process); add ``--mixed-precision fp16``
to measure autocast there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sem2nerf.training import load_config

# Runs the training script in the child and prints the child's own peak RSS when it ends.
_WRAP = """
import resource, runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    print(f"PEAK_RSS_KIB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
"""


def _run(args: list[str], cwd: Path) -> tuple[int, float, str, float]:
    """Run the training script; returns (exit code, wall seconds, stderr tail, peak RSS in MiB)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _WRAP, *args], cwd=cwd, capture_output=True, text=True, check=False)
    peak = float("nan")
    for line in proc.stderr.splitlines():
        if line.startswith("PEAK_RSS_KIB="):
            peak = int(line.split("=", 1)[1]) / 1024.0
    return proc.returncode, time.perf_counter() - start, proc.stderr[-2000:], peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=["synthfaces_tiny", "synthfaces_encoder"],
                        help="config names under configs/ (the encoder config's generator twin is derived: synthfaces_encoder -> synthfaces_generator)")
    parser.add_argument("--steps", type=int, default=12, help="steps per run")
    parser.add_argument("--warmup", type=int, default=4, help="steps not counted")
    parser.add_argument("--mixed-precision", default="no")
    parser.add_argument("--data", help="a SynthFaces folder to use (default: make one with 12 identities x 3 views at 80 px)")
    args = parser.parse_args()
    if args.steps <= args.warmup:
        parser.error("--steps must be larger than --warmup")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = Path(args.data) if args.data else tmp / "synth"
        if not args.data:
            from sem2nerf.synthfaces import generate_dataset

            generate_dataset(data, identities=12, views=3, size=80, seed=0, workers=1)
        rows = []
        for name in args.configs:
            gen_cfg = ROOT / "configs" / f"{name.replace('_encoder', '_generator')}.yaml"
            enc_cfg = ROOT / "configs" / f"{name}.yaml"
            if not gen_cfg.is_file():
                gen_cfg = enc_cfg
            size = "image_size=32" if "tiny" in name else "image_size=64"
            common = [f"data.root={data}", f"data.{size}", "data.workers=0", f"train.max_steps={args.steps}", "train.log_every=1",
                      f"train.val_every={10**6}", f"train.save_every={10**6}", f"train.mixed_precision={args.mixed_precision}",
                      "data.val_samples=1"]
            for stage, cfg in (("generator", gen_cfg), ("encoder", enc_cfg)):
                out = tmp / f"{name}_{stage}"
                extra = ["stage=generator"] if stage == "generator" else [f"decoder={tmp / f'{name}_generator' / 'export'}"]
                latent = load_config(cfg).encoder.latent if stage == "encoder" else None
                if latent is not None:  # time the paper-loss steps (not the cheaper code-only warm-up); extra masks: ours
                    extra.append("encoder.latent.warmup_steps=0")
                    if latent.extra is not None:
                        extra.append(f"encoder.latent.extra.root={data}")
                rc, seconds, err, peak = _run([str(ROOT / "train_accelerate.py"), "--config", str(cfg), f"output_dir={out}", *common, *extra], ROOT)
                if rc != 0:
                    print(f"{name} {stage}: failed (exit {rc})\n{err}", file=sys.stderr)
                    return 1
                records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
                timed = [r for r in records if "steps_per_s" in r and r["step"] > args.warmup]
                steps_per_s = len(timed) / sum(1.0 / r["steps_per_s"] for r in timed)
                rows.append((name, stage, steps_per_s, peak, seconds))
        print(f"\ntorch threads: {os.environ.get('OMP_NUM_THREADS', 'default')}, {os.cpu_count()} logical CPUs, steps {args.steps} "
              f"(first {args.warmup} not timed), mixed precision {args.mixed_precision}")
        print(f"{'config':<22}{'stage':<11}{'steps/s':>9}{'s/step':>9}{'peak RSS (MiB)':>16}{'wall (s)':>10}")
        for name, stage, sps, peak, seconds in rows:
            print(f"{name:<22}{stage:<11}{sps:>9.2f}{1 / sps:>9.2f}{peak:>16.0f}{seconds:>10.1f}")
        print("peak RSS: the training process's resident high-water mark (torch itself ~0.4 GiB); s/step excludes validation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
