"""How far an encoder's codes follow each SynthFaces parameter: the *gain* along its read-out target.

The encoder stage's ``encoder.latent`` (the former ``loss.latent_target=params_adjusted``) regresses, for every
mask, the linear read-out of its identity's generator-stage code from the identity's SynthFaces parameters. For
parameter k the read-out has a direction in code space (its change per standard deviation of k). This script
encodes SynthFaces masks, projects each code onto that direction and regresses the projection on the true
parameter: gain 1 means the code moves along the direction exactly as the target does, 0 that it ignores the
parameter. Read-outs are fitted by the trainer's own ``fit_readout_targets`` (``params_adjusted``, on the training
identities of the decoder's data set).

    python benchmarks/probe_codes.py --model runs/synthfaces_encoder/export \\
        --decoder runs/synthfaces_generator/export --masks data/synthfaces_extra160:test_paths.txt

Prints one row per mask-visible parameter and one column per mask set (``folder:id_list``, several allowed).
With ``--stats-fit FOLDER:ID_LIST`` it also prints, per mask set, the R^2 of a ridge regression from the masks'
region statistics (:func:`sem2nerf.encoder.region_statistics`, what the optional region head sees) to the
standardised parameters, fitted on that other set: how much of each parameter a linear map of them can tell.
With ``--oracle`` it also renders the exact read-out targets of the first example head and of its edits (the
encoder replaced by its targets) and prints their edit ratios, as ``eval_synthetic.py`` measures them: the most
that the decoder and the read-out allow an encoder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sem2nerf import Sem2NeRF
from sem2nerf.labels import get_label_scheme
from sem2nerf.synthfaces import FaceParams
from sem2nerf.training.data import MaskImageDataset
from sem2nerf.training.readout import ReadoutTargets, collect_region_statistics, fit_readout_targets, identity_code_targets


@torch.no_grad()
def encode_all(model: Sem2NeRF, dataset: MaskImageDataset, batch: int = 32) -> torch.Tensor:
    """``(N, 2 * code_dim)`` codes (latent average added) of every mask of ``dataset``."""
    codes = []
    for start in range(0, len(dataset), batch):
        x = torch.stack([dataset[j]["x"] for j in range(start, min(len(dataset), start + batch))]).to(model.device)
        freq, phase = model.encode_tensor(x)
        codes.append(torch.cat((freq, phase), 1).double().cpu())
    return torch.cat(codes)


def _slope(y: torch.Tensor, centred: torch.Tensor) -> float:
    """Least-squares slope of ``y`` on a centred regressor."""
    return float(((y - y.mean()) * centred).sum() / centred.pow(2).sum())


def gains(model: Sem2NeRF, targets: ReadoutTargets, scale: torch.Tensor, dataset: MaskImageDataset) -> dict[str, float]:
    """Per kept feature: the regression slope of the code's projection on its read-out direction against the
    feature, over the slope of the target's own projection (1 = follows the target exactly)."""
    readout = targets.readout
    codes = encode_all(model, dataset)
    feats = targets.features(dataset)[torch.tensor(dataset.identity)]
    true = readout.standardise(feats)
    scale = scale.double()
    coded = (codes - readout.code_mean) / scale
    target = (readout(feats).double() - readout.code_mean) / scale
    weights = readout.weights / scale  # (K, D): code change per standard deviation of each feature
    all_names = FaceParams.feature_names(targets.visible_only)
    names = [n for n, keep in zip(all_names, readout.keep.tolist(), strict=True) if keep]
    out = {}
    for k, name in enumerate(names):
        t = true[:, k] - true[:, k].mean()
        if float(t.pow(2).sum()) < 1e-9:
            continue
        direction = weights[k] / weights[k].pow(2).sum()
        out[name] = _slope(coded @ direction, t) / _slope(target @ direction, t)
    return out


def _stats_and_features(dataset: MaskImageDataset, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    stats, _ = collect_region_statistics([(dataset, None)], classes)
    feats = dataset.identity_features(visible_only=True, standardise=False)[torch.tensor(dataset.identity)].double()
    return stats, feats


def stats_r2(model: Sem2NeRF, fit: MaskImageDataset, probes: list[MaskImageDataset], ridge: float = 1.0) -> list[dict[str, float]]:
    """Per probe set: R^2 of each mask-visible parameter predicted by a ridge map from region statistics fitted on ``fit``."""
    classes = get_label_scheme(model.domain.input_scheme).num_classes
    x, y = _stats_and_features(fit, classes)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-9)
    design = lambda s: torch.cat(((s - mean) / std, torch.ones(len(s), 1, dtype=s.dtype)), 1)
    a = design(x)
    weights = torch.linalg.solve(a.T @ a + ridge * torch.eye(a.shape[1], dtype=a.dtype), a.T @ y)
    names = FaceParams.feature_names(visible_only=True)
    out = []
    for probe in probes:
        px, py = _stats_and_features(probe, classes)
        r2 = 1 - (design(px) @ weights - py).pow(2).mean(0) / py.var(0).clamp_min(1e-12)
        out.append({n: float(v) for n, v, var in zip(names, r2, py.var(0), strict=True) if var > 1e-12})
    return out


