"""The two training stages on a tiny SynthFaces set: what each trains, its losses, options and export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_training_common import (  # noqa: F401 (fixtures)
    FIXED_PATCH,
    TINY,
    _config,
    _metrics,
    first_two_items_fixture,
    overfit_generator_fixture,
    tiny_data_fixture,
    tiny_decoder_fixture,
)

from sem2nerf import Sem2NeRF
from sem2nerf.decoder import PiGANDecoder
from sem2nerf.decoder_folder import load_decoder, save_decoder
from sem2nerf.renderer import RenderOptions
from sem2nerf.training import ConfigError, load_config
from sem2nerf.training.data import MaskImageDataset
from sem2nerf.training.stages import GeneratorNetwork, LinearLatents
from sem2nerf.training.trainer import train


def test_generator_stage_exports_a_decoder_folder_that_loads(tiny_decoder):
    decoder, config = load_decoder(tiny_decoder, expect={"decoder_hidden_dim": 32, "domain": "celebamask_hq"})
    assert config["metadata"]["stage"] == "generator"
    assert all(torch.isfinite(p).all() for p in decoder.parameters())
    records = [r for r in _metrics(tiny_decoder.parent) if "l2" in r]
    assert len(records) == 3 and all(np.isfinite(r["total"]) for r in records)


def test_generator_stage_overfits_one_batch(overfit_generator):
    """Reconstruction of one fixed batch: the loss falls well below its start."""
    _, losses = overfit_generator
    assert len(losses) == 25 and all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.75 * np.mean(losses[:2])


def test_geometry_loss_on_synthfaces_heads_falls_and_renders_only_every_kth_step(tiny_data, tmp_path, first_two_items):
    """generator.geometry (3D density/colour targets of each head) is learnt; generator.recon.every=2 renders on even
    steps only."""
    train(_config(tmp_path, tiny_data, "stage=generator", "train.max_steps=30", "generator.geometry.weight=1",
                  "generator.recon.every=2", "generator.geometry.points=512", "generator.density_lr_scale=50", *FIXED_PATCH))
    records = [r for r in _metrics(tmp_path) if "total" in r]
    geometry = [r["geometry"] for r in records]
    assert len(geometry) == 30 and all(np.isfinite(geometry))
    assert np.mean(geometry[-3:]) < 0.6 * np.mean(geometry[:2])
    assert [r["step"] for r in records if "l2" in r] == list(range(1, 31, 2))  # steps 0, 2, ... are logged as 1, 3, ...


def test_silhouette_loss_makes_background_rays_transparent(tiny_data, tmp_path, first_two_items):
    """loss.silhouette: the rendered opacity of one fixed batch moves to the masks' foreground (the loss falls)."""
    train(_config(tmp_path, tiny_data, "stage=generator", "train.max_steps=40", "loss.silhouette=1", "loss.l2=0",
                  "optim.lr=2e-3", "generator.density_lr_scale=100", *FIXED_PATCH))
    silhouette = [r["silhouette"] for r in _metrics(tmp_path) if "silhouette" in r]
    assert len(silhouette) == 40 and all(np.isfinite(silhouette))
    assert np.mean(silhouette[-3:]) < 0.7 * np.mean(silhouette[:2])
    with pytest.raises(ConfigError, match="loss.silhouette"):
        _config(tmp_path, tiny_data, "stage=generator", "loss.silhouette=1", "generator.recon=null", "generator.geometry=true")


