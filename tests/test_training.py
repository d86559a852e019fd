"""Training (train_accelerate.py): both stages on a tiny SynthFaces set, DDP on two CPU processes, exact resume,
the losses' definitions and the fail-fast checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from sem2nerf import Sem2NeRF
from sem2nerf.camera import PatchSchedule, angles_to_renderer, camera_to_world, sample_patch_pattern
from sem2nerf.decoder import PiGANDecoder
from sem2nerf.decoder_folder import load_decoder, save_decoder
from sem2nerf.encoder import SwinEncoder
from sem2nerf.errors import ModelLoadError
from sem2nerf.renderer import RenderOptions, render_image, render_patch
from sem2nerf.training import ConfigError, load_config, main
from sem2nerf.training.config import TrainConfig
from sem2nerf.training.data import MaskImageDataset
from sem2nerf.training.losses import PatchDiscriminator, load_lpips, r1_penalty, w_norm
from sem2nerf.training.optim import CentralizedRAdam, make_optimizer
from sem2nerf.training.trainer import cut_patch, fit_region_head, random_poses, train

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "synthfaces_tiny.yaml"


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    from sem2nerf.synthfaces import generate_dataset

    out = tmp_path_factory.mktemp("synth") / "tiny"
    generate_dataset(out, identities=6, views=3, size=40, seed=3, workers=1)
    return out


def _config(tmp: Path, data: Path, *overrides: str) -> TrainConfig:
    return load_config(TINY, [f"data.root={data}", f"output_dir={tmp}", *overrides])


@pytest.fixture(scope="session")
def tiny_decoder(tiny_data, tmp_path_factory) -> Path:
    """A generator-stage export of the tiny config (trained for a few steps)."""
    out = tmp_path_factory.mktemp("gen")
    export = train(_config(out, tiny_data, "stage=generator", "train.max_steps=3"))
    return export


def _metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


# --- both stages --------------------------------------------------------------------------------


def test_generator_stage_exports_a_decoder_folder_that_loads(tiny_decoder):
    decoder, config = load_decoder(tiny_decoder, expect={"decoder_hidden_dim": 32, "domain": "celebamask_hq"})
    assert config["metadata"]["stage"] == "generator"
    assert all(torch.isfinite(p).all() for p in decoder.parameters())
    records = [r for r in _metrics(tiny_decoder.parent) if "l2" in r]
    assert len(records) == 3 and all(np.isfinite(r["total"]) for r in records)


FIXED_PATCH = ("render.min_scale=1.0", "render.random_shift=false", "optim.name=adam", "optim.betas=[0.9,0.999]")


@pytest.fixture(scope="session")
def overfit_generator(tiny_data, tmp_path_factory):
    """The generator stage over-fitted to one batch: (export folder, per-step L2)."""
    from sem2nerf.training import data as data_mod

    out = tmp_path_factory.mktemp("overfit_gen")
    original = data_mod.StepBatchSampler.batch_at
    data_mod.StepBatchSampler.batch_at = lambda self, m: [0, 1]
    try:
        export = train(_config(out, tiny_data, "stage=generator", "train.max_steps=25", "optim.lr=2e-3", "optim.lr_latent=2e-2", *FIXED_PATCH))
    finally:
        data_mod.StepBatchSampler.batch_at = original
    return export, [r["l2"] for r in _metrics(out) if "l2" in r]


def test_generator_stage_overfits_one_batch(overfit_generator):
    """Reconstruction of one fixed batch: the loss falls well below its start."""
    _, losses = overfit_generator
    assert len(losses) == 25 and all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.75 * np.mean(losses[:2])


@pytest.fixture
def first_two_items(monkeypatch):
    """Every training step draws the same batch (items 0 and 1), so a loss on it must fall."""
    from sem2nerf.training import data as data_mod

    monkeypatch.setattr(data_mod.StepBatchSampler, "batch_at", lambda self, m: [0, 1])


def test_geometry_loss_on_synthfaces_heads_falls_and_renders_only_every_kth_step(tiny_data, tmp_path, first_two_items):
    """loss.geometry (3D density/colour targets of each head) is learnt; recon_every=2 renders on even steps only."""
    train(_config(tmp_path, tiny_data, "stage=generator", "train.max_steps=30", "loss.geometry=1", "loss.recon_every=2",
                  "loss.geometry_points=512", "optim.density_lr_scale=50", *FIXED_PATCH))
    records = [r for r in _metrics(tmp_path) if "total" in r]
    geometry = [r["geometry"] for r in records]
    assert len(geometry) == 30 and all(np.isfinite(geometry))
    assert np.mean(geometry[-3:]) < 0.6 * np.mean(geometry[:2])
    assert [r["step"] for r in records if "l2" in r] == list(range(1, 31, 2))  # steps 0, 2, ... are logged as 1, 3, ...


def test_silhouette_loss_makes_background_rays_transparent(tiny_data, tmp_path, first_two_items):
    """loss.silhouette: the rendered opacity of one fixed batch moves to the masks' foreground (the loss falls)."""
    train(_config(tmp_path, tiny_data, "stage=generator", "train.max_steps=40", "loss.silhouette=1", "loss.l2=0",
                  "optim.lr=2e-3", "optim.density_lr_scale=100", *FIXED_PATCH))
    silhouette = [r["silhouette"] for r in _metrics(tmp_path) if "silhouette" in r]
    assert len(silhouette) == 40 and all(np.isfinite(silhouette))
    assert np.mean(silhouette[-3:]) < 0.7 * np.mean(silhouette[:2])
    with pytest.raises(ConfigError, match="loss.silhouette"):
        _config(tmp_path, tiny_data, "stage=generator", "loss.silhouette=1", "loss.recon=0", "loss.geometry=1")


def test_part_maps_cover_the_small_parts_of_each_mask(tiny_data):
    """The dataset's ``parts`` is the fraction of each pixel in loss.part_labels: inside the foreground, a few
    per cent of the frame, and exactly the named classes (the eyes alone cover less than eyes, brows and lips)."""
    from sem2nerf.domains import get_domain

    small = get_domain("celebamask_hq").small_parts
    common = {"root": tiny_data, "domain": "celebamask_hq", "id_list": None, "image_size": 32, "encoder_size": None,
              "with_foreground": True}
    every = MaskImageDataset(part_labels=small, **common)[0]
    eyes = MaskImageDataset(part_labels=["l_eye", "r_eye"], **common)[0]
    assert every["parts"].shape == every["foreground"].shape == (1, 32, 32)
    assert float(every["parts"].min()) >= 0 and bool((every["parts"] <= every["foreground"] + 1e-6).all())
    assert 0.005 < float(every["parts"].mean()) < 0.15
    assert 0 < float(eyes["parts"].sum()) < float(every["parts"].sum())
    assert "parts" not in MaskImageDataset(**common)[0]