def oracle_edits(model: Sem2NeRF, targets: ReadoutTargets, examples: Path, size: int = 64, samples: int = 24) -> dict:
    """Edit ratios of the exact read-out targets for the first example identity and its edits (see the docstring)."""

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from eval_synthetic import edit_change, framed_labels, render

    from sem2nerf.masks import load_mask
    from sem2nerf.model import Scene
    from sem2nerf.synthfaces import apply_edit
    from sem2nerf.synthfaces.examples import example_identity

    base, pose, edits = example_identity(1)  # synth01, as write_example_masks draws it
    d = model.decoder.code_dim

    def scene_of(params) -> Scene:
        code = targets.readout(targets.param_features(params)).float().to(model.device)
        return Scene(code[:, :d], code[:, d:])

    def labels_of(name: str):
        return framed_labels(load_mask(examples / "masks" / f"{name}.png").labels, size, model.domain.name)

    base_rgb = render(model, scene_of(base), [pose], size, samples)[0][0]
    out = {}
    for edit in edits:
        rgb = render(model, scene_of(apply_edit(base, edit)), [pose], size, samples)[0][0]
        change = edit_change(labels_of("synth01"), labels_of(f"synth01_{edit}"), base_rgb, rgb)
        out[edit] = (change.inside, change.outside, change.ratio)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="encoder-stage export (a model folder)")
    parser.add_argument("--decoder", default="runs/synthfaces_generator/export",
                        help="its generator-stage export (with identity_latents.safetensors)")
    parser.add_argument("--data", default="data/synthfaces_default", help="the decoder's SynthFaces training set")
    parser.add_argument("--masks", nargs="+", default=["data/synthfaces_extra160:test_paths.txt"],
                        help="mask sets FOLDER:ID_LIST to probe (default: the extra masks' held-out list)")
    parser.add_argument("--limit", type=int, default=300, help="masks per set (default 300)")
    parser.add_argument("--stats-fit", default=None,
                        help="FOLDER:ID_LIST: also print the R^2 of a linear map of region statistics fitted there")
    parser.add_argument("--stats-fit-limit", type=int, default=1500, help="masks for that fit (default 1500)")
    parser.add_argument("--oracle", action="store_true", help="also render the exact targets of the example edits")
    parser.add_argument("--examples", default="examples", help="the examples folder (for --oracle)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = Sem2NeRF.from_pretrained(args.model).eval()
    common = {"domain": model.domain, "image_size": 64, "encoder_size": model.encoder_size,
              "use_contour": model.use_contour, "contour_skip": model.contour_skip}
    train_set = MaskImageDataset(root=args.data, id_list="train_paths.txt", **common)
    codes, scale = identity_code_targets(args.decoder, model.decoder, train_set)
    targets = fit_readout_targets(codes, train_set)
    if args.oracle:
        print("exact read-out targets rendered for the example edits (64 px, 24 + 24 samples):")
        for edit, (inside, outside, ratio) in oracle_edits(model, targets, Path(args.examples)).items():
            print(f"  synth01_{edit:<14} inside {inside:6.2f}  outside {outside:6.2f}  ratio {ratio:5.2f}")
    columns, probes = {}, []
    for spec in args.masks:
        folder, _, id_list = spec.partition(":")
        dataset = MaskImageDataset(root=folder, id_list=id_list or None, limit=args.limit, **common)
        probes.append(dataset)
        columns[f"gain {spec}"] = gains(model, targets, scale, dataset)
    if args.stats_fit:
        folder, _, id_list = args.stats_fit.partition(":")
        fit = MaskImageDataset(root=folder, id_list=id_list or None, limit=args.stats_fit_limit, **common)
        for spec, r2 in zip(args.masks, stats_r2(model, fit, probes), strict=True):
            columns[f"stats R2 {spec}"] = r2
    visible = set(FaceParams.feature_names(visible_only=True))
    print(f"{'parameter':<18}" + "".join(f"{spec:>50}" for spec in columns))
    for name in next(iter(columns.values())):
        if name not in visible:
            continue
        print(f"{name:<18}" + "".join(f"{col.get(name, float('nan')):>50.2f}" for col in columns.values()))


if __name__ == "__main__":
    main()
