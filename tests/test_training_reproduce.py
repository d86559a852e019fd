"""The shipped training configs train the same weights as before (a guard for refactors of sem2nerf.training).

Each shipped config (``configs/*.yaml``; the tiny one in both stages) runs four steps on a tiny SynthFaces set (or
a CatMask-layout copy of it) on the CPU, shrunk to a tiny network and patch but with its own losses, optimiser,
schedule and options. Each case must log the recorded losses at every step and export weights with the recorded
summary (per tensor: its sum and L2 norm), both within a relative tolerance of 2e-3 (the discriminator's R1 penalty
and loss 3e-2): robust to another CPU's float rounding, sensitive to a change of behaviour. Measured between an
Intel Xeon and an AMD EPYC machine (the recording's and another): weights up to 3.4e-4 apart, losses up to 2e-4,
``r1`` (a squared gradient norm, second derivatives) up to 6.7e-3 and ``d_gan`` up to 3.3e-3 in these four steps. LPIPS (no AlexNet weights offline) is replaced by a fixed
parameter-free stand-in, so its path runs too. A failure names the export's SHA digest as well (equal digests: the
same bits).

Re-record (only for an intended change of behaviour, and say so in the commit):
``SEM2NERF_RECORD_REPRO=/tmp/repro.json python -m pytest -q tests/test_training_reproduce.py``, then paste the
JSON file's content into ``EXPECTED``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from torch import nn

from sem2nerf.decoder import PiGANDecoder
from sem2nerf.decoder_folder import save_decoder
from sem2nerf.domains import read_pose_file, write_pose_file
from sem2nerf.labels import get_label_scheme
from sem2nerf.training import load_config

ROOT = Path(__file__).resolve().parents[1]

# Layout-independent shrinking: tiny data, network, patches and validation; four steps.
SHRINK = [
    "data.image_size=32", "data.workers=0", "data.val_samples=1",
    "model.encoder_size=32", "model.encoder_embed_dim=16", "model.encoder_depths=[1,1]", "model.encoder_num_heads=[1,2]",
    "model.encoder_window_size=4", "model.decoder_hidden_dim=32", "model.decoder_num_layers=3", "model.decoder_z_dim=16",
    "model.decoder_mapping_hidden_dim=32", "model.decoder_mapping_depth=2", "model.latent_avg_samples=64",
    "render.num_samples=6", "render.patch_resolution=16", "render.val_size=16", "render.val_samples=4",
    "train.max_steps=4", "train.batch_size=2", "train.log_every=1", "train.val_every=1000", "train.save_every=1000",
]

# name: (config file, data set, decoder folder or None, overrides in the config's layout)
CASES = {
    "celebamask_hq": ("celebamask_hq.yaml", "synth", "decoder", []),
    "catmask": ("catmask.yaml", "cat", "cat_decoder", []),
    "synthfaces_encoder": ("synthfaces_encoder.yaml", "synth", "decoder",
                           ["encoder.latent.warmup_steps=1", "encoder.latent.extra.root={extra}", "encoder.latent.extra.batch=4",
                            "loss.silhouette=1"]),  # the recording's weight (default model 3's config has 3)
    "synthfaces_generator": ("synthfaces_generator.yaml", "synth", None, ["generator.geometry.points=32"]),
    "synthfaces_tiny": ("synthfaces_tiny.yaml", "synth", "decoder", []),
    "synthfaces_tiny_generator": ("synthfaces_tiny.yaml", "synth", None, ["stage=generator"]),
}
DECODER_KEY = "decoder"  # where an encoder-stage config names its frozen decoder

# EXPECTED (the recording) is at the end of this module.


class _FixedLPIPS(nn.Module):
    """A deterministic, parameter-free stand-in for LPIPS: ``(B, 1, 1, 1)`` mean absolute error."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a - b).abs().mean(dim=(1, 2, 3), keepdim=True)


@pytest.fixture(scope="module")
def repro(tmp_path_factory) -> dict[str, Path]:
    """The data sets and decoder folders of the cases."""
    from sem2nerf.synthfaces import generate_dataset
    from sem2nerf.training.data import MaskImageDataset

    base = tmp_path_factory.mktemp("repro")
    synth, extra, cat = base / "synth", base / "extra", base / "cat"
    generate_dataset(synth, identities=6, views=3, size=40, seed=3, workers=1)
    generate_dataset(extra, identities=2, views=1, size=40, seed=11, test_fraction=0.0, workers=1)
    # CatMask layout: the same frames, raw CatMask ids, the CatMask pose format, no identities
    (cat / "images").mkdir(parents=True)
    (cat / "masks").mkdir()
    classes = get_label_scheme("catmask_raw").num_classes
    for image in sorted((synth / "CelebA-HQ-img").iterdir()):
        shutil.copy(image, cat / "images" / image.name)
        labels = np.asarray(Image.open(synth / "masks" / f"{image.stem}.png"))
        Image.fromarray((labels % classes).astype(np.uint8), mode="L").save(cat / "masks" / f"{image.stem}.png")
    write_pose_file(cat / "pose-pseudo.txt", read_pose_file(synth / "CelebAMask-HQ-pose-anno.txt"), "catmask")
    for name in ("train_paths.txt", "test_paths.txt"):
        shutil.copy(synth / name, cat / name)
    # frozen decoders: seeded random weights; the face one with identity latents for encoder.latent
    names = MaskImageDataset(synth, "celebamask_hq", "train_paths.txt", 32, encoder_size=None).identity_names
    torch.manual_seed(5)
    face = PiGANDecoder(hidden_dim=32, num_layers=3, z_dim=16, mapping_hidden_dim=32, mapping_depth=2)
    z = torch.randn(len(names), 16, generator=torch.Generator().manual_seed(6))
    save_decoder(face, base / "decoder", domain="celebamask_hq", identity_latents=(names, z))
    torch.manual_seed(7)
    save_decoder(PiGANDecoder(hidden_dim=32, num_layers=3, z_dim=16, mapping_hidden_dim=32, mapping_depth=2),
                 base / "cat_decoder", domain="catmask")
    return {"synth": synth, "extra": extra, "cat": cat, "decoder": base / "decoder", "cat_decoder": base / "cat_decoder"}


RTOL = 2e-3
LOOSE_RTOL = {"r1": 3e-2, "d_gan": 3e-2}  # the discriminator's: second derivatives move more with the CPU's rounding
LOG_RESOLUTION = 1.01e-6  # metrics.jsonl rounds to 6 decimals: a logged value may move by one unit of that