def test_part_weight_makes_errors_on_small_parts_count_more():
    """_l2_loss: the same squared error costs more on part pixels than elsewhere; weight 0 is the plain mean."""
    from sem2nerf.training.trainer import _l2_loss

    parts = torch.zeros(1, 1, 8, 8)
    parts[..., :2, :2] = 1.0
    pattern = torch.stack(torch.meshgrid(torch.linspace(-1, 1, 8), torch.linspace(-1, 1, 8), indexing="xy"), -1)[None]
    real = torch.zeros(1, 3, 8, 8)
    on_part, off_part = real.clone(), real.clone()
    on_part[..., 0, 0] = 1.0
    off_part[..., 7, 7] = 1.0
    batch = {"parts": parts}
    assert _l2_loss(on_part, real, batch, pattern, 0.0) == _l2_loss(off_part, real, batch, pattern, 0.0)
    assert float(_l2_loss(on_part, real, batch, pattern, 10.0)) > 5 * float(_l2_loss(off_part, real, batch, pattern, 10.0))
    uniform = real + 0.5
    torch.testing.assert_close(_l2_loss(uniform, real, batch, pattern, 10.0), torch.tensor(0.25))  # normalised weights


def test_part_weight_trains_both_stages_and_is_checked(tiny_data, tiny_decoder, tmp_path):
    train(_config(tmp_path / "gen", tiny_data, "stage=generator", "train.max_steps=2", "loss.part_weight=5"))
    train(_config(tmp_path / "enc", tiny_data, f"decoder={tiny_decoder}", "train.max_steps=2", "loss.part_weight=5",
                  "loss.part_labels=[l_eye, r_eye]"))
    for stage in ("gen", "enc"):
        records = [r for r in _metrics(tmp_path / stage) if "l2" in r]
        assert records and all(np.isfinite(r["l2"]) for r in records)
    with pytest.raises(ConfigError, match="not in celebamask_hq_raw"):
        _config(tmp_path, tiny_data, "loss.part_weight=5", "loss.part_labels=[eyes]")
    with pytest.raises(ConfigError, match="part_weight > 0"):
        _config(tmp_path, tiny_data, "loss.part_labels=[l_eye]")
    with pytest.raises(ConfigError, match="part_weight must be >= 0"):
        _config(tmp_path, tiny_data, "loss.part_weight=-1")
    assert _config(tmp_path, tiny_data).fingerprint() == _config(tmp_path, tiny_data, "loss.part_weight=0").fingerprint()