def test_part_maps_cover_the_small_parts_of_each_mask(tiny_data):
    """The dataset's ``parts`` is the fraction of each pixel in loss.part.labels: inside the foreground, a few
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


def test_part_weight_trains_both_stages_and_is_checked(tiny_data, tiny_decoder, tmp_path):
    train(_config(tmp_path / "gen", tiny_data, "stage=generator", "train.max_steps=2", "loss.part.weight=5"))
    train(_config(tmp_path / "enc", tiny_data, f"decoder={tiny_decoder}", "train.max_steps=2", "loss.part.weight=5",
                  "loss.part.labels=[l_eye, r_eye]"))
    for stage in ("gen", "enc"):
        records = [r for r in _metrics(tmp_path / stage) if "l2" in r]
        assert records and all(np.isfinite(r["l2"]) for r in records)
    with pytest.raises(ConfigError, match="not in celebamask_hq_raw"):
        _config(tmp_path, tiny_data, "loss.part.weight=5", "loss.part.labels=[eyes]")
    with pytest.raises(ConfigError, match="labels must be a non-empty list"):
        _config(tmp_path, tiny_data, "loss.part.labels=[]")
    for weight in (0, -1):
        with pytest.raises(ConfigError, match=r"loss.part.weight must be > 0.*loss.part=null"):
            _config(tmp_path, tiny_data, f"loss.part.weight={weight}")
    assert _config(tmp_path, tiny_data).fingerprint() == _config(tmp_path, tiny_data, "loss.part=null").fingerprint()
    assert _config(tmp_path, tiny_data, "loss.part.labels=[l_eye]").loss.part.weight == 1.0  # a key of it switches it on


def test_geometry_needs_synthfaces_identity_parameters(tiny_data, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    (data / "identity_params.json").unlink()
    with pytest.raises(ConfigError, match="identity_params.json"):
        train(_config(tmp_path / "out", data, "stage=generator", "train.max_steps=1", "generator.geometry.weight=1"))
    with pytest.raises(ConfigError, match="generator-stage loss"):
        _config(tmp_path, data, "generator.geometry.weight=1")
    with pytest.raises(ConfigError, match="geometry.focus is a fraction"):
        _config(tmp_path, data, "stage=generator", "generator.geometry.focus=2")
    with pytest.raises(ConfigError, match="geometry.points must be >= 1"):
        _config(tmp_path, data, "stage=generator", "generator.geometry.points=0")


def test_geometry_focus_reaches_the_points_the_trainer_samples(tiny_data, tmp_path):
    """generator.geometry.focus: the generator stage's data set serves points concentrated at the small parts (0: a
    config has the fingerprint it had before the key existed)."""
    from sem2nerf.training.trainer import build_datasets

    geometry = ["stage=generator", "generator.geometry=true"]
    assert load_config(TINY, geometry).fingerprint() == load_config(TINY, [*geometry, "generator.geometry.focus=0"]).fingerprint()
    assert load_config(TINY, geometry).fingerprint() != load_config(TINY, [*geometry, "generator.geometry.focus=0.5"]).fingerprint()
    sets = [build_datasets(_config(tmp_path, tiny_data, "stage=generator", "generator.geometry.points=64",
                                   f"generator.geometry.focus={f}"))[0] for f in (0.0, 0.5)]
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
    """A generator stage with generator.latents.linear trains W (the exported latents move from the start) and exports,
    per trained identity, exactly features @ W; resuming it is exact (W is in the checkpoint)."""
    from sem2nerf.decoder_folder import load_identity_latents
    
    extra = ["stage=generator", "generator.latents.init=params", "generator.latents.linear=true", "generator.z_reg=0.1"]
    export = train(_config(tmp_path, tiny_data, *extra, "train.max_steps=2", "train.save_every=1"))
    names, z = load_identity_latents(export)
    data = MaskImageDataset(tiny_data, "celebamask_hq", "train_paths.txt", 32, encoder_size=None)
    features = data.identity_features()
    decoder = PiGANDecoder(32, 3, 16, 32, 2)
    start = GeneratorNetwork(decoder, data.num_identities, RenderOptions(), 32, 12.0, seed=0, features=features).latents.weight
    rows = torch.tensor([data.identity_names.index(n) for n in names])
    solved = torch.linalg.lstsq(features[rows], z).solution  # the exported latents are one linear map of the features
    assert torch.allclose(features[rows] @ solved, z, atol=1e-4)
    assert not torch.allclose(start[rows], z, atol=1e-6)  # and W trained
    again = train(_config(tmp_path, tiny_data, *extra, "train.max_steps=2", "train.save_every=1"), resume=str(tmp_path / "checkpoints" / "step_00000001"))
    assert torch.allclose(load_identity_latents(again)[1], z, atol=1e-6)


def test_latent_residual_adds_per_identity_freedom_to_the_linear_map(tiny_data, tmp_path):
    """generator.latents.residual: a per-identity residual on top of the linear map trains (the exported latents are no
    longer one linear map of the features), its penalty is logged, it needs the linear map, and off it leaves the
    config's fingerprint as it was."""
    from sem2nerf.decoder_folder import load_identity_latents
    from sem2nerf.training.config import ConfigError as Error

    extra = ["stage=generator", "generator.latents.init=params", "generator.latents.linear=true",
             "generator.latents.residual=0.01", "train.log_every=1"]
    export = train(_config(tmp_path, tiny_data, *extra, "train.max_steps=3", "train.save_every=3"))
    names, z = load_identity_latents(export)
    state = {k: v for f in (tmp_path / "checkpoints").glob("*/*.safetensors") for k, v in load_file(f).items()}
    get = lambda name: next(v for k, v in state.items() if k.endswith(f"latents.{name}"))
    residual = get("residual")
    assert float(residual.abs().max()) > 0, "the residual trained"
    data = MaskImageDataset(tiny_data, "celebamask_hq", "train_paths.txt", 32, encoder_size=None)
    rows = torch.tensor([data.identity_names.index(n) for n in names])
    assert torch.allclose(z, (get("features") @ get("map") + residual)[rows], atol=1e-5), "exported: map + residual"
    assert any("latent_residual" in row for row in _metrics(tmp_path))
    with pytest.raises(Error, match="latents.linear"):
        _config(tmp_path, tiny_data, "stage=generator", "generator.latents.residual=0.01")
    base = ["stage=generator", "generator.latents.init=params", "generator.latents.linear=true"]
    assert _config(tmp_path, tiny_data, *base).fingerprint() == _config(
        tmp_path, tiny_data, *base, "generator.latents.residual=0").fingerprint()
    assert _config(tmp_path, tiny_data, *base).fingerprint() != _config(tmp_path, tiny_data, *extra).fingerprint()


