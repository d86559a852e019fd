"""Framing statistics of a folder of raw-id face masks beside those of real CelebAMask-HQ annotations.

    python -m sem2nerf synth --out data/framing40 --identities 40 --views 1 --size 128 --seed 3
    python benchmarks/mask_framing.py data/framing40/masks
    python benchmarks/mask_framing.py examples/drawn/masks --markdown

Prints, per class, the share of the frame, centroid, mean extent and how often the class runs off the frame, with
the real values (``sem2nerf.synthfaces.framing.REAL_FRAMING``) and whether each is within the tolerances; then how
often hair reaches the top or sides of the encoder's 80 % crop and neck or clothes its bottom. ``--markdown`` prints
the table that docs/synthfaces.md shows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from sem2nerf.synthfaces.framing import REAL_FRAMING, framing_report, framing_statistics


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return "-".join(f"{v:.2f}" for v in value) if len(value) == 2 and value[0] <= value[1] else ", ".join(
            f"{v:.2f}" for v in value)
    return f"{value:.1f}" if value > 1.0 else f"{value:.2f}"


def _centroid(value) -> str:
    return "-" if value is None else f"{value[0]:.2f}, {value[1]:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("masks", help="a folder of raw-id mask PNGs (e.g. a SynthFaces set's masks/)")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args(argv)
    files = sorted(Path(args.masks).glob("*.png"))
    if not files:
        print(f"error: no PNG masks in {args.masks}", file=sys.stderr)
        return 2
    stats = framing_statistics(np.asarray(Image.open(f)) for f in files)
    rows = framing_report(stats)
    ok = sum(r["ok"] for r in rows)
    if args.markdown:
        print("| class | statistic | real CelebAMask-HQ | measured | within tolerance |")
        print("|---|---|---|---|---|")
    for r in rows:
        real, got = r["real"], r["measured"]
        show = _centroid if r["statistic"] == "centroid" else _fmt
        if args.markdown:
            print(f"| {r['class']} | {r['statistic']} | {show(real)} | {show(got)} | {'yes' if r['ok'] else 'no'} |")
        else:
            print(f"{'ok ' if r['ok'] else 'off'} {r['class']:10s} {r['statistic']:9s} real {show(real):>12s}   "
                  f"measured {show(got):>12s}")
    hair = stats.get("hair", {})
    print(f"\n{len(files)} masks; {ok} of {len(rows)} statistics within tolerance")
    print(f"hair reaches the crop's top or sides in {100 * hair.get('crop_top_or_sides', 0):.0f} % of the masks "
          f"(of those with hair), the frame's border in {100 * hair.get('border', 0):.0f} %; neck or clothes reach "
          f"the crop's bottom in {100 * stats['_any']['neck_or_cloth_crop_bottom']:.0f} %")
    ears = [stats[k]["present"] for k in ("l_ear", "r_ear") if k in stats]
    if ears:
        print(f"ears visible in {100 * np.mean(ears):.0f} % (real: {100 * REAL_FRAMING['l_ear']['present']:.0f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