def weight_summary(export: Path) -> dict[str, list[float]]:
    """Per tensor of the export's ``*.safetensors`` files (``file:key``): ``[sum, L2 norm]`` in float64."""
    summary = {}
    for path in sorted(export.glob("*.safetensors")):
        for key, value in sorted(load_file(path).items()):
            v = value.double()
            summary[f"{path.name}:{key}"] = [float(v.sum()), float(v.norm())]
    return summary


def export_digest(export: Path) -> str:
    """SHA-256 of every tensor of the export's ``*.safetensors`` files (by file, then key)."""
    h = hashlib.sha256()
    for path in sorted(export.glob("*.safetensors")):
        for key, value in sorted(load_file(path).items()):
            h.update(f"{path.name}:{key}".encode())
            h.update(value.contiguous().numpy().tobytes())
    return h.hexdigest()[:32]


def run_case(name: str, repro: dict[str, Path], out: Path, monkeypatch) -> tuple[str, dict, list[dict]]:
    """Train case ``name`` into ``out``: (digest of the export, its weight summary, the logged losses of every step)."""
    from sem2nerf.training import trainer

    file, data, decoder, extra = CASES[name]
    overrides = [f"data.root={repro[data]}", f"output_dir={out}", *SHRINK,
                 *(o.format(extra=repro["extra"]) for o in extra)]
    if decoder is not None:
        overrides.append(f"{DECODER_KEY}={repro[decoder]}")
    monkeypatch.setattr(trainer, "load_lpips", lambda device="cpu": _FixedLPIPS())
    torch.set_num_threads(2)
    export = trainer.train(load_config(ROOT / "configs" / file, overrides))
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [{k: v for k, v in r.items() if k not in ("time", "elapsed_s", "steps_per_s")} for r in records if "total" in r]
    return export_digest(export), weight_summary(export), steps


def _close(recorded: float, new: float, scale: float = 0.0, rtol: float = RTOL) -> bool:
    """Within ``rtol`` of the larger magnitude (or of ``scale``, where that is larger)."""
    return abs(new - recorded) <= rtol * max(abs(recorded), abs(new), scale)


def _differences(recorded, new, where: str = "") -> list[str]:
    """Where ``new`` differs from ``recorded`` (numbers by ``RTOL``, the keys of ``LOOSE_RTOL`` by theirs, anything else
    exactly), as readable lines."""
    if isinstance(recorded, dict) and isinstance(new, dict):
        out = [f"{where}{k}: missing" for k in recorded if k not in new]
        out += [f"{where}{k}: not recorded" for k in new if k not in recorded]
        for k in recorded:
            if k in new:
                out += _differences(recorded[k], new[k], f"{where}{k}.")
        return out
    if isinstance(recorded, list) and isinstance(new, list):
        if len(recorded) != len(new):
            return [f"{where.rstrip('.')}: {len(new)} entries, recorded {len(recorded)}"]
        return [d for i, (a, b) in enumerate(zip(recorded, new)) for d in _differences(a, b, f"{where}{i}.")]
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (recorded, new))
    rtol = LOOSE_RTOL.get(where.rstrip(".").rsplit(".", 1)[-1], RTOL)
    if recorded == new or (numbers and _close(recorded, new, LOG_RESOLUTION / rtol, rtol)):
        return []
    return [f"{where.rstrip('.')}: {new!r}, recorded {recorded!r}"]


def _weight_differences(recorded: dict, new: dict) -> list[str]:
    """Tensors whose ``[sum, norm]`` differ by more than ``RTOL`` (a sum relative to the tensor's norm: a sum near 0
    is all cancellation)."""
    out = [f"weights.{k}: missing" for k in recorded if k not in new]
    out += [f"weights.{k}: not recorded" for k in new if k not in recorded]
    for k in sorted(set(recorded) & set(new)):
        (s0, n0), (s1, n1) = recorded[k], new[k]
        if not (_close(s0, s1, n0) and _close(n0, n1)):
            out.append(f"weights.{k}: [sum, norm] {[s1, n1]}, recorded {[s0, n0]}")
    return out


