"""How far an encoder's codes follow each SynthFaces parameter: the *gain* along its read-out target.

The encoder stage's ``loss.latent_target=params_adjusted`` regresses, for every mask, the linear read-out of its
identity's generator-stage code from the identity's SynthFaces parameters. For parameter k the read-out has a
direction in code space (its change per standard deviation of k). This script encodes SynthFaces masks, projects
each code onto that direction and regresses the projection on the true parameter: gain 1 means the code moves
along the direction exactly as the target does, 0 that it ignores the parameter. Read-outs are fitted as the
trainer fits them (``fit_code_readout`` on the training identities of the decoder's data set).

    python benchmarks/probe_codes.py --model runs/synthfaces_encoder/export \\
        --decoder runs/synthfaces_generator/export --masks data/synthfaces_extra160:test_paths.txt

Prints one row per mask-visible parameter and one column per mask set (``folder:id_list``, several allowed).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sem2nerf import Sem2NeRF
from sem2nerf.synthfaces import HAIR_STYLES, HIDDEN_FIELDS, FaceParams, mean_hidden_params
from sem2nerf.training.data import MaskImageDataset
from sem2nerf.training.trainer import fit_code_readout, identity_code_targets


def feature_names() -> list[str]:
    """Names of :meth:`FaceParams.features` entries (colours per channel, the hair style one-hot)."""
    names = []
    for f in fields(FaceParams):
        default = getattr(FaceParams(), f.name)
        if f.name == "hair_style":
            names += [f"hair_{s}" for s in HAIR_STYLES]
        elif isinstance(default, tuple):
            names += [f"{f.name}.{c}" for c in "rgb"]
        else:
            names.append(f.name)
    return names


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


def gains(model: Sem2NeRF, readout, scale: torch.Tensor, hidden: dict, dataset: MaskImageDataset) -> dict[str, float]:
    """Per kept feature: the regression slope of the code's projection on its read-out direction against the
    feature, over the slope of the target's own projection (1 = follows the target exactly)."""
    codes = encode_all(model, dataset)
    ids = torch.tensor(dataset.identity)
    feats = dataset.identity_features(standardise=False, hidden=hidden)[ids]
    true = readout.standardise(feats)
    scale = scale.double()
    coded = (codes - readout.code_mean) / scale
    target = (readout(feats).double() - readout.code_mean) / scale
    weights = readout.weights / scale  # (K, D): code change per standard deviation of each feature
    names = [n for n, keep in zip(feature_names(), readout.keep.tolist(), strict=True) if keep]
    out = {}
    for k, name in enumerate(names):
        t = true[:, k] - true[:, k].mean()
        if float(t.pow(2).sum()) < 1e-9:
            continue
        direction = weights[k] / weights[k].pow(2).sum()
        out[name] = _slope(coded @ direction, t) / _slope(target @ direction, t)
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
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = Sem2NeRF.from_pretrained(args.model).eval()
    common = {"domain": model.domain, "image_size": 64, "encoder_size": model.encoder_size,
              "use_contour": model.use_contour, "contour_skip": model.contour_skip}
    train_set = MaskImageDataset(root=args.data, id_list="train_paths.txt", **common)
    targets, scale = identity_code_targets(args.decoder, model.decoder, train_set)
    trained = torch.tensor(sorted(set(train_set.identity)))
    params = train_set.identity_params()
    hidden = mean_hidden_params([params[k] for k in trained.tolist()])
    readout = fit_code_readout(train_set.identity_features(standardise=False)[trained], targets[trained])
    columns = {}
    for spec in args.masks:
        folder, _, id_list = spec.partition(":")
        dataset = MaskImageDataset(root=folder, id_list=id_list or None, limit=args.limit, **common)
        columns[spec] = gains(model, readout, scale, hidden, dataset)
    hidden_names = {n for n in feature_names() if n.split(".")[0] in HIDDEN_FIELDS}
    print(f"{'parameter':<18}" + "".join(f"{spec:>42}" for spec in columns))
    for name in next(iter(columns.values())):
        if name in hidden_names:
            continue
        print(f"{name:<18}" + "".join(f"{col.get(name, float('nan')):>42.2f}" for col in columns.values()))


if __name__ == "__main__":
    main()