def test_geometry_needs_synthfaces_identity_parameters(tiny_data, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    (data / "identity_params.json").unlink()
    with pytest.raises(ConfigError, match="identity_params.json"):
        train(_config(tmp_path / "out", data, "stage=generator", "train.max_steps=1", "loss.geometry=1"))
    with pytest.raises(ConfigError, match="generator-stage loss"):
        _config(tmp_path, data, "loss.geometry=1")
    with pytest.raises(ConfigError, match="geometry_focus is a fraction"):
        _config(tmp_path, data, "stage=generator", "loss.geometry=1", "loss.geometry_focus=2")


def test_geometry_focus_reaches_the_points_the_trainer_samples(tiny_data, tmp_path):
    """loss.geometry_focus: the generator stage's data set serves points concentrated at the small parts (off: a
    config has the fingerprint it had before the key existed)."""
    from sem2nerf.training.trainer import build_datasets

    assert load_config(TINY).fingerprint() == load_config(TINY, ["loss.geometry_focus=0"]).fingerprint()
    assert load_config(TINY).fingerprint() != load_config(TINY, ["loss.geometry_focus=0.5"]).fingerprint()
    sets = [build_datasets(_config(tmp_path, tiny_data, "stage=generator", "loss.geometry=1", "loss.geometry_points=64",
                                   f"loss.geometry_focus={f}"))[0] for f in (0.0, 0.5)]
    assert [s.geometry_focus for s in sets] == [0.0, 0.5]
    plain, focused = (s[0]["points"] for s in sets)
    assert torch.equal(plain[:32], focused[:32]) and not torch.equal(plain[32:48], focused[32:48])


def test_generator_export_holds_the_latents_of_its_training_identities_by_name(tiny_data, tiny_decoder):
    from sem2nerf.decoder_folder import load_identity_latents

    names, z = load_identity_latents(tiny_decoder)
    groups = json.loads((tiny_data / "identities.json").read_text())
    train_ids = {line.split(".")[0] for line in (tiny_data / "train_paths.txt").read_text().split()}
    trained = sorted(name for name, images in groups.items() if set(images) & train_ids)
    assert names == trained and len(trained) < len(groups), "the trained identities, and no held-out one"
    assert z.shape == (len(names), 16) and torch.isfinite(z).all()


def test_linear_latents_train_and_export_as_the_map_of_each_identity(tiny_data, tmp_path):
    """A generator stage with optim.latent_linear trains W (the exported latents move from the start) and exports,
    per trained identity, exactly features @ W; resuming it is exact (W is in the checkpoint)."""
    from sem2nerf.decoder_folder import load_identity_latents
    from sem2nerf.training.data import MaskImageDataset
    from sem2nerf.training.trainer import GeneratorStage

    extra = ["stage=generator", "optim.latent_init=params", "optim.latent_linear=true", "loss.z_reg=0.1"]
    export = train(_config(tmp_path, tiny_data, *extra, "train.max_steps=2", "train.save_every=1"))
    names, z = load_identity_latents(export)
    data = MaskImageDataset(tiny_data, "celebamask_hq", "train_paths.txt", 32, encoder_size=None)
    features = data.identity_features()
    decoder = PiGANDecoder(32, 3, 16, 32, 2)
    start = GeneratorStage(decoder, data.num_identities, RenderOptions(), 32, 12.0, seed=0, features=features).latents.weight
    rows = torch.tensor([data.identity_names.index(n) for n in names])
    solved = torch.linalg.lstsq(features[rows], z).solution  # the exported latents are one linear map of the features
    assert torch.allclose(features[rows] @ solved, z, atol=1e-4)
    assert not torch.allclose(start[rows], z, atol=1e-6)  # and W trained
    again = train(_config(tmp_path, tiny_data, *extra, "train.max_steps=2", "train.save_every=1"), resume=str(tmp_path / "checkpoints" / "step_00000001"))
    assert torch.allclose(load_identity_latents(again)[1], z, atol=1e-6)


def test_params_latent_init_gives_similar_heads_similar_latents(tiny_data):
    """optim.latent_init=params: latents are a fixed projection of the standardised SynthFaces parameters, so
    distances between identities' latents follow the distances between their parameters."""
    from sem2nerf.training.data import MaskImageDataset
    from sem2nerf.training.trainer import GeneratorStage

    data = MaskImageDataset(tiny_data, "celebamask_hq", "train_paths.txt", 32, encoder_size=None)
    features = data.identity_features()
    assert features.shape[0] == data.num_identities and torch.allclose(features.mean(0), torch.zeros(features.shape[1]), atol=1e-5)
    decoder = PiGANDecoder(32, 3, 128, 32, 2)  # z_dim 128: a random projection to it keeps distances (JL)
    stage = GeneratorStage(decoder, data.num_identities, RenderOptions(), 32, 12.0, seed=0, features=features)
    z = stage.latents.weight.detach()
    iu = torch.triu_indices(len(z), len(z), 1)
    d_z, d_f = torch.cdist(z, z)[iu[0], iu[1]], torch.cdist(features, features)[iu[0], iu[1]]
    corr = torch.corrcoef(torch.stack((d_z, d_f)))[0, 1]
    assert corr > 0.5, f"latent distances follow parameter distances (r = {corr:.2f})"
    assert 0.5 < float(z.std()) < 1.5, "about unit variance, like the N(0, I) start"
    random = GeneratorStage(decoder, data.num_identities, RenderOptions(), 32, 12.0, seed=0).latents.weight.detach()
    d_r = torch.cdist(random, random)[iu[0], iu[1]]
    assert torch.corrcoef(torch.stack((d_r, d_f)))[0, 1] < corr


def test_latent_loss_pulls_the_encoder_to_the_identity_codes(tiny_data, tiny_decoder, tmp_path):
    """loss.latent alone (no render loss): the code error of one fixed batch falls well below its start."""
    from sem2nerf.training import data as data_mod

    original = data_mod.StepBatchSampler.batch_at
    data_mod.StepBatchSampler.batch_at = lambda self, m: [0, 4]
    try:
        train(_config(tmp_path, tiny_data, f"decoder={tiny_decoder}", "train.max_steps=20", "loss.latent=1", "loss.l2=0",
                      "loss.gan=0", "loss.w_norm=0", "optim.name=adam", "optim.betas=[0.9,0.999]"))
    finally:
        data_mod.StepBatchSampler.batch_at = original
    latent = [r["latent"] for r in _metrics(tmp_path) if "latent" in r]
    assert len(latent) == 20 and all(np.isfinite(latent))
    assert np.mean(latent[-3:]) < 0.5 * np.mean(latent[:2])


def test_code_readout_recovers_a_linear_map_and_drops_what_the_features_cannot_explain():
    """fit_code_readout: codes that are a linear function of the features come back almost exactly (a constant
    feature does no harm); codes independent of the features are read out as little more than their mean."""
    from sem2nerf.training.trainer import fit_code_readout

    gen = torch.Generator().manual_seed(0)
    feats = torch.cat((torch.randn(400, 6, generator=gen), torch.ones(400, 1)), 1)
    mix = torch.randn(7, 10, generator=gen)
    linear = feats @ mix + 3.0
    readout = fit_code_readout(feats[:300], linear[:300])
    assert readout(feats[300:]).shape == (100, 10)
    rel = (readout(feats[300:]) - linear[300:]).norm() / (linear[300:] - linear[300:].mean(0)).norm()
    assert rel < 0.05, f"a linear map is recovered on held-out rows (relative error {rel:.3f})"
    noise = torch.randn(400, 10, generator=gen)
    explained = fit_code_readout(feats[:300], noise[:300])(feats[300:])
    assert float(explained.var(0).mean()) < 0.1 * float(noise.var(0).mean()), "independent codes are not explained"
    assert explained.mean(0).sub(noise[:300].mean(0)).abs().max() < 0.2


def test_code_readout_maps_code_errors_back_to_the_features_that_explain_them():
    """CodeReadout.feature_error_map: the code change of one standardised feature moved by one unit maps back to
    that unit change (and not to other features), for a feature with a 30x smaller effect on the codes too; so in
    loss.latent_params that feature's error costs as much as a large one's."""
    from sem2nerf.training.trainer import _code_loss, fit_code_readout

    gen = torch.Generator().manual_seed(1)
    feats = torch.randn(500, 5, generator=gen)
    mix = torch.randn(5, 40, generator=gen)
    mix[4] *= 1.0 / 30  # a feature the codes barely depend on
    readout = fit_code_readout(feats, feats @ mix + 0.01 * torch.randn(500, 40, generator=gen), ridge=1e-4)
    scale = torch.full((40,), 2.0)
    fmap = readout.feature_error_map(scale, rel_ridge=1e-5)
    assert fmap.shape == (40, 5)
    base = feats[:1]
    std = feats.std(0)
    for k in range(5):
        moved = base.clone()
        moved[0, k] += std[k]  # one standard deviation of feature k
        back = ((readout(moved) - readout(base)) / scale) @ fmap
        expected = torch.zeros(5)
        expected[k] = 1.0
        assert torch.allclose(back[0], expected, atol=0.05), (k, back)
    small, large = (((readout(m) - readout(base)) / scale) for m in (base + torch.eye(5)[4] * std[4], base + torch.eye(5)[0] * std[0]))
    assert small.norm() < 0.1 * large.norm(), "the small feature moves the codes far less..."
    zeros = torch.zeros(1, 20)
    delta = (readout(base + torch.eye(5)[4] * std[4]) - readout(base)).float()  # a code off by feature 4's change
    model = type("M", (), {"latent_avg_freq": zeros, "latent_avg_phase": zeros})()
    target = readout(base).float()
    plain = _code_loss(model, target[:, :20] + delta[:, :20], target[:, 20:] + delta[:, 20:], target, scale)
    weighted = _code_loss(model, target[:, :20] + delta[:, :20], target[:, 20:] + delta[:, 20:], target, scale, fmap, 1.0)
    assert abs(float(weighted - plain) - 1.0 / 5) < 0.02, "...but costs a full unit in loss.latent_params (mean over 5)"


def test_visible_features_ignore_colours_and_follow_what_a_mask_shows():
    from dataclasses import replace

    from sem2nerf.synthfaces import FaceParams

    base = FaceParams()
    visible = base.features(visible_only=True)
    assert len(visible) < len(base.features())
    recoloured = replace(base, skin_rgb=(0.3, 0.2, 0.1), hair_rgb=(0.9, 0.9, 0.9), cloth_stripes=True, iris_size=1.3)
    assert np.array_equal(recoloured.features(visible_only=True), visible), "colours and stripes are not visible features"
    assert not np.array_equal(recoloured.features(), base.features())
    for change in ({"mouth_open": 1.0}, {"glasses": True}, {"hair_style": "long"}, {"eye_open": 1.4}):
        assert not np.array_equal(replace(base, **change).features(visible_only=True), visible), change


def test_hidden_parameters_at_their_mean_leave_only_what_a_mask_shows():
    """features(hidden=mean_hidden_params(...)): two heads that differ only in what no mask shows get the same full
    vector (the hidden entries at the mean: colours per channel, flags as fractions); visible changes still show."""
    from dataclasses import replace

    from sem2nerf.synthfaces import HIDDEN_FIELDS, FaceParams, mean_hidden_params

    base = FaceParams()
    other = replace(base, skin_rgb=(0.3, 0.2, 0.1), hair_rgb=(0.9, 0.9, 0.9), cloth_stripes=True, iris_size=1.3)
    hidden = mean_hidden_params([base, other])
    assert set(hidden) == set(HIDDEN_FIELDS)
    assert hidden["skin_rgb"] == pytest.approx(tuple((a + b) / 2 for a, b in zip(base.skin_rgb, other.skin_rgb)))
    assert hidden["cloth_stripes"] == pytest.approx(0.5)
    assert np.array_equal(base.features(hidden=hidden), other.features(hidden=hidden))
    assert len(base.features(hidden=hidden)) == len(base.features())
    assert not np.array_equal(replace(base, mouth_open=1.0).features(hidden=hidden), base.features(hidden=hidden))
    with pytest.raises(ValueError, match="at least one"):
        mean_hidden_params([])


@pytest.mark.parametrize(("target", "latent_params"), [("params", 0.0), ("params_adjusted", 0.0), ("params_adjusted", 0.3)])
def test_params_latent_target_with_extra_masks_regresses_the_extra_masks(tiny_data, tiny_decoder, tmp_path, target,
                                                                         latent_params):
    """loss.latent_target=params (or params_adjusted: the read-out fitted on every parameter, read with the hidden
    ones at their mean; with loss.latent_params the error also counted in the read-out's parameters) with
    data.latent_extra: every step also encodes masks of another SynthFaces set (never rendered) and regresses them
    to the read-out of their parameters; that error falls with training."""
    from sem2nerf.synthfaces import generate_dataset
    from sem2nerf.training import data as data_mod

    extra = tmp_path / "extra"
    generate_dataset(extra, identities=2, views=1, size=40, seed=11, test_fraction=0.0, workers=1)
    original = data_mod.StepBatchSampler.batch_at
    data_mod.StepBatchSampler.batch_at = lambda self, m: [0, 1] if self.n == 2 else [0, 4]
    try:
        train(_config(tmp_path / "out", tiny_data, f"decoder={tiny_decoder}", "train.max_steps=20", "loss.latent=1",
                      f"loss.latent_target={target}", f"loss.latent_params={latent_params}", f"data.latent_extra={extra}",
                      "loss.latent_extra_batch=2", "loss.l2=0",
                      "loss.gan=0", "loss.w_norm=0", "optim.name=adam", "optim.betas=[0.9,0.999]"))
    finally:
        data_mod.StepBatchSampler.batch_at = original
    records = [r for r in _metrics(tmp_path / "out") if "latent_extra" in r]
    assert len(records) == 20 and all(np.isfinite(r["latent_extra"]) and np.isfinite(r["latent"]) for r in records)
    extra_loss = [r["latent_extra"] for r in records]
    assert np.mean(extra_loss[-3:]) < 0.5 * np.mean(extra_loss[:2])


def test_fit_region_head_recovers_a_linear_map_of_the_region_statistics():
    """Targets that are an exact linear function of the masks' region statistics: after fit_region_head the region
    head (from the latent average) reproduces them, and the standardisation buffers hold the statistics' moments."""
    from sem2nerf.encoder import SwinEncoder, region_statistics

    gen = torch.Generator().manual_seed(0)
    items = []
    for i in range(120):
        x = torch.zeros(5, 32, 32)  # 3 classes + contour + distance
        for c in range(3):
            y0, x0 = (int(v) for v in torch.randint(0, 20, (2,), generator=gen))
            h, w = (int(v) for v in torch.randint(3, 12, (2,), generator=gen))
            x[c, y0 : y0 + h, x0 : x0 + w] = 1.0
        items.append({"x": x, "identity": torch.tensor(i)})
    stats = region_statistics(torch.stack([it["x"][:3] for it in items]))
    a = torch.randn(15, 8, generator=gen)
    start = torch.randn(8, generator=gen)
    targets = stats @ a + 0.3 + start
    encoder = SwinEncoder(5, 4, img_size=32, embed_dim=8, depths=(1,), num_heads=(1,), window_size=4, region_classes=3)
    fit_region_head(encoder, [(items, targets)], start, batch_size=50, ridge=1e-9)
    torch.testing.assert_close(encoder.region_mean, stats.mean(0), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(encoder.region_std, stats.std(0), atol=1e-6, rtol=1e-5)
    assert torch.equal(encoder.region_low, stats.min(0).values) and torch.equal(encoder.region_high, stats.max(0).values)
    # a mask unlike any of them (one class filling the frame, the others absent) is clamped to the training range
    odd = torch.zeros(1, 5, 32, 32)
    odd[0, 0] = 1.0
    z = encoder.region_features(odd)[0]
    assert bool(((z >= (encoder.region_low - encoder.region_mean) / encoder.region_std - 1e-5)
                 & (z <= (encoder.region_high - encoder.region_mean) / encoder.region_std + 1e-5)).all())
    assert not torch.equal(region_statistics(odd[:, :3])[0], torch.maximum(torch.minimum(
        region_statistics(odd[:, :3])[0], encoder.region_high), encoder.region_low)), "the clamp did act"
    x = torch.stack([it["x"] for it in items[:10]])
    with torch.no_grad():
        freq, phase = encoder.encode(x)  # the Swin head is still zero
    torch.testing.assert_close(torch.cat((freq, phase), 1) + start, targets[:10], atol=2e-3, rtol=1e-3)
    # without targets only the buffers are set and the head stays zero
    fit_region_head(encoder, [(items, None)])
    assert torch.equal(encoder.region_head.weight, torch.zeros_like(encoder.region_head.weight))
    with pytest.raises(ValueError, match="no region head"):
        fit_region_head(SwinEncoder(5, 4, img_size=32, embed_dim=8, depths=(1,), num_heads=(1,), window_size=4), [])


def test_encoder_stage_with_region_head_starts_from_the_fit_and_exports_it(tiny_data, tiny_decoder, tmp_path):
    """model.encoder_region_stats=true: the region head is fitted before the first step, so the first step's code
    loss is lower than with the zero-initialised encoder alone; the export carries the head and loads."""
    common = [f"decoder={tiny_decoder}", "train.max_steps=1", "loss.latent=1", "loss.latent_target=params",
              "train.latent_warmup_steps=1", "train.log_every=1"]
    train(_config(tmp_path / "plain", tiny_data, *common))
    export = train(_config(tmp_path / "region", tiny_data, *common, "model.encoder_region_stats=true"))
    plain, region = ([r["latent"] for r in _metrics(tmp_path / name) if "latent" in r] for name in ("plain", "region"))
    assert len(plain) == len(region) == 1 and region[0] < 0.9 * plain[0], (plain, region)
    model = Sem2NeRF.from_pretrained(export)
    assert model.encoder.region_head is not None
    assert float(model.encoder.region_head.weight.detach().abs().max()) > 0 and not torch.equal(
        model.encoder.region_std, torch.ones_like(model.encoder.region_std))
    fingerprint = lambda *extra: _config(tmp_path, tiny_data, *common, *extra).fingerprint()
    assert fingerprint() == fingerprint("model.encoder_region_stats=false"), "off: the runs written before it match"
    assert fingerprint() != fingerprint("model.encoder_region_stats=true")


def test_set_region_range_script_restores_the_trainers_range(tiny_data, tiny_decoder, tmp_path):
    """scripts/set_region_range.py on an export without the range buffers (as models trained before them, which load
    with no clamp): it recomputes exactly the input and output ranges the trainer set, from the config's training
    masks; other masks are refused."""
    import importlib.util

    from safetensors.torch import save_file

    overrides = [f"decoder={tiny_decoder}", "loss.latent=1", "loss.latent_target=params", "model.encoder_region_stats=true",
                 "train.max_steps=1"]
    export = train(_config(tmp_path / "run", tiny_data, *overrides))
    original = load_file(export / "model.safetensors")
    ranges = [f"encoder.{name}" for name in SwinEncoder.UNBOUNDED_BUFFERS]
    stripped = {k: v for k, v in original.items() if k not in ranges}
    save_file(stripped, export / "model.safetensors")
    old = Sem2NeRF.from_pretrained(export).encoder  # loads, clamping nothing
    assert all(bool(getattr(old, name).isinf().all()) for name in SwinEncoder.UNBOUNDED_BUFFERS)
    config_file = tmp_path / "encoder.yaml"
    config_file.write_text(yaml.safe_dump(_config(tmp_path / "run", tiny_data, *overrides).to_dict()))
    spec = importlib.util.spec_from_file_location("set_region_range", ROOT / "scripts" / "set_region_range.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--model", str(export), "--config", str(config_file)]) == 0
    restored = load_file(export / "model.safetensors")
    for key in ranges:
        assert bool(original[key].isfinite().all()), f"the trainer set {key}"
        torch.testing.assert_close(restored[key], original[key], rtol=0, atol=1e-6, msg=key)
    assert Sem2NeRF.from_pretrained(export).encoder.region_head is not None
    other = tmp_path / "other"
    from sem2nerf.synthfaces import generate_dataset

    generate_dataset(other, identities=3, views=2, size=40, seed=99, workers=1)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump(_config(tmp_path / "run", other, *overrides).to_dict()))
    assert script.main(["--model", str(export), "--config", str(wrong)]) == 2