def test_params_latent_init_gives_similar_heads_similar_latents(tiny_data):
    """generator.latents.init=params: latents are a fixed projection of the standardised SynthFaces parameters, so
    distances between identities' latents follow the distances between their parameters."""
    
    data = MaskImageDataset(tiny_data, "celebamask_hq", "train_paths.txt", 32, encoder_size=None)
    features = data.identity_features()
    assert features.shape[0] == data.num_identities and torch.allclose(features.mean(0), torch.zeros(features.shape[1]), atol=1e-5)
    decoder = PiGANDecoder(32, 3, 128, 32, 2)  # z_dim 128: a random projection to it keeps distances (JL)
    stage = GeneratorNetwork(decoder, data.num_identities, RenderOptions(), 32, 12.0, seed=0, features=features)
    z = stage.latents.weight.detach()
    iu = torch.triu_indices(len(z), len(z), 1)
    d_z, d_f = torch.cdist(z, z)[iu[0], iu[1]], torch.cdist(features, features)[iu[0], iu[1]]
    corr = torch.corrcoef(torch.stack((d_z, d_f)))[0, 1]
    assert corr > 0.5, f"latent distances follow parameter distances (r = {corr:.2f})"
    assert 0.5 < float(z.std()) < 1.5, "about unit variance, like the N(0, I) start"
    random = GeneratorNetwork(decoder, data.num_identities, RenderOptions(), 32, 12.0, seed=0).latents.weight.detach()
    d_r = torch.cdist(random, random)[iu[0], iu[1]]
    assert torch.corrcoef(torch.stack((d_r, d_f)))[0, 1] < corr


def test_latent_loss_pulls_the_encoder_to_the_read_out_codes(tiny_data, tiny_decoder, tmp_path):
    """encoder.latent alone (no render loss): the error against the read-out codes of one fixed batch falls well below
    its start."""
    from sem2nerf.training import data as data_mod

    original = data_mod.StepBatchSampler.batch_at
    data_mod.StepBatchSampler.batch_at = lambda self, m: [0, 4]
    try:
        train(_config(tmp_path, tiny_data, f"decoder={tiny_decoder}", "train.max_steps=20", "encoder.latent.weight=1",
                      "loss.l2=0", "encoder.gan=0", "encoder.w_norm=0", "optim.name=adam", "optim.betas=[0.9,0.999]"))
    finally:
        data_mod.StepBatchSampler.batch_at = original
    latent = [r["latent"] for r in _metrics(tmp_path) if "latent" in r]
    assert len(latent) == 20 and all(np.isfinite(latent))
    assert np.mean(latent[-3:]) < 0.5 * np.mean(latent[:2])


