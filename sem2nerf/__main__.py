"""Command line: ``python -m sem2nerf {render,info,schemes,synth,drawn,convert} ...``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

MODEL_ENV = "SEM2NERF_MODEL"
BAKE_ABOVE_VIEWS = 4  # --renderer auto bakes for more views than this (a bake costs about one direct render)

EXAMPLES = """examples:
  python -m sem2nerf render --mask examples/masks/synth01.png --yaw 20 --out view.png   # bundled default model
  python -m sem2nerf render --model ./my-model --mask face.png --yaw 20 --out view.png
  python -m sem2nerf render --model org/name --mask face.png --views preview --out strip.png
  python -m sem2nerf render --model ./my-model --mask face.png --style-seed 92 --style-layers 8 --out styled.png
  python -m sem2nerf info --model ./my-model
  python -m sem2nerf schemes
  python -m sem2nerf convert sem2nerf_celebahq_pretrained.pt --out ./sem2nerf-celebahq
"""

CONVERT_EXAMPLES = """examples:
  python -m sem2nerf convert pretrained_models/sem2nerf_celebahq_pretrained.pt --out models/sem2nerf-celebahq
  python -m sem2nerf convert pretrained_models/pigan-celeba-pretrained.pth --out models/pigan-celeba
  python -m sem2nerf convert sem2nerf_catmask_pretrained.pt --out models/catmask --push-to-hub me/sem2nerf-catmask --dry-run
"""


def _layers(text: str) -> list[int]:
    try:
        return [int(t) for t in text.replace(" ", "").split(",") if t]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer indices like '8' or '6,7,8', got {text!r}") from None


def _regions(text: str) -> list[str]:
    """An argparse type: comma-separated class names (``hair,hat``) or ids."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated class names like 'hair' or 'hair,hat', got {text!r}")
    return [int(n) if n.isdigit() else n for n in names]