def test_region_head_output_is_clamped_to_its_training_range_at_export(tiny_data, tiny_decoder, tmp_path):
    """The export clamps the region head's code offset per dimension to its range over the training masks: on every
    training mask the clamp changes nothing, while a mask unlike any of them (one class filling the frame) has
    dimensions that the clamp brings back into that range (each statistic alone is already in its range)."""
    overrides = [f"decoder={tiny_decoder}", "loss.latent=1", "loss.latent_target=params", "model.encoder_region_stats=true",
                 "train.max_steps=1"]
    export = train(_config(tmp_path / "run", tiny_data, *overrides))
    model = Sem2NeRF.from_pretrained(export)
    encoder = model.encoder
    low, high = encoder.region_out_low, encoder.region_out_high
    assert bool(low.isfinite().all() and high.isfinite().all() and (low <= high).all())
    train_set = MaskImageDataset(tiny_data, "celebamask_hq", "train_paths.txt", 32, encoder_size=model.encoder_size)
    x = torch.stack([train_set[i]["x"] for i in range(len(train_set))])
    with torch.no_grad():
        features = encoder.region_features(x)
        torch.testing.assert_close(encoder.region_output(features), encoder.region_head(features), rtol=0, atol=0)
        odd = torch.zeros(1, *x.shape[1:])
        odd[0, 1] = 1.0  # skin everywhere
        raw = encoder.region_head(encoder.region_features(odd))[0]
        clamped = encoder.region_output(encoder.region_features(odd))[0]
    outside = (raw < low) | (raw > high)
    assert bool(outside.any()), "the odd mask's offset leaves the training range"
    assert bool(((clamped >= low) & (clamped <= high)).all()) and torch.equal(clamped[~outside], raw[~outside])