@pytest.mark.parametrize("latent_params", [0.0, 0.3])
def test_latent_loss_with_extra_masks_regresses_the_extra_masks(tiny_data, tiny_decoder, tmp_path, latent_params):
    """encoder.latent (the read-out fitted on every parameter, read with the hidden ones at their mean; with
    encoder.latent.params the error also counted in the read-out's parameters) with encoder.latent.extra: every step also
    encodes masks of another SynthFaces set (never rendered) and regresses them to the read-out of their parameters;
    that error falls with training."""
    from sem2nerf.synthfaces import generate_dataset
    from sem2nerf.training import data as data_mod

    extra = tmp_path / "extra"
    generate_dataset(extra, identities=2, views=1, size=40, seed=11, test_fraction=0.0, workers=1)
    original = data_mod.StepBatchSampler.batch_at
    data_mod.StepBatchSampler.batch_at = lambda self, m: [0, 1] if self.n == 2 else [0, 4]
    try:
        train(_config(tmp_path / "out", tiny_data, f"decoder={tiny_decoder}", "train.max_steps=20", "encoder.latent.weight=1",
                      f"encoder.latent.params={latent_params}", f"encoder.latent.extra.root={extra}",
                      "encoder.latent.extra.batch=2", "loss.l2=0",
                      "encoder.gan=0", "encoder.w_norm=0", "optim.name=adam", "optim.betas=[0.9,0.999]"))
    finally:
        data_mod.StepBatchSampler.batch_at = original
    records = [r for r in _metrics(tmp_path / "out") if "latent_extra" in r]
    assert len(records) == 20 and all(np.isfinite(r["latent_extra"]) and np.isfinite(r["latent"]) for r in records)
    extra_loss = [r["latent_extra"] for r in records]
    assert np.mean(extra_loss[-3:]) < 0.5 * np.mean(extra_loss[:2])


def test_encoder_stage_with_region_head_starts_from_the_fit_and_exports_it(tiny_data, tiny_decoder, tmp_path):
    """encoder.region_head: the region head is fitted before the first step, so the first step's code
    loss is lower than with the zero-initialised encoder alone; the export carries the head and loads."""
    common = [f"decoder={tiny_decoder}", "train.max_steps=1", "encoder.latent.weight=1",
              "encoder.latent.warmup_steps=1", "train.log_every=1"]
    train(_config(tmp_path / "plain", tiny_data, *common))
    export = train(_config(tmp_path / "region", tiny_data, *common, "encoder.region_head=true"))
    plain, region = ([r["latent"] for r in _metrics(tmp_path / name) if "latent" in r] for name in ("plain", "region"))
    assert len(plain) == len(region) == 1 and region[0] < 0.9 * plain[0], (plain, region)
    model = Sem2NeRF.from_pretrained(export)
    assert model.encoder.region_head is not None
    assert float(model.encoder.region_head.weight.detach().abs().max()) > 0 and not torch.equal(
        model.encoder.region_std, torch.ones_like(model.encoder.region_std))
    fingerprint = lambda *extra: _config(tmp_path, tiny_data, *common, *extra).fingerprint()
    assert fingerprint() == fingerprint("encoder.region_head=null"), "off: the runs written before it match"
    assert fingerprint() != fingerprint("encoder.region_head=true")