def _finite(text: str) -> float:
    """An argparse type: a finite number (float() alone takes 'nan' and 'inf')."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _model_arg(parser: argparse.ArgumentParser) -> None:
    from .pretrained import DEFAULT_MODEL

    parser.add_argument(
        "--model",
        default=os.environ.get(MODEL_ENV) or DEFAULT_MODEL,
        help="a folder with config.json + model.safetensors, a Hugging Face repo id, or a bundled model's name "
        f"(default: ${MODEL_ENV}, else the bundled {DEFAULT_MODEL!r})",
    )


def build_parser() -> argparse.ArgumentParser:
    from .limits import CPU_MAX_SIZE, FPS, FRAMES, GPU_MAX_SIZE, SAMPLES, SIZE

    parser = argparse.ArgumentParser(
        prog="python -m sem2nerf",
        description="Sem2NeRF: turn one semantic mask of a face (or a cat) into views of a 3D scene.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXAMPLES,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    r = sub.add_parser(
        "render",
        help="render a mask from one view or a set of views",
        description="Encode a semantic mask once and render it. Angles are degrees in the CelebAMask-HQ "
        "annotation convention: yaw 0, pitch 0 is frontal; positive yaw turns the face to the image's left.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _model_arg(r)
    r.add_argument("--mask", required=True, help="label-id PNG (mode L/P/grey RGB) or palette-coloured mask")
    r.add_argument("--scheme", default=None, help="label scheme of the mask (default: the model's raw scheme); see `schemes`")
    r.add_argument("--yaw", type=_finite, default=0.0, help="degrees")
    r.add_argument("--pitch", type=_finite, default=0.0, help="degrees")
    r.add_argument("--fov", type=_finite, default=None, help="field of view in degrees (default: the model's)")
    r.add_argument("--size", type=int, default=128,
                   help=f"image side in pixels, {SIZE.low}-{CPU_MAX_SIZE} on a CPU, up to {GPU_MAX_SIZE} on a GPU")
    r.add_argument("--samples", type=int, default=24,
                   help=f"coarse samples per ray (+ as many fine samples), {SAMPLES.low}-{SAMPLES.high}")
    r.add_argument("--seed", type=int, default=0, help="seed of the sampling jitter (reproducible renders)")
    r.add_argument("--deterministic", action="store_true", help="no jitter, deterministic importance sampling")
    r.add_argument("--no-carve", action="store_true",
                   help="do not carve the scene to the mask's silhouette (the bundled model carves: no matter where the "
                   "mask is background, seen from the mask's view; sem2nerf.carve)")
    r.add_argument("--style-seed", type=int, default=None, help="mix in a random style drawn with this seed")
    r.add_argument("--style-layers", type=_layers, default=None,
                   help="FiLM layers that take the style, e.g. 8 = colour, 6,7,8 = texture (default: the colour layer)")
    r.add_argument("--style-seed2", type=int, default=None, help="second style seed to blend with (paper Fig. 5)")
    r.add_argument("--style-alpha", type=_finite, default=0.5, help="blend factor towards --style-seed2 (0-1)")
    r.add_argument("--style-regions", type=_regions, default=None, metavar="CLASSES",
                   help="only these classes take the style, in 3D (comma-separated class names, e.g. hair,hat; "
                   "merged names such as eyes or lips work too); needs --style-seed")
    r.add_argument("--views", choices=["single", "preview", "front", "orbit"], default="single",
                   help="single view; 'preview' = the official 5-yaw strip; 'front'/'orbit' = trajectory frames in a strip")
    r.add_argument("--frames", type=int, default=8,
                   help=f"frames of a 'front'/'orbit' strip or video, {FRAMES.low}-{FRAMES.high}")
    r.add_argument("--with-mask", action="store_true", help="put the coloured input mask as the first tile of a strip")
    r.add_argument("--depth", default=None, help="also save the depth map of a single view here (PNG, near = bright)")
    r.add_argument("--labels", default=None, metavar="PNG",
                   help="also save the label map of the views here: the input mask's classes carried onto the 3D "
                   "surface (an indexed PNG: pixel values are raw label ids, shown in the class colours)")
    r.add_argument("--device", default="auto", help="'auto' (GPU if available), 'cpu', 'cuda', 'cuda:1', ...")
    r.add_argument("--renderer", choices=["auto", "direct", "baked"], default="auto",
                   help="direct: the network for every sample; baked: sample the scene once on a grid, then read "
                   f"every view from it (sem2nerf.bake); auto: baked for more than {BAKE_ABOVE_VIEWS} views")
    r.add_argument("--fps", type=_finite, default=12.0, help=f"frames per second of an .mp4 --out, {FPS.low}-{FPS.high}")
    r.add_argument("--out", required=True, help="output image, e.g. .png (a strip for several views) or, for --views "
                   "front/orbit, an .mp4 turntable video")

    i = sub.add_parser("info", help="print a model's configuration and parameter counts")
    _model_arg(i)

    sub.add_parser("schemes", help="list the label schemes with their class ids, names and colours")

    from .synthfaces import add_synth_arguments

    s = sub.add_parser("synth", help="generate a SynthFaces data set (procedural 3D heads, CelebAMask-HQ layout)")
    add_synth_arguments(s)
    from .drawn import add_drawn_arguments

    d = sub.add_parser("drawn", help="write a DrawnFaces set (masks drawn in 2D, out-of-family evaluation)")
    add_drawn_arguments(d)
    _add_convert_parser(sub)
    return parser


def _add_convert_parser(sub) -> None:
    from .domains import list_domains

    c = sub.add_parser(
        "convert",
        help="convert the official Sem2NeRF / pi-GAN checkpoints into folders this package loads",
        description="Convert an official checkpoint, read safely (weights only) and checked key by key: "
        "sem2nerf_{celebahq,catmask}_pretrained.pt become model folders for Sem2NeRF.from_pretrained (and the app); "
        "pigan-{celeba,cats2}-pretrained.pth become decoder folders for the training script's encoder stage. "
        "The written folder is reloaded and compared with the checkpoint before the command succeeds.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=CONVERT_EXAMPLES,
    )
    c.add_argument("checkpoint", help="the official .pt / .pth file")
    c.add_argument("--out", required=True, help="folder to write (new, or empty, or a previous conversion with --overwrite)")
    c.add_argument("--kind", choices=["auto", "sem2nerf", "pigan"], default="auto", help="what the file holds (default: detected)")
    c.add_argument("--domain", choices=list_domains(), default=None,
                   help="data-set domain (default: the checkpoint's options, or the official pi-GAN file name)")
    c.add_argument("--contour-skip", choices=["smallest", "background"], default="smallest",
                   help="'smallest' reproduces the official contour channel; 'background' is this package's fix")
    c.add_argument("--overwrite", action="store_true", help="replace the files of a previous conversion in --out")
    c.add_argument("--push-to-hub", metavar="REPO_ID", default=None, help="then upload the folder to this Hub model repo")
    c.add_argument("--private", action="store_true", help="create the Hub repo as private")
    c.add_argument("--license", default=None, help="licence id for the model card (default: 'other', explained in the card)")
    c.add_argument("--dry-run", action="store_true", help="with --push-to-hub: list what would be uploaded, upload nothing")


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    from .errors import Sem2NeRFError

    try:
        device = torch.device(name)
    except RuntimeError:
        raise Sem2NeRFError(f"--device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise Sem2NeRFError(f"--device {name}: no CUDA GPU is available here; use --device cpu (or auto)")
    return device


def _load_model(name: str | None, device):
    from . import Sem2NeRF
    from .errors import ModelLoadError

    if not name:
        raise ModelLoadError(f"no model given: pass --model FOLDER_OR_REPO_ID or set ${MODEL_ENV}")
    return Sem2NeRF.from_pretrained(name).to(device)


def _check_render_args(args: argparse.Namespace, device) -> None:
    """Refuse counts and sizes outside :mod:`sem2nerf.limits` (the app's slider ranges) before any work."""
    from .errors import Sem2NeRFError
    from .limits import ALPHA, FPS, FRAMES, SAMPLES, SEED, SIZE, max_render_size

    checks = [(SIZE, args.size, "--size", max_render_size(device)), (SAMPLES, args.samples, "--samples", None),
              (FRAMES, args.frames, "--frames", None), (FPS, args.fps, "--fps", None),
              (ALPHA, args.style_alpha, "--style-alpha", None), (SEED, args.seed, "--seed", None)]
    checks += [(SEED, value, flag, None) for value, flag in ((args.style_seed, "--style-seed"),
                                                             (args.style_seed2, "--style-seed2")) if value is not None]
    for limit, value, flag, high in checks:
        try:
            limit.check(value, f"{flag} (on a {device.type.upper()})" if flag == "--size" else flag, high)
        except ValueError as err:
            raise Sem2NeRFError(str(err)) from None
    if args.fov is not None and not 0 < args.fov < 180:
        raise Sem2NeRFError(f"--fov must be between 0 and 180 degrees, got {args.fov:g}")
    if args.style_regions is not None and args.style_seed is None:
        raise Sem2NeRFError("--style-regions names the classes that take a style: pass --style-seed too")
    if args.labels is not None and Path(args.labels).suffix.lower() != ".png":
        raise Sem2NeRFError(f"--labels must be a .png file (an indexed PNG of label ids), got {Path(args.labels).name!r}")


def _warn_layout(scene, model) -> None:
    """Print the mask's implausible class layout for the model's domain on stderr (the render goes ahead)."""
    from .layout import check_layout

    check = check_layout(scene.mask, model.domain)
    if check:
        print(f"warning: {check.message()}", file=sys.stderr)  # the defaults name --scheme and --model


def cmd_render(args: argparse.Namespace) -> int:
    from PIL import Image

    from .errors import Sem2NeRFError
    from .trajectories import Pose, front_trajectory, orbit_trajectory, preview_poses
    from .views import depth_picture, render_images

    out = Path(args.out)
    video = out.suffix.lower() == ".mp4"
    if video and args.views not in ("front", "orbit"):
        raise Sem2NeRFError("an .mp4 --out is a turntable video: pass --views front or --views orbit (and --frames)")
    if not video and Image.registered_extensions().get(out.suffix.lower()) not in Image.SAVE:
        raise Sem2NeRFError(f"--out must be an image file (.png, .jpg, ...) or an .mp4 video, got {out.name!r}")
    device = _device(args.device)
    _check_render_args(args, device)
    model = _load_model(args.model, device)
    scene = model.encode(args.mask, scheme=args.scheme, carve=False if args.no_carve else None)
    _warn_layout(scene, model)
    try:
        scene = model.mix_style(scene, args.style_seed, args.style_layers, seed2=args.style_seed2,
                                alpha=args.style_alpha, regions=args.style_regions)
    except ValueError as err:  # unknown region or style layer names the known ones
        raise Sem2NeRFError(f"--style-{'regions' if 'region' in str(err) else 'layers'}: {err}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    fov = args.fov if args.fov is not None else model.fov
    poses = {
        "single": lambda: [Pose(args.yaw, args.pitch, fov)],
        "preview": lambda: [p._replace(fov=fov) for p in preview_poses(model.domain)],
        "front": lambda: front_trajectory(args.frames),
        "orbit": lambda: orbit_trajectory(args.frames, fov=fov),
    }[args.views]()
    renderer = args.renderer
    if renderer == "auto":  # strips and videos of many views: one bake (about one render), then the grid
        renderer = "baked" if len(poses) > BAKE_ABOVE_VIEWS else "direct"
    source = model.bake(scene, fov=max(p.fov for p in poses)) if renderer == "baked" else model.view_source(scene)
    views = render_images(source, poses, args.size, args.samples, args.seed, deterministic=args.deterministic)
    tiles = [v.image for v in views]
    if args.depth:
        depth_picture(views[0].depth, model.ray_start, model.ray_end, colour=False).save(args.depth)
    if args.labels:
        _save_labels(model, source, poses, args)
    if video:
        from .export import write_video

        write_video(tiles, out, fps=args.fps)
        print(f"wrote {out} ({len(tiles)} frames of {args.size}x{args.size} at {args.fps:g} fps, {renderer} renderer)")
        return 0
    if args.with_mask or args.views == "preview":
        mask_tile = Image.fromarray(scene.mask.colorize()).resize((args.size, args.size), Image.NEAREST)
        tiles = [mask_tile, *tiles]
    strip = Image.new("RGB", (args.size * len(tiles), args.size))
    for k, tile in enumerate(tiles):
        strip.paste(tile, (k * args.size, 0))
    strip.save(out)
    print(f"wrote {out} ({len(tiles)} tile{'s' if len(tiles) > 1 else ''} of {args.size}x{args.size}, {renderer} renderer)")
    return 0


def _save_labels(model, source, poses, args: argparse.Namespace) -> None:
    """Write the label maps of ``poses`` side by side as an indexed PNG (ids as pixel values, the class palette)."""
    import numpy as np
    from PIL import Image

    from .bake import BakedScene

    labelled = source if isinstance(source, BakedScene) else source.scene  # depth from the grid, or the network
    maps = [model.render_labels(labelled, p.yaw, p.pitch, p.fov, args.size) for p in poses]
    strip = Image.fromarray(np.concatenate(maps, axis=1), mode="P")
    scheme = source.scene.mask.scheme
    strip.putpalette(scheme.palette_array().reshape(-1).tolist())
    Path(args.labels).parent.mkdir(parents=True, exist_ok=True)
    strip.save(args.labels)
    print(f"wrote {args.labels} (label map{'s' if len(maps) > 1 else ''} of {scheme.name} ids)")


def cmd_info(args: argparse.Namespace) -> int:
    import json

    model = _load_model(args.model, "cpu")
    print(json.dumps({"config": model._hub_mixin_config, "parameters": model.num_parameters()}, indent=2, default=str))
    return 0


def cmd_schemes(args: argparse.Namespace) -> int:
    from .labels import get_label_scheme, list_label_schemes

    for name in list_label_schemes():
        scheme = get_label_scheme(name)
        target = f" -> merges into {scheme.merge_into}" if scheme.merge_into else ""
        print(f"{name} ({scheme.num_classes} classes){target}: {scheme.description}")
        for i, (cls, col) in enumerate(zip(scheme.class_names, scheme.palette)):
            merged = f"  -> {scheme.merge_map[i]}" if scheme.merge_map else ""
            print(f"  {i:2d} {cls:<12s} rgb{col}{merged}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from .convert import convert_checkpoint, push_folder, upload_plan
    from .errors import Sem2NeRFError

    if args.dry_run and not args.push_to_hub:
        raise Sem2NeRFError("--dry-run shows what --push-to-hub would upload: pass --push-to-hub REPO_ID as well")
    report = convert_checkpoint(args.checkpoint, args.out, kind=args.kind, domain=args.domain, contour_skip=args.contour_skip,
                                overwrite=args.overwrite, repo_id=args.push_to_hub, license_id=args.license)
    print(report.summary())
    if args.push_to_hub and args.dry_run:
        print(upload_plan(args.out, args.push_to_hub, private=args.private))
    elif args.push_to_hub:
        print(f"uploaded {args.out} to {args.push_to_hub}: {push_folder(args.out, args.push_to_hub, private=args.private)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from .errors import Sem2NeRFError

    handlers = {"render": cmd_render, "info": cmd_info, "schemes": cmd_schemes, "convert": cmd_convert}
    if args.command == "synth":
        from .synthfaces import run_synth

        return run_synth(args)
    if args.command == "drawn":
        from .drawn import run_drawn

        return run_drawn(args)
    try:
        return handlers[args.command](args)
    except (Sem2NeRFError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