def test_region_lr_scale_zero_keeps_the_fitted_region_head(tiny_data, tiny_decoder, tmp_path):
    """optim.region_lr_scale=0: the region head keeps its least-squares fit through training (the same after 1 and
    after 3 steps) while the Swin trains; the option is checked."""
    common = [f"decoder={tiny_decoder}", "loss.latent=1", "loss.latent_target=params", "model.encoder_region_stats=true",
              "optim.region_lr_scale=0", "loss.random_pose_prob=0"]
    one = load_file(train(_config(tmp_path / "one", tiny_data, *common, "train.max_steps=1")) / "model.safetensors")
    three = load_file(train(_config(tmp_path / "three", tiny_data, *common, "train.max_steps=3")) / "model.safetensors")
    for key in ("encoder.region_head.weight", "encoder.region_head.bias", "encoder.region_mean", "encoder.region_std",
                "encoder.region_low", "encoder.region_high"):
        assert torch.equal(one[key], three[key]), key
    assert float(one["encoder.region_head.weight"].abs().max()) > 0, "fitted, not zero"
    assert not torch.equal(one["encoder.head.fc.weight"], three["encoder.head.fc.weight"]), "the Swin trains"
    with pytest.raises(ConfigError, match="region_lr_scale must be >= 0"):
        _config(tmp_path, tiny_data, "model.encoder_region_stats=true", "optim.region_lr_scale=-1")
    with pytest.raises(ConfigError, match="needs the region head"):
        _config(tmp_path, tiny_data, "optim.region_lr_scale=0")