def test_comparisons_apply_the_relative_tolerance():
    """Numbers compare relative to their size: 1e-3 off passes, 1e-2 off fails (the discriminator's r1 and d_gan: 2e-2
    passes, 5e-2 fails); keys and lengths must match."""
    assert _differences({"a": [1.0, 2.0]}, {"a": [1.001, 2.0]}) == []
    assert _differences({"a": [1.0, 2.0]}, {"a": [1.01, 2.0]}) == ["a.0: 1.01, recorded 1.0"]
    assert _differences({"r1": 1.0}, {"r1": 1.02}) == [] and _differences({"r1": 1.0}, {"r1": 1.05}) == ["r1: 1.05, recorded 1.0"]
    assert _differences({"a": 1}, {"b": 1}) == ["a: missing", "b: not recorded"]
    assert _differences([1, 2], [1]) == [": 1 entries, recorded 2"]
    assert _differences({"w": 4e-05}, {"w": 4.1e-05}) == []  # one unit of the logger's rounding
    assert _differences({"w": 4e-05}, {"w": 4.3e-05}) == ["w: 4.3e-05, recorded 4e-05"]
    assert _weight_differences({"t": [1e-9, 3.0]}, {"t": [2e-9, 3.0]}) == []  # a sum of ~0 against a norm of 3
    assert _weight_differences({"t": [1.0, 3.0]}, {"t": [1.0, 3.03]}) == ["weights.t: [sum, norm] [1.0, 3.03], recorded [1.0, 3.0]"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_shipped_config_trains_the_recorded_weights(name, repro, tmp_path, monkeypatch):
    digest, weights, steps = run_case(name, repro, tmp_path, monkeypatch)
    record = os.environ.get("SEM2NERF_RECORD_REPRO")  # a JSON file to collect the results in instead of checking
    if record:
        results = json.loads(Path(record).read_text()) if Path(record).is_file() else {}
        results[name] = {"digest": digest, "steps": steps, "weights": weights}
        Path(record).write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        return
    expected = EXPECTED.get(name)
    assert expected is not None, f"{name}: nothing recorded (digest {digest})"
    differences = _differences(expected["steps"], steps, "steps.") + _weight_differences(expected["weights"], weights)
    assert not differences, (f"{name}: {len(differences)} values differ from the recording (export digest {digest}, "
                             f"recorded {expected['digest']}):\n" + "\n".join(differences[:20]))


# Recorded with the training package of commit 0aac5a9 (before the stage objects and the nested config):
# per case the
# export's SHA digest, every step's logged losses and per tensor of the export [sum, L2 norm].
EXPECTED: dict[str, dict] = {
    "catmask": {
        "digest": "347ee260d6adc90d5c319b8563fa727a",
        "steps": [
            {"d_gan": 0.156675, "g_gan": 0.052832, "lr": 0.0001, "r1": 4.37697, "step": 1, "total": 0.052832, "w_norm": 0.0},
            {"d_gan": 0.12746, "g_gan": 0.068294, "lr": 0.0001, "r1": 4.098522, "step": 2, "total": 0.068295, "w_norm": 0.0},
            {"d_gan": 0.14694, "g_gan": 0.050126, "l2": 0.701874, "lpips": 0.593213, "lr": 0.0001, "psnr_patch": 7.558069, "r1": 4.614576, "step": 3, "total": 1.345214, "w_norm": 0.0},
            {"d_gan": 0.120834, "g_gan": 0.050935, "l2": 0.728049, "lpips": 0.576413, "lr": 0.0001, "psnr_patch": 7.400129, "r1": 3.99492, "step": 4, "total": 1.355397, "w_norm": 0.0},
        ],
        "weights": {
            "model.safetensors:decoder.color_film.bias": [1.257494201301597, 0.5409070302714144],
            "model.safetensors:decoder.color_film.weight": [-0.6010858171302971, 0.3217653513771107],
            "model.safetensors:decoder.color_out.bias": [0.07706399820744991, 0.1522424441421841],
            "model.safetensors:decoder.color_out.weight": [0.11101639032131061, 0.10688640093055686],
            "model.safetensors:decoder.density.bias": [-0.0571734644472599, 0.0571734644472599],
            "model.safetensors:decoder.density.weight": [0.05537336750421673, 0.05498066600914302],
            "model.safetensors:decoder.mapping.network.0.bias": [-0.036095768213272095, 0.7447387624104156],
            "model.safetensors:decoder.mapping.network.0.weight": [-2.0864857532433234, 7.692746569562959],
            "model.safetensors:decoder.mapping.network.2.bias": [0.6914143663598225, 0.597329636098162],
            "model.safetensors:decoder.mapping.network.2.weight": [-1.8358190037833992, 7.707290551605964],
            "model.safetensors:decoder.mapping.network.4.bias": [1.6191820033127442, 1.5368390443124778],
            "model.safetensors:decoder.mapping.network.4.weight": [-6.198858478906004, 5.576619710241548],
            "model.safetensors:decoder.trunk.0.bias": [-2.565407176502049, 1.7874070957675883],
            "model.safetensors:decoder.trunk.0.weight": [-2.0708626424893737, 1.8110555807325956],
            "model.safetensors:decoder.trunk.1.bias": [-0.005324999336153269, 0.6182723352165951],
            "model.safetensors:decoder.trunk.1.weight": [0.1035451143410171, 0.3275227110749218],
            "model.safetensors:decoder.trunk.2.bias": [1.4298731964081526, 0.6978933026607537],
            "model.safetensors:decoder.trunk.2.weight": [-0.06959619035586684, 0.3180476595814234],
            "model.safetensors:encoder.head.fc.bias": [-1.9475992017042865e-08, 1.0729352833873936e-07],
            "model.safetensors:encoder.head.fc.weight": [5.531339275499647e-14, 6.863533760009054e-07],
            "model.safetensors:encoder.layers.0.blocks.0.attn.proj.bias": [-1.1011428314305904e-20, 3.583968770059589e-13],
            "model.safetensors:encoder.layers.0.blocks.0.attn.proj.weight": [0.23293623542485875, 0.33165992236228076],
            "model.safetensors:encoder.layers.0.blocks.0.attn.qkv.bias": [7.60457054987028e-15, 2.4074028719987882e-14],
            "model.safetensors:encoder.layers.0.blocks.0.attn.qkv.weight": [-0.6831436022912385, 0.5629551972977122],
            "model.safetensors:encoder.layers.0.blocks.0.attn.relative_position_bias_table": [-0.10203037509927526, 0.14370721849431234],
            "model.safetensors:encoder.layers.0.blocks.0.mlp.fc1.bias": [-4.6588258540092853e-14, 2.4460410180513674e-14],
            "model.safetensors:encoder.layers.0.blocks.0.mlp.fc1.weight": [-0.4927027875528438, 0.6318473189399267],
            "model.safetensors:encoder.layers.0.blocks.0.mlp.fc2.bias": [1.7787691892340307e-20, 3.58355252266578e-13],
            "model.safetensors:encoder.layers.0.blocks.0.mlp.fc2.weight": [-0.5965048281577765, 0.6483820235812259],
            "model.safetensors:encoder.layers.0.blocks.0.norm1.bias": [1.2621908633619981e-15, 1.6657036573382736e-15],
            "model.safetensors:encoder.layers.0.blocks.0.norm1.weight": [16.0, 4.0],
            "model.safetensors:encoder.layers.0.blocks.0.norm2.bias": [6.239751585754549e-16, 1.894991152109402e-15],
            "model.safetensors:encoder.layers.0.blocks.0.norm2.weight": [16.0, 4.0],
            "model.safetensors:encoder.layers.1.blocks.0.attn.proj.bias": [-6.844026213814747e-19, 2.4844775078304052e-12],
            "model.safetensors:encoder.layers.1.blocks.0.attn.proj.weight": [0.5201763119293901, 0.6664279855325471],
            "model.safetensors:encoder.layers.1.blocks.0.attn.qkv.bias": [4.262328554627856e-13, 2.9839610227203214e-13],
            "model.safetensors:encoder.layers.1.blocks.0.attn.qkv.weight": [0.2317785683436, 1.09936965047516],
            "model.safetensors:encoder.layers.1.blocks.0.attn.relative_position_bias_table": [-0.22568569862050936, 0.19266571840348357],
            "model.safetensors:encoder.layers.1.blocks.0.mlp.fc1.bias": [-3.126272384524614e-14, 2.8030008436658226e-13],
            "model.safetensors:encoder.layers.1.blocks.0.mlp.fc1.weight": [0.5057961248639913, 1.2975080648858341],
            "model.safetensors:encoder.layers.1.blocks.0.mlp.fc2.bias": [-9.520650327138336e-19, 2.199824914337475e-12],
            "model.safetensors:encoder.layers.1.blocks.0.mlp.fc2.weight": [-2.5508931945151403, 1.2948729380926318],
            "model.safetensors:encoder.layers.1.blocks.0.norm1.bias": [-4.443742073200561e-15, 3.176613396417207e-14],
            "model.safetensors:encoder.layers.1.blocks.0.norm1.weight": [32.0, 5.656854249492381],
            "model.safetensors:encoder.layers.1.blocks.0.norm2.bias": [5.6728533717529105e-14, 3.0221241300539704e-14],
            "model.safetensors:encoder.layers.1.blocks.0.norm2.weight": [32.0, 5.656854249492381],
            "model.safetensors:encoder.layers.1.downsample.norm.bias": [-4.903279735699235e-13, 3.5752414157257996e-13],
            "model.safetensors:encoder.layers.1.downsample.norm.weight": [64.0, 8.0],
            "model.safetensors:encoder.layers.1.downsample.reduction.weight": [1.2690311072656186, 0.8898472508314015],
            "model.safetensors:encoder.norm.bias": [2.507217523872729e-19, 1.5384222722424076e-12],
            "model.safetensors:encoder.norm.weight": [32.0, 5.656854249492381],
            "model.safetensors:encoder.patch_embed.norm.bias": [-6.860966872759833e-20, 3.5856862896947135e-13],
            "model.safetensors:encoder.patch_embed.norm.weight": [16.0, 4.0],
            "model.safetensors:encoder.patch_embed.proj.bias": [0.3664936050772667, 0.18956367574067876],
            "model.safetensors:encoder.patch_embed.proj.weight": [1.8521805806958582, 2.283619879534986],
            "model.safetensors:latent_avg_freq": [0.5599323276546784, 2.427910629583591],
            "model.safetensors:latent_avg_phase": [-1.5956337802344933, 2.2507451025306273],
        },
    },
    "celebamask_hq": {
        "digest": "e0871dc83f779703cd6446de0eb19bad",
        "steps": [
            {"d_gan": 0.09893, "g_gan": 0.091248, "l2": 0.318966, "lpips": 0.3964, "lr": 0.0001, "psnr_patch": 11.001869, "r1": 2.987299, "step": 1, "total": 0.806613, "w_norm": 0.0},
            {"d_gan": 0.100799, "g_gan": 0.091715, "lr": 0.0001, "r1": 2.418631, "step": 2, "total": 0.091718, "w_norm": 3e-06},
            {"d_gan": 0.099554, "g_gan": 0.090795, "l2": 0.305124, "lpips": 0.390886, "lr": 0.0001, "psnr_patch": 11.178411, "r1": 3.430935, "step": 3, "total": 0.786809, "w_norm": 5e-06},
            {"d_gan": 0.15194, "g_gan": 0.048209, "l2": 0.358527, "lpips": 0.431794, "lr": 0.0001, "psnr_patch": 10.63707, "r1": 3.82604, "step": 4, "total": 0.838536, "w_norm": 6e-06},
        ],
        "weights": {
            "model.safetensors:decoder.color_film.bias": [-0.4604447993915528, 0.4938138169042947],
            "model.safetensors:decoder.color_film.weight": [0.39202743615487634, 0.32430495114269475],
            "model.safetensors:decoder.color_out.bias": [-0.005891244858503342, 0.09028093877240606],
            "model.safetensors:decoder.color_out.weight": [0.025490235988399945, 0.09996575555559695],
            "model.safetensors:decoder.density.bias": [0.06696851551532745, 0.06696851551532745],
            "model.safetensors:decoder.density.weight": [0.08749719560728408, 0.054534496920807085],
            "model.safetensors:decoder.mapping.network.0.bias": [0.2126867175102234, 0.8624616518728948],
            "model.safetensors:decoder.mapping.network.0.weight": [-8.48491443390958, 7.900808429521545],
            "model.safetensors:decoder.mapping.network.2.bias": [-0.0114654831122607, 0.47390856148548305],
            "model.safetensors:decoder.mapping.network.2.weight": [-5.280553066986613, 7.8563360251712755],
            "model.safetensors:decoder.mapping.network.4.bias": [-0.8898300584405661, 1.578081428782183],
            "model.safetensors:decoder.mapping.network.4.weight": [-3.814533217184362, 5.572494471095865],
            "model.safetensors:decoder.trunk.0.bias": [-0.8303980906493962, 1.8361460545859496],
            "model.safetensors:decoder.trunk.0.weight": [0.29599761962890625, 1.9814146776491048],
            "model.safetensors:decoder.trunk.1.bias": [0.07329519191989675, 0.610511378870003],
            "model.safetensors:decoder.trunk.1.weight": [-0.33697300085623283, 0.31674678350261887],
            "model.safetensors:decoder.trunk.2.bias": [-0.20967380376532674, 0.5436921100713249],
            "model.safetensors:decoder.trunk.2.weight": [0.2012003541485683, 0.3209193988743397],
            "model.safetensors:encoder.head.fc.bias": [-4.223247382206807e-05, 6.736115139239601e-05],
            "model.safetensors:encoder.head.fc.weight": [1.1616485551257938e-11, 0.0003166013766483346],
            "model.safetensors:encoder.layers.0.blocks.0.attn.proj.bias": [-3.122502256758253e-17, 7.260416507148985e-10],
            "model.safetensors:encoder.layers.0.blocks.0.attn.proj.weight": [-0.1255769733543275, 0.3150903613151909],
            "model.safetensors:encoder.layers.0.blocks.0.attn.qkv.bias": [1.468954998931213e-11, 5.419499321250567e-11],
            "model.safetensors:encoder.layers.0.blocks.0.attn.qkv.weight": [-0.470927854803449, 0.5666721386388802],
            "model.safetensors:encoder.layers.0.blocks.0.attn.relative_position_bias_table": [-0.10488357137364801, 0.12625275335719868],
            "model.safetensors:encoder.layers.0.blocks.0.mlp.fc1.bias": [5.167578387768601e-11, 5.215818058010117e-11],
            "model.safetensors:encoder.layers.0.blocks.0.mlp.fc1.weight": [0.7081235777950496, 0.621463796911876],
            "model.safetensors:encoder.layers.0.blocks.0.mlp.fc2.bias": [-9.8879238130678e-17, 7.271583661917194e-10],
            "model.safetensors:encoder.layers.0.blocks.0.mlp.fc2.weight": [0.5609075294560171, 0.6368758740446084],
            "model.safetensors:encoder.layers.0.blocks.0.norm1.bias": [-3.949528096063026e-12, 4.0095676002860115e-12],
            "model.safetensors:encoder.layers.0.blocks.0.norm1.weight": [16.0, 4.0],
            "model.safetensors:encoder.layers.0.blocks.0.norm2.bias": [2.4508141420161514e-12, 3.6857141172799734e-12],
            "model.safetensors:encoder.layers.0.blocks.0.norm2.weight": [16.0, 4.0],
            "model.safetensors:encoder.layers.1.blocks.0.attn.proj.bias": [1.124100812432971e-15, 3.859633688007072e-09],
            "model.safetensors:encoder.layers.1.blocks.0.attn.proj.weight": [0.6019864133340889, 0.6608290425940224],
            "model.safetensors:encoder.layers.1.blocks.0.attn.qkv.bias": [-1.5689756533867698e-10, 4.118095488066903e-10],
            "model.safetensors:encoder.layers.1.blocks.0.attn.qkv.weight": [0.583698326404658, 1.126774841282956],
            "model.safetensors:encoder.layers.1.blocks.0.attn.relative_position_bias_table": [0.013525961840059608, 0.19414851007225667],
            "model.safetensors:encoder.layers.1.blocks.0.mlp.fc1.bias": [-3.939398784394074e-10, 5.272063129031485e-10],
            "model.safetensors:encoder.layers.1.blocks.0.mlp.fc1.weight": [-1.4252474855707078, 1.2976146265507564],
            "model.safetensors:encoder.layers.1.blocks.0.mlp.fc2.bias": [9.43689570931383e-16, 4.3778165865552436e-09],
            "model.safetensors:encoder.layers.1.blocks.0.mlp.fc2.weight": [-1.4919574048819868, 1.2764074878166733],
            "model.safetensors:encoder.layers.1.blocks.0.norm1.bias": [-7.237661435888915e-11, 5.532798707679689e-11],
            "model.safetensors:encoder.layers.1.blocks.0.norm1.weight": [32.0, 5.656854249492381],
            "model.safetensors:encoder.layers.1.blocks.0.norm2.bias": [-2.2113718950618477e-11, 5.4206374152239167e-11],
            "model.safetensors:encoder.layers.1.blocks.0.norm2.weight": [32.0, 5.656854249492381],
            "model.safetensors:encoder.layers.1.downsample.norm.bias": [1.743487815057676e-10, 5.789562724697312e-10],
            "model.safetensors:encoder.layers.1.downsample.norm.weight": [64.0, 8.0],
            "model.safetensors:encoder.layers.1.downsample.reduction.weight": [0.4504054637545778, 0.8941223835583868],
            "model.safetensors:encoder.norm.bias": [-1.8214596497756474e-17, 3.9921321451925923e-10],
            "model.safetensors:encoder.norm.weight": [32.0, 5.656854249492381],
            "model.safetensors:encoder.patch_embed.norm.bias": [-1.6479873021779667e-17, 7.268835261386017e-10],
            "model.safetensors:encoder.patch_embed.norm.weight": [16.0, 4.0],
            "model.safetensors:encoder.patch_embed.proj.bias": [-0.2290280454326421, 0.13801152616337437],
            "model.safetensors:encoder.patch_embed.proj.weight": [-1.1080859275061812, 2.276643116775161],
            "model.safetensors:latent_avg_freq": [-3.749235822353512, 2.535337545502581],
            "model.safetensors:latent_avg_phase": [-0.8184732642257586, 2.4279798780582684],
        },
    },
    "synthfaces_encoder": {
        "digest": "85c189ee5fa3b5c26b9cf587e6cfa25b",
        "steps": [
            {"latent": 0.016203, "latent_extra": 0.013906, "lr": 0.0002, "step": 1, "total": 0.042238, "w_norm": 0.012129},
            {"d_gan": 0.132475, "g_gan": 0.037816, "l2": 0.276587, "latent": 0.016375, "latent_extra": 0.003631, "lr": 0.000171, "psnr_patch": 10.883602, "r1": 2.762455, "silhouette": 0.069906, "step": 2, "total": 0.416585, "w_norm": 0.01227},
            {"d_gan": 0.141113, "g_gan": 0.036331, "l2": 0.310777, "latent": 0.000221, "latent_extra": 0.010965, "lr": 0.000101, "psnr_patch": 11.080869, "r1": 3.263835, "silhouette": 0.047804, "step": 3, "total": 0.418894, "w_norm": 0.012795},
            {"d_gan": 0.117201, "g_gan": 0.062217, "latent": 0.005004, "latent_extra": 0.005432, "lr": 3.1e-05, "r1": 3.375351, "step": 4, "total": 0.086238, "w_norm": 0.013585},
        ],
        "weights": {
            "model.safetensors:decoder.color_film.bias": [-0.4604447993915528, 0.4938138169042947],
            "model.safetensors:decoder.color_film.weight": [0.39202743615487634, 0.32430495114269475],
            "model.safetensors:decoder.color_out.bias": [-0.005891244858503342, 0.09028093877240606],
            "model.safetensors:decoder.color_out.weight": [0.025490235988399945, 0.09996575555559695],
            "model.safetensors:decoder.density.bias": [0.06696851551532745, 0.06696851551532745],
            "model.safetensors:decoder.density.weight": [0.08749719560728408, 0.054534496920807085],
            "model.safetensors:decoder.mapping.network.0.bias": [0.2126867175102234, 0.8624616518728948],
            "model.safetensors:decoder.mapping.network.0.weight": [-8.48491443390958, 7.900808429521545],
            "model.safetensors:decoder.mapping.network.2.bias": [-0.0114654831122607, 0.47390856148548305],
            "model.safetensors:decoder.mapping.network.2.weight": [-5.280553066986613, 7.8563360251712755],
            "model.safetensors:decoder.mapping.network.4.bias": [-0.8898300584405661, 1.578081428782183],
            "model.safetensors:decoder.mapping.network.4.weight": [-3.814533217184362, 5.572494471095865],
            "model.safetensors:decoder.trunk.0.bias": [-0.8303980906493962, 1.8361460545859496],
            "model.safetensors:decoder.trunk.0.weight": [0.29599761962890625, 1.9814146776491048],
            "model.safetensors:decoder.trunk.1.bias": [0.07329519191989675, 0.610511378870003],
            "model.safetensors:decoder.trunk.1.weight": [-0.33697300085623283, 0.31674678350261887],
            "model.safetensors:decoder.trunk.2.bias": [-0.20967380376532674, 0.5436921100713249],
            "model.safetensors:decoder.trunk.2.weight": [0.2012003541485683, 0.3209193988743397],
            "model.safetensors:encoder.head.fc.bias": [2.4184954472872278e-05, 2.5229610816550888e-05],
            "model.safetensors:encoder.head.fc.weight": [2.584488179024902e-12, 0.00012269915268545167],
            "model.safetensors:encoder.layers.0.blocks.0.attn.proj.bias": [3.903127820947816e-18, 1.3340361597135388e-10],
            "model.safetensors:encoder.layers.0.blocks.0.attn.proj.weight": [-0.12557697333977558, 0.3150903613151838],
            "model.safetensors:encoder.layers.0.blocks.0.attn.qkv.bias": [-1.2462710901456567e-12, 9.56887189544113e-12],
            "model.safetensors:encoder.layers.0.blocks.0.attn.qkv.weight": [-0.4709278548180009, 0.5666721386388714],
            "model.safetensors:encoder.layers.0.blocks.0.attn.relative_position_bias_table": [-0.10488357137364801, 0.12625275335719868],
            "model.safetensors:encoder.layers.0.blocks.0.mlp.fc1.bias": [1.4059836228477816e-11, 1.005877083769703e-11],
            "model.safetensors:encoder.layers.0.blocks.0.mlp.fc1.weight": [0.7081235778023256, 0.6214637969118711],
            "model.safetensors:encoder.layers.0.blocks.0.mlp.fc2.bias": [-8.673617379884035e-19, 1.333435999507962e-10],
            "model.safetensors:encoder.layers.0.blocks.0.mlp.fc2.weight": [0.560907529466931, 0.6368758740446091],
            "model.safetensors:encoder.layers.0.blocks.0.norm1.bias": [9.616360942068278e-13, 9.278446379467689e-13],
            "model.safetensors:encoder.layers.0.blocks.0.norm1.weight": [16.0, 4.0],
            "model.safetensors:encoder.layers.0.blocks.0.norm2.bias": [-6.45604300949414e-13, 7.120445651561275e-13],
            "model.safetensors:encoder.layers.0.blocks.0.norm2.weight": [16.0, 4.0],
            "model.safetensors:encoder.layers.1.blocks.0.attn.proj.bias": [-5.442694905877232e-17, 4.79061713943467e-10],
            "model.safetensors:encoder.layers.1.blocks.0.attn.proj.weight": [0.6019864143236191, 0.6608290425937488],
            "model.safetensors:encoder.layers.1.blocks.0.attn.qkv.bias": [1.3025101121801259e-10, 5.671783300063601e-11],
            "model.safetensors:encoder.layers.1.blocks.0.attn.qkv.weight": [0.5836983267172968, 1.1267748412823824],
            "model.safetensors:encoder.layers.1.blocks.0.attn.relative_position_bias_table": [0.013525961840059608, 0.19414851007225667],
            "model.safetensors:encoder.layers.1.blocks.0.mlp.fc1.bias": [-3.528785365314053e-11, 5.652159676504012e-11],
            "model.safetensors:encoder.layers.1.blocks.0.mlp.fc1.weight": [-1.4252474865338627, 1.2976146265501636],
            "model.safetensors:encoder.layers.1.blocks.0.mlp.fc2.bias": [3.7947076036992655e-17, 4.588982581806975e-10],
            "model.safetensors:encoder.layers.1.blocks.0.mlp.fc2.weight": [-1.4919574055369367, 1.2764074878161462],
            "model.safetensors:encoder.layers.1.blocks.0.norm1.bias": [4.423282832404559e-12, 7.0689657342370616e-12],
            "model.safetensors:encoder.layers.1.blocks.0.norm1.weight": [32.0, 5.656854249492381],
            "model.safetensors:encoder.layers.1.blocks.0.norm2.bias": [2.296779723332497e-12, 6.9225084421351765e-12],
            "model.safetensors:encoder.layers.1.blocks.0.norm2.weight": [32.0, 5.656854249492381],
            "model.safetensors:encoder.layers.1.downsample.norm.bias": [8.61156930812533e-11, 1.004573285803242e-10],
            "model.safetensors:encoder.layers.1.downsample.norm.weight": [64.0, 8.0],
            "model.safetensors:encoder.layers.1.downsample.reduction.weight": [0.45040547299504397, 0.8941223833836709],
            "model.safetensors:encoder.norm.bias": [7.936359902593892e-17, 1.6944276087024728e-10],
            "model.safetensors:encoder.norm.weight": [32.0, 5.656854249492381],
            "model.safetensors:encoder.patch_embed.norm.bias": [1.2576745200831851e-17, 1.3355121919767314e-10],
            "model.safetensors:encoder.patch_embed.norm.weight": [16.0, 4.0],
            "model.safetensors:encoder.patch_embed.proj.bias": [-0.22902804537443444, 0.13801152642224118],
            "model.safetensors:encoder.patch_embed.proj.weight": [-1.108085927367938, 2.2766431167797156],
            "model.safetensors:encoder.region_head.bias": [0.5522787036679802, 1.4015202107018907],
            "model.safetensors:encoder.region_head.weight": [1.3296953778322944, 1.1427295581214156],
            "model.safetensors:encoder.region_high": [21.39011427992955, 3.5924848970516585],
            "model.safetensors:encoder.region_low": [-3.559081947011009, 2.5424527554300016],
            "model.safetensors:encoder.region_mean": [9.318478474626318, 2.3510183650683003],
            "model.safetensors:encoder.region_out_high": [43.63336953520775, 3.251177498345008],
            "model.safetensors:encoder.region_out_low": [-44.26660590432584, 3.3369093703288946],
            "model.safetensors:encoder.region_std": [23.10006624320522, 4.1352425548386105],
            "model.safetensors:latent_avg_freq": [-3.749235822353512, 2.535337545502581],
            "model.safetensors:latent_avg_phase": [-0.8184732642257586, 2.4279798780582684],
        },
    },
    "synthfaces_generator": {
        "digest": "6484a3c4028ed4502737b34a946d6299",
        "steps": [
            {"geometry": 0.387571, "l2": 0.24113, "lr": 0.0002, "psnr_patch": 12.063824, "silhouette": 0.08097, "step": 1, "total": 0.710386, "z_reg": 0.000715},
            {"geometry": 0.475031, "lr": 0.000171, "step": 2, "total": 0.47555, "z_reg": 0.000519},
            {"geometry": 0.433254, "lr": 0.000101, "step": 3, "total": 0.434053, "z_reg": 0.000799},
            {"geometry": 0.551176, "l2": 0.282877, "lr": 3.1e-05, "psnr_patch": 11.432779, "silhouette": 0.006193, "step": 4, "total": 0.84076, "z_reg": 0.000514},
        ],
        "weights": {
            "decoder.safetensors:color_film.bias": [0.28788064094260335, 0.5664832122722553],
            "decoder.safetensors:color_film.weight": [0.6469705790823355, 0.31465051120033544],
            "decoder.safetensors:color_out.bias": [-0.12788673490285873, 0.1766140582504924],
            "decoder.safetensors:color_out.weight": [-0.0648980891564861, 0.09476308721491529],
            "decoder.safetensors:density.bias": [0.07141263782978058, 0.07141263782978058],
            "decoder.safetensors:density.weight": [-0.23803892824798822, 0.1358044257735493],
            "decoder.safetensors:mapping.network.0.bias": [-0.6006237659603357, 0.7158109680900692],
            "decoder.safetensors:mapping.network.0.weight": [8.587796615087427, 8.026201896294719],
            "decoder.safetensors:mapping.network.2.bias": [0.5301273096702062, 0.5779443098678562],
            "decoder.safetensors:mapping.network.2.weight": [14.451446595157904, 7.8644671945247495],
            "decoder.safetensors:mapping.network.4.bias": [-0.09094207097950857, 1.6464767599577634],
            "decoder.safetensors:mapping.network.4.weight": [-2.4044075493493438, 5.598056793664309],
            "decoder.safetensors:trunk.0.bias": [-2.0003267154097557, 1.8391743846876307],
            "decoder.safetensors:trunk.0.weight": [1.677982826004154, 1.9648873902545394],
            "decoder.safetensors:trunk.1.bias": [-0.8617810697760433, 0.5755637636056945],
            "decoder.safetensors:trunk.1.weight": [0.25600999357629917, 0.32023596204419585],
            "decoder.safetensors:trunk.2.bias": [0.14792577549815178, 0.645001474304644],
            "decoder.safetensors:trunk.2.weight": [-0.17783158150632516, 0.31384675156285835],
            "identity_latents.safetensors:z": [-1.6480065789073706, 7.485879873075539],
        },
    },
    "synthfaces_tiny": {
        "digest": "2feacd0155f2003b0dca147bad93b3d8",
        "steps": [
            {"d_gan": 0.14699, "g_gan": 0.04838, "l2": 0.270293, "lr": 0.001, "psnr_patch": 11.829857, "r1": 5.815943, "step": 1, "total": 0.318673, "w_norm": 0.0},
            {"d_gan": 0.098965, "g_gan": 0.079735, "l2": 0.324785, "lr": 0.001, "psnr_patch": 10.90941, "r1": 2.435019, "step": 2, "total": 0.404536, "w_norm": 1.6e-05},
            {"d_gan": 0.138238, "g_gan": 0.073702, "l2": 0.314773, "lr": 0.001, "psnr_patch": 11.118738, "r1": 3.715201, "step": 3, "total": 0.388502, "w_norm": 2.7e-05},
            {"d_gan": 0.122421, "g_gan": 0.084278, "lr": 0.001, "r1": 3.738629, "step": 4, "total": 0.084318, "w_norm": 4e-05},
        ],
        "weights": {
            "model.safetensors:decoder.color_film.bias": [-0.4604447993915528, 0.4938138169042947],
            "model.safetensors:decoder.color_film.weight": [0.39202743615487634, 0.32430495114269475],
            "model.safetensors:decoder.color_out.bias": [-0.005891244858503342, 0.09028093877240606],
            "model.safetensors:decoder.color_out.weight": [0.025490235988399945, 0.09996575555559695],
            "model.safetensors:decoder.density.bias": [0.06696851551532745, 0.06696851551532745],
            "model.safetensors:decoder.density.weight": [0.08749719560728408, 0.054534496920807085],
            "model.safetensors:decoder.mapping.network.0.bias": [0.2126867175102234, 0.8624616518728948],
            "model.safetensors:decoder.mapping.network.0.weight": [-8.48491443390958, 7.900808429521545],
            "model.safetensors:decoder.mapping.network.2.bias": [-0.0114654831122607, 0.47390856148548305],
            "model.safetensors:decoder.mapping.network.2.weight": [-5.280553066986613, 7.8563360251712755],
            "model.safetensors:decoder.mapping.network.4.bias": [-0.8898300584405661, 1.578081428782183],
            "model.safetensors:decoder.mapping.network.4.weight": [-3.814533217184362, 5.572494471095865],
            "model.safetensors:decoder.trunk.0.bias": [-0.8303980906493962, 1.8361460545859496],
            "model.safetensors:decoder.trunk.0.weight": [0.29599761962890625, 1.9814146776491048],
            "model.safetensors:decoder.trunk.1.bias": [0.07329519191989675, 0.610511378870003],
            "model.safetensors:decoder.trunk.1.weight": [-0.33697300085623283, 0.31674678350261887],
            "model.safetensors:decoder.trunk.2.bias": [-0.20967380376532674, 0.5436921100713249],
            "model.safetensors:decoder.trunk.2.weight": [0.2012003541485683, 0.3209193988743397],
            "model.safetensors:encoder.head.fc.bias": [0.00041163148740963607, 0.0004346044475547022],
            "model.safetensors:encoder.head.fc.weight": [2.233058182810055e-11, 0.00204889808864753],
            "model.safetensors:encoder.layers.0.blocks.0.attn.proj.bias": [1.9012569296705806e-15, 1.4068739998106225e-08],
            "model.safetensors:encoder.layers.0.blocks.0.attn.proj.weight": [-0.12557697578449734, 0.3150903615888104],
            "model.safetensors:encoder.layers.0.blocks.0.attn.qkv.bias": [1.7709708625408556e-10, 1.095174228721414e-09],
            "model.safetensors:encoder.layers.0.blocks.0.attn.qkv.weight": [-0.47092785438144347, 0.5666721386454953],
            "model.safetensors:encoder.layers.0.blocks.0.attn.relative_position_bias_table": [-0.10488357137364801, 0.12625275335719868],
            "model.safetensors:encoder.layers.0.blocks.0.mlp.fc1.bias": [-1.0635218673608893e-09, 1.1824619297582678e-09],
            "model.safetensors:encoder.layers.0.blocks.0.mlp.fc1.weight": [0.7081235769692285, 0.6214637969153423],
            "model.safetensors:encoder.layers.0.blocks.0.mlp.fc2.bias": [1.762479051592436e-15, 1.4052066918723313e-08],
            "model.safetensors:encoder.layers.0.blocks.0.mlp.fc2.weight": [0.560907527589734, 0.6368758740203249],
            "model.safetensors:encoder.layers.0.blocks.0.norm1.bias": [-1.054978869020895e-10, 9.932595679186273e-11],
            "model.safetensors:encoder.layers.0.blocks.0.norm1.weight": [16.0, 4.0],
            "model.safetensors:encoder.layers.0.blocks.0.norm2.bias": [1.4817476976305977e-10, 8.598030746909948e-11],
            "model.safetensors:encoder.layers.0.blocks.0.norm2.weight": [16.0, 4.0],
            "model.safetensors:encoder.layers.1.blocks.0.attn.proj.bias": [6.439293542825908e-15, 5.969305084173685e-08],
            "model.safetensors:encoder.layers.1.blocks.0.attn.proj.weight": [0.6019864205081831, 0.660829042306115],
            "model.safetensors:encoder.layers.1.blocks.0.attn.qkv.bias": [-2.595124890475764e-08, 7.541616856792698e-09],
            "model.safetensors:encoder.layers.1.blocks.0.attn.qkv.weight": [0.5836983246107366, 1.1267748406102844],
            "model.safetensors:encoder.layers.1.blocks.0.attn.relative_position_bias_table": [0.013525961840059608, 0.19414851007225667],
            "model.safetensors:encoder.layers.1.blocks.0.mlp.fc1.bias": [6.257104005064074e-09, 7.513252230491788e-09],
            "model.safetensors:encoder.layers.1.blocks.0.mlp.fc1.weight": [-1.425247465819666, 1.2976146274125833],
            "model.safetensors:encoder.layers.1.blocks.0.mlp.fc2.bias": [9.048317650695026e-15, 5.7835196827531844e-08],
            "model.safetensors:encoder.layers.1.blocks.0.mlp.fc2.weight": [-1.4919574227945986, 1.2764074882612684],
            "model.safetensors:encoder.layers.1.blocks.0.norm1.bias": [-1.0025962156844093e-09, 8.858098250809163e-10],
            "model.safetensors:encoder.layers.1.blocks.0.norm1.weight": [32.0, 5.656854249492381],
            "model.safetensors:encoder.layers.1.blocks.0.norm2.bias": [-3.0510609923956045e-10, 1.135887208520549e-09],
            "model.safetensors:encoder.layers.1.blocks.0.norm2.weight": [32.0, 5.656854249492381],
            "model.safetensors:encoder.layers.1.downsample.norm.bias": [4.824807159700684e-09, 1.1999388088184005e-08],
            "model.safetensors:encoder.layers.1.downsample.norm.weight": [64.0, 8.0],
            "model.safetensors:encoder.layers.1.downsample.reduction.weight": [0.45040546726522734, 0.8941223849065398],
            "model.safetensors:encoder.norm.bias": [-1.992850329202156e-14, 1.99133909109841e-08],
            "model.safetensors:encoder.norm.weight": [32.0, 5.656854249492381],
            "model.safetensors:encoder.patch_embed.norm.bias": [3.400058012914542e-15, 1.4082911150967954e-08],
            "model.safetensors:encoder.patch_embed.norm.weight": [16.0, 4.0],
            "model.safetensors:encoder.patch_embed.proj.bias": [-0.22902803838951513, 0.138011520383685],
            "model.safetensors:encoder.patch_embed.proj.weight": [-1.1080854839110543, 2.276643113733719],
            "model.safetensors:latent_avg_freq": [-3.749235822353512, 2.535337545502581],
            "model.safetensors:latent_avg_phase": [-0.8184732642257586, 2.4279798780582684],
        },
    },
    "synthfaces_tiny_generator": {
        "digest": "5517cc382ea77ac9c726d7420cde3e7b",
        "steps": [
            {"l2": 0.251337, "lr": 0.001, "psnr_patch": 12.119702, "step": 1, "total": 0.25237, "z_reg": 0.001033},
            {"l2": 0.304828, "lr": 0.001, "psnr_patch": 11.184952, "step": 2, "total": 0.306037, "z_reg": 0.001209},
            {"l2": 0.29297, "lr": 0.001, "psnr_patch": 11.421749, "step": 3, "total": 0.293983, "z_reg": 0.001012},
            {"l2": 0.31451, "lr": 0.001, "psnr_patch": 11.295795, "step": 4, "total": 0.315494, "z_reg": 0.000984},
        ],
        "weights": {
            "decoder.safetensors:color_film.bias": [0.28659280855208635, 0.5660134674420496],
            "decoder.safetensors:color_film.weight": [0.6606473844713037, 0.31508049142674616],
            "decoder.safetensors:color_out.bias": [-0.12739679217338562, 0.17667013411045998],
            "decoder.safetensors:color_out.weight": [-0.047881766309728846, 0.09500003213982529],
            "decoder.safetensors:density.bias": [0.050346288830041885, 0.050346288830041885],
            "decoder.safetensors:density.weight": [-0.0004818473826162517, 0.056947986927623546],
            "decoder.safetensors:mapping.network.0.bias": [-0.5982896592468023, 0.715502761567718],
            "decoder.safetensors:mapping.network.0.weight": [8.577157663996331, 8.026596216331628],
            "decoder.safetensors:mapping.network.2.bias": [0.5316328564949799, 0.5768952791567474],
            "decoder.safetensors:mapping.network.2.weight": [14.48899390346196, 7.864616480700497],
            "decoder.safetensors:mapping.network.4.bias": [-0.08681743073975667, 1.6466650988217053],
            "decoder.safetensors:mapping.network.4.weight": [-2.382721675508037, 5.598365846184377],
            "decoder.safetensors:trunk.0.bias": [-2.0024300953373313, 1.8392144585889458],
            "decoder.safetensors:trunk.0.weight": [1.683546059357468, 1.9649261969140037],
            "decoder.safetensors:trunk.1.bias": [-0.859023415017873, 0.575387424990467],
            "decoder.safetensors:trunk.1.weight": [0.25728053213242674, 0.3201234535689078],
            "decoder.safetensors:trunk.2.bias": [0.14975832775235176, 0.6454655250533345],
            "decoder.safetensors:trunk.2.weight": [-0.19826562403432035, 0.31334330917439945],
            "identity_latents.safetensors:z": [2.96155667520361, 8.900069415463042],
        },
    },
}
