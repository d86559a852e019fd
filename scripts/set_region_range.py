"""Set the clamp ranges of a trained encoder's region head from its training masks, in place.

The trainer sets ``encoder.region_low`` / ``encoder.region_high`` (the range of the region statistics over the
training masks) before the first step, together with the head's standardisation, and ``encoder.region_out_low`` /
``encoder.region_out_high`` (the range of the head's output over the same masks) at export. Models trained before
a range existed load without it (it clamps nothing); this script sets both from the same masks as the trainer reads
(``data.root`` with ``data.train_list`` and ``data.latent_extra`` of the encoder config), after checking that the
statistics it recomputes give the model's own standardisation (the same masks). Both clamps are the identity on
every training mask, so training with them would have given the same weights.

    python scripts/set_region_range.py --model runs/synthfaces_encoder/export --config configs/synthfaces_encoder.yaml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sem2nerf import ModelLoadError, Sem2NeRF
from sem2nerf.encoder import SwinEncoder
from sem2nerf.training import load_config
from sem2nerf.training.data import MaskImageDataset
from sem2nerf.training.trainer import collect_region_statistics, region_buffers, region_output_buffers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model folder (its model.safetensors is rewritten)")
    parser.add_argument("--config", required=True, help="the encoder-stage config it was trained with")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    folder = Path(args.model)
    path = folder / "model.safetensors"
    try:
        model = Sem2NeRF.from_pretrained(folder)
    except ModelLoadError as err:
        parser.error(str(err))
    encoder = model.encoder
    if encoder.region_head is None:
        parser.error(f"{args.model} has no region head (encoder_region_stats is off)")
    common = {"domain": model.domain, "image_size": config.data.image_size, "encoder_size": model.encoder_size,
              "use_contour": model.use_contour, "contour_skip": model.contour_skip, "id_list": config.data.train_list}
    sources = [(MaskImageDataset(root=config.data.root, **common), None)]
    if config.data.latent_extra:
        sources.append((MaskImageDataset(root=config.data.latent_extra, **common), None))
    stats, _ = collect_region_statistics(sources, encoder.region_classes, workers=config.data.workers)
    buffers = region_buffers(stats)
    if not all(torch.allclose(buffers[name].float(), getattr(encoder, name), atol=1e-6) for name in ("region_mean", "region_std")):
        print(f"error: the {len(stats)} masks of {args.config} do not give this model's standardisation: not its "
              "training masks", file=sys.stderr)
        return 2
    with torch.no_grad():
        for name in ("region_low", "region_high"):
            getattr(encoder, name).copy_(buffers[name])
        buffers.update(region_output_buffers(encoder, stats))
    state = load_file(path)
    for name in SwinEncoder.UNBOUNDED_BUFFERS:
        state[f"encoder.{name}"] = buffers[name].float().contiguous()
    save_file(state, path)
    print(f"set the region head's input and output ranges of {path} from {len(stats)} training masks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