def test_probe_codes_gain_is_one_for_codes_on_target_and_zero_for_a_constant(tiny_data, tiny_decoder, monkeypatch):
    """benchmarks/probe_codes.py: codes equal to their read-out targets follow every parameter with gain 1; a
    constant code (an encoder that ignores the mask) with gain 0."""
    import importlib.util

    from sem2nerf.domains import get_domain
    from sem2nerf.training.trainer import fit_readout_targets, identity_code_targets

    spec = importlib.util.spec_from_file_location("probe_codes", ROOT / "benchmarks" / "probe_codes.py")
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    decoder, _ = load_decoder(tiny_decoder)
    dataset = MaskImageDataset(tiny_data, get_domain("celebamask_hq"), "train_paths.txt", 32, encoder_size=None)
    codes, scale = identity_code_targets(tiny_decoder, decoder, dataset)
    targets = fit_readout_targets("params_adjusted", codes, dataset)
    on_target = targets.codes(dataset)[torch.tensor(dataset.identity)].double()
    monkeypatch.setattr(probe, "encode_all", lambda model, ds: on_target)
    gains = probe.gains(None, targets, scale, dataset)
    assert gains and "mouth_open" in gains and "eye_open" in gains
    assert all(abs(g - 1.0) < 1e-6 for g in gains.values()), gains
    monkeypatch.setattr(probe, "encode_all", lambda model, ds: on_target.mean(0, keepdim=True).expand_as(on_target))
    assert all(abs(g) < 1e-6 for g in probe.gains(None, targets, scale, dataset).values())


def test_latent_warmup_steps_train_codes_only_then_the_paper_losses(tiny_data, tiny_decoder, tmp_path):
    """train.latent_warmup_steps=2: the first two steps have loss.latent and no render or GAN losses; the steps
    after them have the render losses again."""
    train(_config(tmp_path, tiny_data, f"decoder={tiny_decoder}", "train.max_steps=4", "train.latent_warmup_steps=2",
                  "loss.latent=1", "loss.random_pose_prob=0", "loss.gan=0.1"))
    records = [r for r in _metrics(tmp_path) if "total" in r]
    assert len(records) == 4
    for r in records[:2]:
        assert "latent" in r and not {"l2", "g_gan", "d_gan", "psnr_patch"} & set(r), r
    for r in records[2:]:
        assert {"latent", "l2", "g_gan", "d_gan"} <= set(r), r


def test_latent_target_options_are_checked(tiny_data, tmp_path):
    with pytest.raises(ConfigError, match="latent_target must be"):
        _config(tmp_path, tiny_data, "loss.latent=1", "loss.latent_target=mean")
    with pytest.raises(ConfigError, match="latent_extra"):
        _config(tmp_path, tiny_data, "loss.latent=1", f"data.latent_extra={tiny_data}")
    with pytest.raises(ConfigError, match="latent_warmup_steps"):
        _config(tmp_path, tiny_data, "train.latent_warmup_steps=5")  # loss.latent is 0
    with pytest.raises(ConfigError, match="latent_params maps"):
        _config(tmp_path, tiny_data, "loss.latent=1", "loss.latent_params=0.3")  # the identity target has no read-out
    with pytest.raises(ConfigError, match="latent_params must be"):
        _config(tmp_path, tiny_data, "loss.latent=1", "loss.latent_target=params", "loss.latent_params=-1")
    with pytest.raises(ConfigError, match="latent_extra_batch"):
        _config(tmp_path, tiny_data, "loss.latent=1", "loss.latent_target=params", f"data.latent_extra={tiny_data}",
                "loss.latent_extra_batch=0")


def test_latent_loss_needs_identity_latents_and_the_encoder_stage(tiny_data, tmp_path):
    plain = save_decoder(PiGANDecoder(32, 3, 16, 32, 2), tmp_path / "plain_decoder", domain="celebamask_hq")
    with pytest.raises(ConfigError, match="identity_latents.safetensors"):
        train(_config(tmp_path / "out", tiny_data, f"decoder={plain}", "loss.latent=1"))
    with pytest.raises(ConfigError, match="encoder-stage loss"):
        _config(tmp_path, tiny_data, "stage=generator", "loss.latent=1")


def test_encoder_stage_runs_exports_and_renders(tiny_data, tiny_decoder, tmp_path):
    export = train(_config(tmp_path, tiny_data, f"decoder={tiny_decoder}", "train.max_steps=3", "loss.random_pose_prob=0.5",
                           "loss.silhouette=1"))
    records = [r for r in _metrics(tmp_path) if "total" in r]
    assert len(records) == 3
    for r in records:
        assert all(np.isfinite(v) for k, v in r.items() if isinstance(v, float))
        assert r["r1"] >= 0 and "g_gan" in r and "d_gan" in r
    assert list((tmp_path / "val").glob("step_*.png")), "validation sheet written"
    model = Sem2NeRF.from_pretrained(export)
    card = (export / "README.md").read_text()
    assert "SynthFaces generator version" in card and "PSNR" in card
    scene = model.encode(tiny_data / "masks" / "0.png")
    image = model.render(scene, yaw=15, size=24, samples=6)
    assert image.size == (24, 24)
    # The exported decoder is the frozen one: bit-identical to the decoder folder.
    decoder, _ = load_decoder(tiny_decoder)
    for key, value in decoder.state_dict().items():
        assert torch.equal(model.decoder.state_dict()[key], value)


def test_encoder_stage_overfits_one_batch(tiny_data, overfit_generator, tmp_path):
    """With a decoder that can express the batch, the encoder stage lowers the L2 of one fixed batch."""
    from sem2nerf.training import data as data_mod

    decoder, _ = overfit_generator
    config = _config(tmp_path, tiny_data, f"decoder={decoder}", "train.max_steps=15", "optim.lr=5e-3", "loss.gan=0",
                     "loss.random_pose_prob=0", "model.encoder_drop_path_rate=0", *FIXED_PATCH)
    original = data_mod.StepBatchSampler.batch_at
    data_mod.StepBatchSampler.batch_at = lambda self, m: [0, 1]
    try:
        train(config)
    finally:
        data_mod.StepBatchSampler.batch_at = original
    losses = [r["l2"] for r in _metrics(tmp_path) if "l2" in r]
    assert len(losses) == 15 and all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.92 * np.mean(losses[:2])


