"""Bundle a trained run as the package's default model (``sem2nerf/pretrained/synthfaces``).

Reads what the recipe below leaves behind: the encoder stage's export (a Hub model folder with
``training.json``), the generator stage's decoder folder it froze (its ``decoder_config.json`` holds that
stage's command, wall time and hardware), the ``synthfaces.json`` of the data set and the JSON written by
``benchmarks/eval_synthetic.py``. Writes ``config.json`` + ``model.safetensors`` + a model card
(``README.md``: commands, data-set generator version and seed, wall times, hardware, evaluation) +
``training.json`` (both stages) + ``evaluation.json`` into ``--out``, refusing anything over 25 MB.

The recipe of the bundled default (README, "The bundled default model")::

    python -m sem2nerf synth --out data/synthfaces_default --identities 400 --views 8 --size 80 --seed 0
    python train_accelerate.py --config configs/synthfaces_generator.yaml
    python -m sem2nerf synth --out data/synthfaces_extra160 --identities 3000 --views 1 --size 160 --seed 1
    python train_accelerate.py --config configs/synthfaces_encoder.yaml
    python benchmarks/eval_synthetic.py --model runs/synthfaces_encoder/export --identities 0 --carve on \\
        --json runs/eval_default.json --sheet docs/results_synthfaces.png --edit-sheet docs/edits_synthfaces.png
    python benchmarks/mask_following.py --model runs/synthfaces_encoder/export --carve on \\
        --json runs/mask_following.json --sheet docs/drawn_renders.png
    python benchmarks/mask_following.py --model runs/synthfaces_encoder/export --carve off \\
        --json runs/mask_following_uncarved.json
    python scripts/bundle_default_model.py

The bundled model carves its scenes to their masks' silhouettes (``carve`` in its config, :mod:`sem2nerf.carve`):
the encoder stage's export does not, so the evaluations above ask for it (``--carve on``); the card shows the
mask-following numbers both ways.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sem2nerf import Sem2NeRF
from sem2nerf.decoder_folder import DECODER_CONFIG_NAME
from sem2nerf.pretrained import DEFAULT_MODEL, DEFAULT_MODEL_DIR

SIZE_LIMIT = 25 * 2**20
RECIPE = (
    "python -m sem2nerf synth --out data/synthfaces_default --identities 400 --views 8 --size 80 --seed 0",
    "python train_accelerate.py --config configs/synthfaces_generator.yaml",
    "python -m sem2nerf synth --out data/synthfaces_extra160 --identities 3000 --views 1 --size 160 --seed 1",
    "python train_accelerate.py --config configs/synthfaces_encoder.yaml",
    ("python benchmarks/eval_synthetic.py --model runs/synthfaces_encoder/export --identities 0 --carve on "
    "--json runs/eval_default.json --sheet docs/results_synthfaces.png --edit-sheet docs/edits_synthfaces.png"),
    ("python benchmarks/mask_following.py --model runs/synthfaces_encoder/export --carve on "
     "--json runs/mask_following.json --sheet docs/drawn_renders.png"),
    ("python benchmarks/mask_following.py --model runs/synthfaces_encoder/export --carve off "
     "--json runs/mask_following_uncarved.json"),
    "python scripts/bundle_default_model.py",
)
DESCRIPTION = """\
**The default model bundled with the `sem2nerf` package** (`Sem2NeRF.from_pretrained("synthfaces")`,
`sem2nerf.DEFAULT_MODEL`). It was trained by this project's own `train_accelerate.py`, on CPU, on SynthFaces:
procedural 3D heads that `python -m sem2nerf synth` generates with the CelebAMask-HQ label set, several views per
identity and camera poses. The generator stage pre-trained the small pi-GAN decoder on those heads: multi-view
reconstruction through per-identity latents that are a learned linear map of each head's parameters
(`generator.latents.init=params`, `generator.latents.linear`), the heads' own 3D density and colour (`generator.geometry`, also in
the empty space around the box, half of the near-surface points around the eyes, brows and mouth: `generator.geometry.focus`) and the masks' silhouettes against the rendered opacity (`loss.silhouette`), with the pixels of small parts (eyes,
brows, mouth, lips, glasses) weighing 11 x in the L2 (`loss.part.weight=10`, also in the encoder stage). The encoder stage then trained
the region-aware Swin encoder, with a linear region head on each class's area, centroid and spread
(`encoder.region_head`, fitted by least squares to the code targets before the first step), against that
frozen decoder as the paper's stage (patch L2, W-norm, patch GAN with R1,
random-pose GAN steps, Ranger) plus a regression of codes (`encoder.latent`): the linear read-out of each identity's
generator-stage code from its SynthFaces parameters, fitted on all of them and read out with the colours and
other mask-invisible ones at their mean (what `encoder.latent` regresses), its error also counted in those
parameters (`encoder.latent.params=0.3`, so eye size weighs as much as hair length), also for 2,700 extra SynthFaces masks at 160 px (`encoder.latent.extra`),
alongside the paper's losses in all 3,000 steps (no code-only warm-up) and a silhouette loss of weight 3; its input masks were redrawn
as if annotated by hand (`encoder.mask_realism=1`: polygonised, jittered outlines, small gaps, now and then a class left
out), so that real and drawn masks look like its training ones. The data are SynthFaces generator 2.0 heads, framed
like real CelebAMask-HQ masks, with CelebAMask-HQ's left/right and free-form, often asymmetric hair; the latents
(128 dimensions) are a linear map of their 97 parameter features. The deviations are marked in the configs (no LPIPS
offline, smaller sizes, far fewer steps).