def test_region_head_output_is_clamped_to_its_training_range_at_export(tiny_data, tiny_decoder, tmp_path):
    """The export clamps the region head's code offset per dimension to its range over the training masks: on every
    training mask the clamp changes nothing, while a mask unlike any of them (one class filling the frame) has
    dimensions that the clamp brings back into that range (each statistic alone is already in its range)."""
    overrides = [f"decoder={tiny_decoder}", "encoder.latent.weight=1", "encoder.region_head=true",
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


def test_the_region_head_keeps_its_fit_while_the_swin_trains(tiny_data, tiny_decoder, tmp_path):
    """The region head keeps its least-squares fit through training (the same after 1 and after 3 steps) while the
    Swin trains."""
    common = [f"decoder={tiny_decoder}", "encoder.latent.weight=1", "encoder.region_head=true", "encoder.random_pose_prob=0"]
    one = load_file(train(_config(tmp_path / "one", tiny_data, *common, "train.max_steps=1")) / "model.safetensors")
    three = load_file(train(_config(tmp_path / "three", tiny_data, *common, "train.max_steps=3")) / "model.safetensors")
    for key in ("encoder.region_head.weight", "encoder.region_head.bias", "encoder.region_mean", "encoder.region_std",
                "encoder.region_low", "encoder.region_high"):
        assert torch.equal(one[key], three[key]), key
    assert float(one["encoder.region_head.weight"].abs().max()) > 0, "fitted, not zero"
    assert not torch.equal(one["encoder.head.fc.weight"], three["encoder.head.fc.weight"]), "the Swin trains"


def test_latent_warmup_steps_train_codes_only_then_the_paper_losses(tiny_data, tiny_decoder, tmp_path):
    """encoder.latent.warmup_steps=2: the first two steps have the latent loss and no render or GAN losses; the steps
    after them have the render losses again."""
    train(_config(tmp_path, tiny_data, f"decoder={tiny_decoder}", "train.max_steps=4", "encoder.latent.weight=1",
                  "encoder.latent.warmup_steps=2", "encoder.random_pose_prob=0", "encoder.gan=0.1"))
    records = [r for r in _metrics(tmp_path) if "total" in r]
    assert len(records) == 4
    for r in records[:2]:
        assert "latent" in r and not {"l2", "g_gan", "d_gan", "psnr_patch"} & set(r), r
    for r in records[2:]:
        assert {"latent", "l2", "g_gan", "d_gan"} <= set(r), r


def test_latent_loss_needs_identity_latents_and_the_encoder_stage(tiny_data, tmp_path):
    plain = save_decoder(PiGANDecoder(32, 3, 16, 32, 2), tmp_path / "plain_decoder", domain="celebamask_hq")
    with pytest.raises(ConfigError, match="identity_latents.safetensors"):
        train(_config(tmp_path / "out", tiny_data, f"decoder={plain}", "encoder.latent.weight=1"))
    with pytest.raises(ConfigError, match="encoder-stage loss"):
        _config(tmp_path, tiny_data, "stage=generator", "encoder.latent.weight=1")


def test_encoder_stage_runs_exports_and_renders(tiny_data, tiny_decoder, tmp_path):
    export = train(_config(tmp_path, tiny_data, f"decoder={tiny_decoder}", "train.max_steps=3", "encoder.random_pose_prob=0.5",
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
    config = _config(tmp_path, tiny_data, f"decoder={decoder}", "train.max_steps=15", "optim.lr=5e-3", "encoder.gan=0",
                     "encoder.random_pose_prob=0", "model.encoder_drop_path_rate=0", *FIXED_PATCH)
    original = data_mod.StepBatchSampler.batch_at
    data_mod.StepBatchSampler.batch_at = lambda self, m: [0, 1]
    try:
        train(config)
    finally:
        data_mod.StepBatchSampler.batch_at = original
    losses = [r["l2"] for r in _metrics(tmp_path) if "l2" in r]
    assert len(losses) == 15 and all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.92 * np.mean(losses[:2])


def test_linear_latents_are_one_learned_map_of_the_identity_features():
    """generator.latents.linear: every identity latent is features @ W (one shared W, trained), starting at the same
    random projection as latents.init=params; the per-identity table follows W."""
    
    decoder = PiGANDecoder(hidden_dim=16, num_layers=2, z_dim=8, mapping_hidden_dim=16, mapping_depth=1)
    features = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    free = GeneratorNetwork(decoder, 5, RenderOptions(), 32, 12.0, 7, features)
    tied = GeneratorNetwork(decoder, 5, RenderOptions(), 32, 12.0, 7, features, linear=True)
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
        GeneratorNetwork(decoder, 5, RenderOptions(), 32, 12.0, 7, None, linear=True)
    with pytest.raises(ConfigError, match="latents.init=params"):
        load_config(TINY, ["stage=generator", "generator.latents.linear=true"])