@pytest.mark.parametrize("region", [False, True])
def test_resume_continues_exactly(tiny_data, tiny_decoder, tmp_path, region):
    """4 steps in one go == 2 steps, stop, resume, 2 more: identical weights (GAN and R1 on; with the region head,
    which a resumed run takes from its checkpoint instead of fitting it again)."""
    extra = ["model.encoder_region_stats=true", "loss.latent=1", "loss.latent_target=params"] if region else []
    straight = train(_config(tmp_path / "a", tiny_data, f"decoder={tiny_decoder}", "train.max_steps=4", "loss.random_pose_prob=0.5",
                             *extra))
    cfg_b = [f"decoder={tiny_decoder}", "loss.random_pose_prob=0.5", "train.save_every=2", *extra]
    train(_config(tmp_path / "b", tiny_data, *cfg_b, "train.max_steps=2"))
    resumed = train(_config(tmp_path / "b", tiny_data, *cfg_b, "train.max_steps=4"), resume="latest")
    a, b = load_file(straight / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst <= 1e-6, worst
    # and the weights did move during the resumed half
    first = load_file(tmp_path / "b" / "checkpoints" / "step_00000002" / "model.safetensors")
    head = next(k for k in first if k.endswith("head.fc.weight"))
    assert not torch.equal(first[head], b[head.split("model.", 1)[1]])


def test_resume_refuses_another_config(tiny_data, tiny_decoder, tmp_path):
    train(_config(tmp_path, tiny_data, f"decoder={tiny_decoder}", "train.max_steps=1"))
    with pytest.raises(ConfigError, match="another config"):
        train(_config(tmp_path, tiny_data, f"decoder={tiny_decoder}", "train.max_steps=2", "loss.w_norm=0.5"), resume="latest")


def test_two_process_cpu_ddp_keeps_ranks_identical(tiny_data, tiny_decoder, tmp_path):
    """A real 2-process gloo run through `accelerate launch`: both ranks end with the same weights, one checkpoint."""
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
           str(ROOT / "train_accelerate.py"), "--config", str(TINY), f"data.root={tiny_data}", f"output_dir={tmp_path}",
           f"decoder={tiny_decoder}", "train.max_steps=2", "train.save_every=1000"]
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpts = list((tmp_path / "checkpoints").glob("step_*"))
    assert len(ckpts) == 1
    state = json.loads((ckpts[0] / "train_state.json").read_text())
    assert state["num_processes"] == 2
    assert len(state["rank_digests"]) == 2 and state["rank_digests"][0] == state["rank_digests"][1]
    assert (tmp_path / "export" / "model.safetensors").is_file()


# --- losses, patches, optimiser -----------------------------------------------------------------


def test_r1_matches_a_direct_autograd_computation():
    torch.manual_seed(0)
    disc = PatchDiscriminator(16)
    real = torch.randn(3, 3, 16, 16, requires_grad=True)
    logits = disc(real)
    penalty = r1_penalty(logits, real, 10.0)
    grads = [torch.autograd.grad(disc(real[i : i + 1]).sum(), real)[0][i] for i in range(3)]
    direct = 10.0 * torch.stack([g.pow(2).sum() for g in grads]).mean()
    assert torch.allclose(penalty, direct, rtol=1e-4), (float(penalty), float(direct))
    assert penalty.requires_grad  # the graph is kept so the penalty trains D


def test_patch_discriminator_is_the_official_network_at_128():
    disc = PatchDiscriminator(128)
    assert sum(p.numel() for p in disc.parameters()) == 2_795_008
    conv_ids = [k.split(".")[1] for k in disc.state_dict() if k.endswith("weight_orig")]
    assert conv_ids == ["0", "2", "5", "8", "11", "14"]
    assert disc(torch.zeros(2, 3, 128, 128)).shape == (2,)


def test_w_norm_is_the_unsquared_frobenius_norm():
    f, p = torch.full((2, 3 * 4), 1.0), torch.zeros(2, 3 * 4)
    assert torch.isclose(w_norm(f, p, 3), torch.tensor(12.0).sqrt())


def test_patch_pattern_cuts_the_same_pixels_from_render_and_ground_truth():
    """A patch rendered at a pattern equals the same pattern cut from the full render (pixel-aligned pattern: exact)."""
    torch.manual_seed(1)
    decoder = PiGANDecoder(hidden_dim=32, num_layers=3, z_dim=8, mapping_hidden_dim=16, mapping_depth=1)
    freq, phase = decoder.mapping(torch.randn(1, 8))
    field = decoder.modulate(freq, phase)
    opts = RenderOptions(num_samples=8, deterministic=True, hierarchical=False)
    theta, phi = angles_to_renderer(torch.tensor([20.0]), torch.tensor([-10.0]))
    c2w = camera_to_world(theta, phi)
    full = render_image(field, c2w, 33, 12.0, opts).rgb
    lin = torch.linspace(-1, 1, 17)
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    pattern = (torch.stack((xx, yy), -1) * 0.5 + torch.tensor([0.25, -0.375]))[None]  # pixel centres 12..28, 2..18
    patch = render_patch(field, c2w, pattern, 33, 12.0, opts).rgb
    cut = cut_patch(full, pattern)
    assert torch.allclose(patch, cut, atol=1e-5)
    assert torch.allclose(cut, full[:, :, 2:19, 12:29], atol=1e-5)  # rows follow y, columns follow x
    # random patterns from the schedule stay inside the frame
    pat = sample_patch_pattern(4, 0, PatchSchedule(resolution=16, min_scale=0.2), generator=torch.Generator().manual_seed(0))
    assert pat.abs().max() <= 1.0 + 1e-6


def test_random_poses_follow_the_official_ranges():
    yaw, pitch = random_poses(400, "celebamask_hq", torch.Generator().manual_seed(0))
    yaw_only, pitch_only = pitch == 0, yaw == 0
    assert (yaw_only | pitch_only).all()
    assert yaw[yaw_only].abs().min() >= np.degrees(0.4) - 1e-4 and yaw.abs().max() <= np.degrees(0.55) + 1e-4
    assert pitch[pitch_only].abs().min() >= np.degrees(0.3) - 1e-4 and pitch.abs().max() <= np.degrees(0.45) + 1e-4
    assert (yaw > 0).any() and (yaw < 0).any() and (pitch > 0).any() and (pitch < 0).any()


def test_ranger_centralises_gradients_and_starts_lookahead_from_the_initial_weights():
    w = torch.nn.Parameter(torch.ones(3, 4))
    opt = make_optimizer([w], 0.1, load_config(None, ["decoder=x"]).optim)
    inner = opt._base_optimizer
    assert isinstance(inner, CentralizedRAdam)
    w.grad = torch.arange(12.0).reshape(3, 4)
    opt.step()
    assert torch.allclose(w.grad.mean(dim=1), torch.zeros(3))
    assert torch.equal(inner.state[w]["lookahead_slow_buff"], torch.ones(3, 4))


# --- configuration and fail-fast -----------------------------------------------------------------