It carves every scene to its mask's silhouette (`carve: true` in its config; `sem2nerf.carve`): a sample point that
projects, in the mask's own view, onto the mask's background has no density, so the render's outline at the mask's
pose is the mask's and no other view shows matter outside that one-view hull. Without it the encoder, on masks drawn
by another process than its training masks, put matter behind about half of the background. `encode(mask,
carve=False)` (CLI `--no-carve`) renders a scene uncarved.

What it is for: an offline demo and a test bed that works out of the box. It knows synthetic heads only: its faces
look like SynthFaces renders, not like photographs, and a mask's colours cannot be known from the mask (the encoder
predicts an average appearance; use style mixing for others). For real faces convert the official CelebAMask-HQ
checkpoint (`python -m sem2nerf convert sem2nerf_celebahq_pretrained.pt --out DIR`) or train on CelebAMask-HQ with
`configs/celebamask_hq.yaml`.
"""


def _fmt(value, digits: int = 2) -> str:
    return "n/a" if value is None or isinstance(value, str) else f"{value:.{digits}f}"


def evaluation_markdown(ev: dict) -> str:
    """The evaluation section of the card: per-pose table, editing, style mixing."""
    rec = ev["reconstruction"]
    lines = [
        (f"`benchmarks/eval_synthetic.py` on {len(ev['identities'])} held-out SynthFaces identities (never seen in either "
        f"stage), each encoded from the mask of view {ev['input_view']} at its annotated pose and rendered at "
        f"{ev['render_size']} px ({ev['samples']} + {ev['samples']} samples, fov {ev['fov']:g}) against the ground truth "
        f"re-rendered by the SynthFaces generator (version {ev['generator_version']}, data seed {ev['data_seed']}). "
        "Baseline: the *mean face*, the decoder at the latent average with no encoder."),
        "",
    ]
    shape_ref = all("shape_reference" in e for e in rec["poses"])
    lines += [
        "| pose | PSNR model | PSNR mean face | margin | SSIM model | SSIM mean face | margin | silhouette IoU model | mean face |"
        + (" true shape, mean colours: PSNR | SSIM |" if shape_ref else ""),
        "|---|---|---|---|---|---|---|---|---|" + ("---|---|" if shape_ref else ""),
    ]
    for e in rec["poses"]:
        m, b, d = e["model"], e["baseline"], e["margin"]
        lines.append(f"| {e['name']} | {_fmt(m['psnr'])} dB | {_fmt(b['psnr'])} dB | {_fmt(d['psnr'])} dB | "
                     f"{_fmt(m['ssim'], 3)} | {_fmt(b['ssim'], 3)} | {_fmt(d['ssim'], 3)} | "
                     f"{_fmt(m.get('iou'), 3)} | {_fmt(b.get('iou'), 3)} |"
                     + (f" {_fmt(e['shape_reference']['psnr'])} dB | {_fmt(e['shape_reference']['ssim'], 3)} |" if shape_ref else ""))
    lines += ["", ("Silhouette IoU: opacity > 0.5 against the ground truth's non-background labels (the geometry alone; "
              "a mask fixes the shape, not the colours, which dominate PSNR)."), f"LPIPS: {rec['lpips']}."]
    if shape_ref:
        lines.append("*True shape, mean colours*: the ground truth's own shape and light painted in the training identities' "
                     "mean colours, a reference for the most a mask (which fixes the shape, not the colours) can give "
                     "without guessing colours.")
    edit = ev.get("editing")
    if edit:
        lines += ["", ("Editing (edited example masks; mean absolute change of the render, 0-255, inside vs outside the "
                  "edited region, at the example's pose):"), "",
                  "| edit | region | inside | outside | ratio |", "|---|---|---|---|---|"]
        for e in edit["edits"]:
            if "edited_fraction" in e:
                lines.append(f"| {e['name']} | {e['edited_fraction']:.1%} | {_fmt(e['inside'])} | {_fmt(e['outside'])} | "
                             f"{_fmt(e['ratio'])} |")
        o = edit["overall"]
        lines.append(f"| pooled | | {_fmt(o['inside'])} | {_fmt(o['outside'])} | {_fmt(o['ratio'])} |")
    style = ev.get("style")
    if style:
        lines += ["", (f"Style mixing ({len(style['scenes'])} scenes x style seeds {style['seeds']}): silhouette IoU "
                  "(opacity > 0.5) against the scene's own render, and mean colour change inside the silhouette (0-255):"), "",
                  "| layers | IoU mean | IoU min | colour change |", "|---|---|---|---|"]
        for preset, s in style["presets"].items():
            lines.append(f"| {preset} {s['layers']} | {_fmt(s['iou_mean'], 3)} | {_fmt(s['iou_min'], 3)} | "
                         f"{_fmt(s['colour_change_mean'])} |")
    if ev.get("sheet"):
        lines += ["", ("Results sheet (masks, renders at yaw -35/-20/0/+20/+35, ground truth): `docs/results_synthfaces.png` "
                  "in the sem2nerf repository.")]
    if ev.get("edit_sheet"):
        lines += ["", ("Edit sheet (per edited example: masks, renders, the change x 4 with the edited region in red): "
                       "`docs/edits_synthfaces.png` in the sem2nerf repository.")]
    return "\n".join(lines)


SET_NAMES = {"synthfaces": "SynthFaces held-out", "drawn": "DrawnFaces (out of family)",
             "examples": "examples/ (SynthFaces)", "examples_drawn": "examples/drawn/"}


def mask_following_markdown(mf: dict, uncarved: dict | None = None) -> str:
    """The mask-following section of the card (``benchmarks/mask_following.py --json``), with ``uncarved`` (the same
    benchmark with ``--carve off``) as a second table."""
    lines = [
        (f"`benchmarks/mask_following.py` (no ground truth needed; renders at {mf['size']} px at each mask's pose): "
         "silhouette IoU of the rendered opacity against the mask's foreground; edit locality, the mean change of the "
         "render (0-255) inside the pixels whose label an edit changed against outside them, pooled over the edited "
         "pairs; the asymmetry of one-sided hair edits (change on the edited side of the image over the other side); "
         "distinctness, the mean difference between renders of different masks."),
        "",
    ]
    for result, title in ((mf, "Carved to the mask's silhouette (as shipped)"), (uncarved, "Uncarved (`--carve off`)")):
        if result is None:
            continue
        lines += [
            f"{title}:" if uncarved is not None else "",
            "",
            "| mask set | masks | edited pairs | silhouette IoU | edit ratio | inside | outside | one-sided asymmetry | distinctness |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, st in result["sets"].items():
            if not isinstance(st, dict) or "iou" not in st:
                continue
            ed = st.get("editing") or {}
            lines.append(f"| {SET_NAMES.get(name, name)} | {st['masks']} | {ed.get('pairs', 0)} | {_fmt(st['iou'], 3)} | "
                         f"{_fmt(ed.get('ratio'))} | {_fmt(ed.get('inside'))} | {_fmt(ed.get('outside'))} | "
                         f"{_fmt((st.get('asymmetry') or {}).get('ratio'))} | {_fmt(st.get('distinctness', {}).get('mean'))} |")
        clean = ((result["sets"].get("synthfaces") or {}).get("novel_view") or {}).get("opacity_outside")
        if clean:
            shown = ", ".join(f"{pose} {_fmt(v, 3)}" for pose, v in clean.items())
            lines += ["", ("Novel-view cleanliness (SynthFaces held-out): the share of the rendered opacity outside the "
                           f"true silhouette: {shown}.")]
        lines.append("")
    return "\n".join(lines).strip() + "\n"


def training_markdown(data: dict, generator: dict, encoder: dict) -> str:
    def stage(name: str, meta: dict) -> str:
        val = meta.get("validation") or {}
        return (f"- **{name} stage**: `{meta.get('training_command')}`, {meta.get('steps')} steps, "
                f"wall time {meta.get('wall_time_s', 0) / 60:.1f} min on {meta.get('hardware')}; the trainer's "
                f"validation: PSNR {_fmt(val.get('psnr'))} dB on {val.get('count')} images ({what[name]}).")

    what = {"Generator": "views of training identities through their latents",
            "Encoder": "held-out masks, the first identity of the test split"}

    from sem2nerf.synthfaces import GENERATOR_VERSION

    stale = [] if data["version"] == GENERATOR_VERSION else [
        "",
        (f"The package now draws SynthFaces with generator {GENERATOR_VERSION} (CelebAMask-HQ framing and left/right, "
         f"free-form hair; docs/synthfaces.md). This model and its evaluation are of generator {data['version']} heads "
         "until it is retrained with the recipe above on a new data set."),
    ]
    return "\n".join([
        (f"SynthFaces generator version {data['version']}, seed {data['seed']}: {data['identities']} identities x "
        f"{data['views_per_identity']} views at {data['image_size']} px ({data['train_images']} training images, "
        f"{data['test_images']} held out by identity)."),
        *stale,
        "",
        stage("Generator", generator),
        stage("Encoder", encoder),
        "",
        f"Wall time in all: {(generator.get('wall_time_s', 0) + encoder.get('wall_time_s', 0)) / 60:.1f} min of training.",
    ])


def bundle(encoder_export: Path, data_dir: Path, evaluation: Path, out: Path, decoder_dir: Path | None = None,
           mask_following: Path | None = None, mask_following_uncarved: Path | None = None) -> Path:
    """Write the bundled model folder ``out`` from a finished run; returns ``out``.

    ``decoder_dir``: the generator stage's decoder folder (default: the ``decoder`` of the encoder run's config).
    """
    encoder_meta = json.loads((encoder_export / "training.json").read_text())
    model = Sem2NeRF.from_pretrained(encoder_export, carve=True)  # the default model carves (sem2nerf.carve)
    if decoder_dir is None:
        decoder_dir = Path(yaml.safe_load((encoder_export.parent / "config.yaml").read_text())["decoder"])
    generator_meta = json.loads((decoder_dir / DECODER_CONFIG_NAME).read_text()).get("metadata", {})
    data = json.loads((data_dir / "synthfaces.json").read_text())
    ev = json.loads(evaluation.read_text())
    metrics = evaluation_markdown(ev)
    if mask_following is not None:
        mf = json.loads(mask_following.read_text())
        un = json.loads(mask_following_uncarved.read_text()) if mask_following_uncarved is not None else None
        metrics += "\n\n" + mask_following_markdown(mf, un)
        ev["mask_following"] = {k: v for k, v in mf.items() if k not in ("sheet",)}
        if un is not None:
            ev["mask_following_uncarved"] = {k: v for k, v in un.items() if k not in ("sheet",)}
    commands = "\n".join(RECIPE)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "model"
        model.save_pretrained(staged, repo_id=DEFAULT_MODEL, model_card_kwargs={
            "title": "the SynthFaces default model of the sem2nerf package",
            "description": DESCRIPTION,
            "training_data": training_markdown(data, generator_meta, encoder_meta),
            "training_command": commands,
            "metrics": metrics,
        })
        (staged / "training.json").write_text(json.dumps({"generator": generator_meta, "encoder": encoder_meta,
                                                          "data": data, "recipe": list(RECIPE)}, indent=2) + "\n")
        ev = {k: v for k, v in ev.items() if k not in ("data", "model", "sheet")}
        (staged / "evaluation.json").write_text(json.dumps(ev, indent=2) + "\n")
        total = sum(p.stat().st_size for p in staged.iterdir())
        if total > SIZE_LIMIT:
            raise SystemExit(f"the bundle is {total / 2**20:.1f} MB, over the 25 MB limit")
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(staged, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder-export", default="runs/synthfaces_encoder/export", help="the encoder stage's export folder")
    parser.add_argument("--data", default="data/synthfaces_default", help="the SynthFaces data set it was trained on")
    parser.add_argument("--evaluation", default="runs/eval_default.json", help="eval_synthetic.py --json output")
    parser.add_argument("--mask-following", default="runs/mask_following.json",
                        help="benchmarks/mask_following.py --json output ('' to leave it out)")
    parser.add_argument("--mask-following-uncarved", default="runs/mask_following_uncarved.json",
                        help="the same benchmark with --carve off ('' to leave it out)")
    parser.add_argument("--decoder", default=None, help="the generator stage's decoder folder (default: the encoder run's)")
    parser.add_argument("--out", default=str(DEFAULT_MODEL_DIR), help="bundle folder (default: the package's preset)")
    args = parser.parse_args(argv)
    out = bundle(Path(args.encoder_export), Path(args.data), Path(args.evaluation), Path(args.out),
                 Path(args.decoder) if args.decoder else None, Path(args.mask_following) if args.mask_following else None,
                 Path(args.mask_following_uncarved) if args.mask_following_uncarved else None)
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    for name, size in sizes.items():
        print(f"{size / 2**20:8.2f} MB  {name}")
    print(f"{sum(sizes.values()) / 2**20:8.2f} MB  in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