def test_config_overrides_and_unknown_keys():
    config = load_config(TINY, ["train.max_steps=7", "model.encoder_depths=[2,2]", "loss.lpips=0.5", "train.mixed_precision=no"])
    assert config.train.mixed_precision == "no"
    assert config.train.max_steps == 7 and config.model.encoder_depths == [2, 2] and config.loss.lpips == 0.5
    with pytest.raises(ConfigError, match="unknown config key.*loss.lpipz"):
        load_config(TINY, ["loss.lpipz=1"])
    with pytest.raises(ConfigError, match="train.max_steps must be a int"):
        load_config(TINY, ["train.max_steps=many"])
    with pytest.raises(ConfigError, match="needs a frozen decoder"):
        load_config(TINY, ["decoder="])
    for name in ("celebamask_hq.yaml", "catmask.yaml", "synthfaces_generator.yaml", "synthfaces_encoder.yaml"):
        assert load_config(ROOT / "configs" / name).fingerprint()


def test_official_configs_hold_the_official_hyper_parameters():
    c = load_config(ROOT / "configs" / "celebamask_hq.yaml")
    assert (c.loss.l2, c.loss.lpips, c.loss.w_norm, c.loss.gan, c.loss.r1, c.loss.random_pose_prob) == (1.0, 0.8, 0.005, 0.08, 10.0, 0.2)
    assert (c.optim.name, c.optim.lr, c.optim.lr_dis) == ("ranger", 1e-4, 2e-5)
    assert (c.render.num_samples, c.render.patch_resolution, c.render.min_scale, c.render.anneal) == (28, 128, 0.125, 0.0019)
    cat = load_config(ROOT / "configs" / "catmask.yaml")
    assert (cat.loss.w_norm, cat.loss.gan, cat.loss.random_pose_prob, cat.render.min_scale) == (0.008, 0.1, 0.5, 0.08)


def test_lpips_without_backbone_weights_fails_at_start_up_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    import torchvision.models as tvm

    def offline(*args, **kwargs):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(tvm.AlexNet_Weights.IMAGENET1K_V1, "get_state_dict", offline, raising=False)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(ConfigError) as err:
        load_lpips()
    message = str(err.value)
    assert "alexnet-owt-7be5be79.pth" in message and str(tmp_path / "torch") in message and "loss.lpips=0" in message


def test_clear_errors_for_missing_data_and_mismatched_decoder(tiny_data, tiny_decoder, tmp_path, capsys):
    rc = main(["--config", str(TINY), f"data.root={tmp_path / 'nowhere'}", f"output_dir={tmp_path / 'o'}", f"decoder={tiny_decoder}"])
    assert rc == 2 and "data folder not found" in capsys.readouterr().err
    with pytest.raises(ModelLoadError, match="decoder_hidden_dim: folder has 32, config wants 64"):
        train(_config(tmp_path / "m", tiny_data, f"decoder={tiny_decoder}", "model.decoder_hidden_dim=64"))
    other = save_decoder(PiGANDecoder(32, 3, 16, 32, 2), tmp_path / "cat_decoder", domain="catmask")
    with pytest.raises(ModelLoadError, match="domain: folder has 'catmask'"):
        train(_config(tmp_path / "d", tiny_data, f"decoder={other}"))
    rc = main(["--config", str(TINY), "stage=generator", "loss.recon=0", "loss.adv=0"])
    assert rc == 2 and "needs loss.recon > 0, loss.adv > 0 or loss.geometry > 0" in capsys.readouterr().err


def test_config_fingerprint_ignores_step_counts_but_not_losses():
    a = load_config(TINY)
    assert a.fingerprint() == load_config(TINY, ["train.max_steps=99", "output_dir=elsewhere"]).fingerprint()
    assert a.fingerprint() != load_config(TINY, ["loss.gan=0.5"]).fingerprint()


def test_gradient_accumulation_runs_the_configured_micro_batches(tiny_data, tiny_decoder, tmp_path):
    """grad_accum=2: each optimiser step reads two micro-batches; the losses stay finite and the encoder moves."""
    from sem2nerf.training import data as data_mod

    seen: list[int] = []
    original = data_mod.StepBatchSampler.batch_at

    def spy(self, m):
        seen.append(m)
        return original(self, m)

    data_mod.StepBatchSampler.batch_at = spy
    try:
        export = train(_config(tmp_path, tiny_data, f"decoder={tiny_decoder}", "train.max_steps=2", "train.grad_accum=2"))
    finally:
        data_mod.StepBatchSampler.batch_at = original
    assert sorted(set(seen))[:4] == [0, 1, 2, 3]  # 2 steps x 2 micro-batches
    records = [r for r in _metrics(tmp_path) if "total" in r]
    assert len(records) == 2 and all(np.isfinite(r["total"]) for r in records)
    head = load_file(export / "model.safetensors")["encoder.head.fc.weight"]
    assert head.abs().sum() > 0  # zero-initialised head has been updated


def test_linear_latents_are_one_learned_map_of_the_identity_features():
    """optim.latent_linear: every identity latent is features @ W (one shared W, trained), starting at the same
    random projection as latent_init=params; the per-identity table follows W."""
    from sem2nerf.decoder import PiGANDecoder
    from sem2nerf.renderer import RenderOptions
    from sem2nerf.training.trainer import GeneratorStage, LinearLatents

    decoder = PiGANDecoder(hidden_dim=16, num_layers=2, z_dim=8, mapping_hidden_dim=16, mapping_depth=1)
    features = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    free = GeneratorStage(decoder, 5, RenderOptions(), 32, 12.0, 7, features)
    tied = GeneratorStage(decoder, 5, RenderOptions(), 32, 12.0, 7, features, linear=True)
    assert isinstance(tied.latents, LinearLatents) and [n for n, _ in tied.latents.named_parameters()] == ["map"]
    assert torch.allclose(tied.latents.weight, free.latents.weight)  # the same start
    ids = torch.tensor([4, 1])
    loss = tied.latents(ids).pow(2).sum()
    loss.backward()
    assert tied.latents.map.grad is not None and tied.latents.map.grad.abs().sum() > 0
    with torch.no_grad():
        tied.latents.map.add_(1.0)
    assert torch.allclose(tied.latents.weight, features @ tied.latents.map)  # all identities moved with W
    assert torch.allclose(tied.latents(ids), tied.latents.weight[ids])
    with pytest.raises(ValueError, match="features"):
        GeneratorStage(decoder, 5, RenderOptions(), 32, 12.0, 7, None, linear=True)
    with pytest.raises(ConfigError, match="latent_init=params"):
        load_config(TINY, ["stage=generator", "optim.latent_linear=true"])
