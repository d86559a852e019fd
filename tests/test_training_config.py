"""Training configuration: YAML files, overrides, option groups, validation, moved and removed keys, fingerprints and
--print-config."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from test_training_common import ROOT, TINY, _config

from sem2nerf.training import ConfigError, load_config, main
from sem2nerf.training.config import _MOVED, TrainConfig

ENCODER = ROOT / "configs" / "synthfaces_encoder.yaml"
GENERATOR = ROOT / "configs" / "synthfaces_generator.yaml"


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
    assert (c.loss.l2, c.loss.lpips, c.encoder.w_norm, c.encoder.gan, c.loss.r1, c.encoder.random_pose_prob) == (1.0, 0.8, 0.005, 0.08, 10.0, 0.2)
    assert (c.optim.name, c.optim.lr, c.optim.lr_dis) == ("ranger", 1e-4, 2e-5)
    assert (c.render.num_samples, c.render.patch_resolution, c.render.min_scale, c.render.anneal) == (28, 128, 0.125, 0.0019)
    cat = load_config(ROOT / "configs" / "catmask.yaml")
    assert (cat.encoder.w_norm, cat.encoder.gan, cat.encoder.random_pose_prob, cat.render.min_scale) == (0.008, 0.1, 0.5, 0.08)


def test_config_fingerprint_ignores_step_counts_but_not_losses():
    a = load_config(TINY)
    assert a.fingerprint() == load_config(TINY, ["train.max_steps=99", "output_dir=elsewhere"]).fingerprint()
    assert a.fingerprint() != load_config(TINY, ["encoder.gan=0.5"]).fingerprint()


def test_region_grid_is_a_key_of_the_region_head_and_is_fingerprinted():
    """encoder.region_head.grid widens the region head: set, it changes the fingerprint (other weights), and 0 hashes
    as before the key existed; setting it switches the head on."""
    head = load_config(TINY, ["encoder.region_head=true"])
    assert head.encoder.region_head.grid == 0
    assert head.fingerprint() == load_config(TINY, ["encoder.region_head.grid=0"]).fingerprint()
    assert head.fingerprint() != load_config(TINY, ["encoder.region_head.grid=8"]).fingerprint()
    with pytest.raises(ConfigError, match="encoder.region_head.grid must be >= 0"):
        load_config(TINY, ["encoder.region_head.grid=-1"])
    with pytest.raises(ConfigError, match="encoder.region_head .*needs stage=encoder"):
        load_config(TINY, ["stage=generator", "encoder.region_head=true"])


def test_latent_options_are_checked(tmp_path):
    """encoder.latent's keys (its extra masks, parameter weight and warm-up are inside it, so none can be set without
    it) and its stage."""
    with pytest.raises(ConfigError, match="encoder.latent.params must be >= 0"):
        _config(tmp_path, tmp_path, "encoder.latent.params=-1")
    with pytest.raises(ConfigError, match="encoder.latent.warmup_steps must be >= 0"):
        _config(tmp_path, tmp_path, "encoder.latent.warmup_steps=-1")
    with pytest.raises(ConfigError, match="encoder.latent.extra.batch must be >= 1"):
        _config(tmp_path, tmp_path, f"encoder.latent.extra.root={tmp_path}", "encoder.latent.extra.batch=0")
    with pytest.raises(ConfigError, match="encoder.latent.extra.root must name"):
        _config(tmp_path, tmp_path, "encoder.latent.extra.batch=4")
    with pytest.raises(ConfigError, match=r"encoder.latent.weight must be > 0.*encoder.latent=null"):
        _config(tmp_path, tmp_path, "encoder.latent.weight=0")
    with pytest.raises(ConfigError, match="encoder-stage loss"):
        _config(tmp_path, tmp_path, "stage=generator", "encoder.latent.weight=1")
    with pytest.raises(ConfigError, match="encoder-stage loss"):  # its warm-up needs the encoder stage too
        _config(tmp_path, tmp_path, "stage=generator", "encoder.latent.warmup_steps=2")
    latent = _config(tmp_path, tmp_path, "encoder.latent.weight=1", f"encoder.latent.extra.root={tmp_path}",
                     "encoder.latent.params=0.3", "encoder.latent.warmup_steps=2").encoder.latent
    assert (latent.weight, latent.params, latent.warmup_steps, latent.extra.root, latent.extra.batch) == (1.0, 0.3, 2, str(tmp_path), 16)


def test_option_groups_are_on_when_present_and_off_when_absent_or_null(tmp_path):
    """A group is on when present (a mapping, {} or true: its defaults) and off when absent, null or false, in YAML and
    on the command line; a key of a group switches it on, and a later override wins."""
    on = [load_config(TINY, [o]).encoder.latent for o in ("encoder.latent=true", "encoder.latent={}", "encoder.latent.weight=1")]
    assert on[0] == on[1] == on[2] and on[0].weight == 1.0 and on[0].extra is None
    for off in ([], ["encoder.latent=null"], ["encoder.latent=false"], ["encoder.latent="], ["encoder.latent.weight=2", "encoder.latent=null"]):
        assert load_config(TINY, off).encoder.latent is None, off
    assert load_config(TINY, ["encoder.latent=null", "encoder.latent.params=0.5"]).encoder.latent.params == 0.5
    generator = load_config(TINY, ["stage=generator"]).generator
    assert generator.recon.weight == 1.0 and generator.recon.every == 1 and generator.geometry is None  # recon: on by default
    assert load_config(TINY, ["stage=generator", "generator.recon=null", "generator.adv=1"]).generator.recon is None
    tree = yaml.safe_load(TINY.read_text())
    tree["encoder"]["region_head"] = None
    tree["loss"]["part"] = {"labels": ["l_eye"]}
    (tmp_path / "groups.yaml").write_text(yaml.safe_dump(tree))
    config = load_config(tmp_path / "groups.yaml", ["encoder.region_head.grid=4"])
    assert config.encoder.region_head.grid == 4 and config.loss.part.weight == 1.0 and config.loss.part.labels == ["l_eye"]
    with pytest.raises(ConfigError, match="encoder.latent is an option group"):
        load_config(TINY, ["encoder.latent=1"])
    with pytest.raises(ConfigError, match="generator.latents must be a mapping"):
        load_config(TINY, ["generator.latents=3"])
    with pytest.raises(ConfigError, match="unknown config key.*encoder.latent.wieght"):
        load_config(TINY, ["encoder.latent.wieght=1"])


@pytest.mark.parametrize(("old", "new"), sorted(_MOVED.items()))
def test_moved_keys_are_errors_that_name_the_new_key(old, new, tmp_path):
    """Each key of the flat layout, on the command line or in a YAML file, is refused with its new key (never
    ignored)."""
    with pytest.raises(ConfigError, match=rf"config key {re.escape(old)} moved.*{re.escape(new)}"):
        load_config(TINY, [f"{old}=1"])
    section, name = old.split(".")
    tree = yaml.safe_load(TINY.read_text())
    tree.setdefault(section, {})[name] = 1
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(tree))
    with pytest.raises(ConfigError, match=rf"{re.escape(old)} moved.*{re.escape(new)}"):
        load_config(tmp_path / "old.yaml")


def test_the_layout_is_in_the_help(capsys):
    """`train_accelerate.py --help` lists every section and option group."""
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for needed in ("loss: l2, lpips, r1, silhouette, part={weight, labels}|null", "region_head={grid}|null",
                   "latent={weight, params, warmup_steps, extra={root, batch}|null}|null", "recon={weight, every}|null",
                   "geometry={weight, points, reach, focus}|null", "latents={init, linear, residual, residual_lr, lr}", "density_lr_scale"):
        assert needed in text, needed


@pytest.mark.parametrize(("key", "why"), [("loss.latent_target=params_adjusted", "former params_adjusted"),
                                          ("optim.region_lr_scale=0", "keeps its least-squares fit")])
def test_removed_keys_are_errors_that_say_what_became_of_them(key, why, tmp_path):
    """A removed key, on the command line or in a YAML file, is refused with what replaced it (never ignored)."""
    with pytest.raises(ConfigError, match=f"{key.split('=')[0]} was removed: .*{why}"):
        load_config(TINY, [key])
    section, rest = key.split(".", 1)
    name, value = rest.split("=")
    tree = yaml.safe_load(TINY.read_text())
    tree[section][name] = yaml.safe_load(value)
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(tree))
    with pytest.raises(ConfigError, match="was removed"):
        load_config(tmp_path / "old.yaml")


def test_the_bundled_models_fingerprints_are_the_shipped_configs():
    """The recorded fingerprints of the bundled model's two runs are those of the shipped configs: the removed keys
    hash as the values those runs had (loss.latent_target=params_adjusted, optim.region_lr_scale=0), and options added
    since hash as absent while off."""
    recorded = json.loads((ROOT / "sem2nerf" / "pretrained" / "synthfaces" / "training.json").read_text())
    assert load_config(ENCODER).fingerprint() == recorded["encoder"]["config_fingerprint"]
    assert load_config(GENERATOR).fingerprint() == recorded["generator"]["config_fingerprint"]
    assert load_config(ENCODER, ["encoder.latent.params=0.2"]).fingerprint() != recorded["encoder"]["config_fingerprint"]


# Fingerprints computed by the flat-layout code (commit 9440be7, before the per-stage sections): per shipped config
# (the tiny one in both stages), then configs with each option on, as (config, overrides in today's layout). The
# synthfaces_encoder ones are of its default-model-3 settings (loss.silhouette=3 train.latent_warmup_steps=0 in the
# flat layout), computed by that code at commit 95f928e.
FLAT_FINGERPRINTS = {
    ("catmask", ()): "458e5c390b8e3b3f",
    ("celebamask_hq", ()): "94465bd423b993fe",
    ("synthfaces_encoder", ()): "5ef8a32c0798523b",  # default model 3's (model 2's: b4a59096e4205f0b)
    ("synthfaces_generator", ()): "73d07812caf6c329",
    ("synthfaces_tiny", ()): "cfb64426c8b8ac21",
    ("synthfaces_tiny", ("stage=generator",)): "c80b910039be4dca",
    # old: loss.latent=1
    ("synthfaces_tiny", ("encoder.latent.weight=1",)): "7fd914aa6e768aeb",
    # old: loss.latent=0.5 loss.latent_params=0.3 train.latent_warmup_steps=2 data.latent_extra=/x loss.latent_extra_batch=4
    ("synthfaces_tiny", ("encoder.latent.weight=0.5", "encoder.latent.params=0.3", "encoder.latent.warmup_steps=2",
                         "encoder.latent.extra.root=/x", "encoder.latent.extra.batch=4")): "6dcd945fc4d3eaab",
    # old: model.encoder_region_stats=true (model.encoder_region_grid=8)
    ("synthfaces_tiny", ("encoder.region_head={}",)): "2d6d171a37015406",
    ("synthfaces_tiny", ("encoder.region_head.grid=8",)): "7ab881cdbc4ab968",
    # old: data.mask_realism=1.5
    ("synthfaces_tiny", ("encoder.mask_realism=1.5",)): "dc78c3db40d193ca",
    # old: loss.part_weight=5 (loss.part_labels=[l_eye, r_eye])
    ("synthfaces_tiny", ("loss.part.weight=5", "loss.part.labels=[l_eye, r_eye]")): "60b384fcab13dcbb",
    ("synthfaces_tiny", ("stage=generator", "loss.part.weight=5")): "3f0834096f986f83",
    # old: loss.geometry=1 loss.geometry_points=512 loss.geometry_reach=0.2 loss.geometry_focus=0.5 loss.recon_every=2
    ("synthfaces_tiny", ("stage=generator", "generator.geometry.weight=1", "generator.geometry.points=512",
                         "generator.geometry.reach=0.2", "generator.geometry.focus=0.5", "generator.recon.every=2")): "9c6f0e65b987fca4",
    # old: optim.latent_init=params optim.latent_linear=true optim.lr_latent=0.02 optim.density_lr_scale=50 loss.z_reg=0.1
    ("synthfaces_tiny", ("stage=generator", "generator.latents.init=params", "generator.latents.linear=true",
                         "generator.latents.lr=0.02", "generator.density_lr_scale=50", "generator.z_reg=0.1")): "8094f2a5fe01bafc",
    # old: loss.recon=0 loss.adv=1
    ("synthfaces_tiny", ("stage=generator", "generator.recon=null", "generator.adv=1")): "a0c5ff29afec9bc2",
    # old: loss.w_norm=0.01 loss.gan=0.1 loss.random_pose_prob=0.3 loss.silhouette=1
    ("synthfaces_tiny", ("encoder.w_norm=0.01", "encoder.gan=0.1", "encoder.random_pose_prob=0.3", "loss.silhouette=1")): "5e98c0edc0200fc1",
    # old: data.mask_realism=0 / loss.latent_params=0.2 / model.encoder_region_stats=false
    ("synthfaces_encoder", ("encoder.mask_realism=0",)): "e3539a334bcf92f7",
    ("synthfaces_encoder", ("encoder.latent.params=0.2",)): "75e1e78e2786fa3f",
    ("synthfaces_encoder", ("encoder.region_head=null",)): "03d44230cfceba0c",
    # old: loss.recon=2 / optim.latent_linear=false
    ("synthfaces_generator", ("generator.recon.weight=2",)): "5aa71db9ef2586b3",
    ("synthfaces_generator", ("generator.latents.linear=false",)): "9858bfec5ee4b338",
}


@pytest.mark.parametrize(("name", "overrides"), sorted(FLAT_FINGERPRINTS), ids=lambda v: v if isinstance(v, str) else " ".join(v))
def test_fingerprints_are_those_of_the_flat_layout(name, overrides):
    """TrainConfig.fingerprint hashes the flat layout (TrainConfig.flat): every shipped config, and configs with each
    option on, keep the fingerprint that the code before the per-stage sections gave them (so their runs resume)."""
    assert load_config(ROOT / "configs" / f"{name}.yaml", list(overrides)).fingerprint() == FLAT_FINGERPRINTS[name, overrides]


def test_the_flat_layout_has_the_old_keys_only():
    """flat() has the old sections and keys, an option that is off at the value that meant off there."""
    flat = load_config(GENERATOR).flat()
    assert set(flat) == {"stage", "seed", "output_dir", "decoder", "data", "model", "render", "loss", "optim", "train"}
    assert (flat["loss"]["geometry"], flat["loss"]["geometry_focus"], flat["loss"]["recon_every"], flat["loss"]["part_weight"]) == (1.0, 0.5, 3, 10.0)
    assert (flat["optim"]["latent_linear"], flat["optim"]["lr_latent"], flat["loss"]["latent"], flat["data"]["latent_extra"]) == (True, 5e-3, 0.0, None)
    assert "part" not in flat["loss"] and flat["model"]["encoder_region_stats"] is False
    assert sorted(f"{s}.{k}" for s in ("data", "model", "loss", "optim", "train") for k in flat[s] if f"{s}.{k}" in _MOVED) == sorted(_MOVED)


@pytest.mark.parametrize("config", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_print_config_writes_a_config_that_loads_back_to_the_same_run(config, capsys, tmp_path):
    """--print-config prints the resolved config (overrides applied) as YAML that loads back to an equal config."""
    assert main(["--config", str(config), "--print-config", "train.max_steps=11", "seed=3"]) == 0
    printed = capsys.readouterr().out
    (tmp_path / "printed.yaml").write_text(printed)
    again = load_config(tmp_path / "printed.yaml")
    expected = load_config(config, ["train.max_steps=11", "seed=3"])
    assert again.to_dict() == expected.to_dict() and again.fingerprint() == expected.fingerprint()


def test_every_config_field_has_a_docstring():
    """Each field of each section is documented where it is defined (an attribute docstring right after it); the
    nested sections are documented by their classes."""
    import ast
    import inspect

    from sem2nerf.training import config as config_mod

    tree = ast.parse(inspect.getsource(config_mod))
    sections = {n.name: n.body for n in tree.body if isinstance(n, ast.ClassDef) and n.name.endswith("Config")}
    assert {"DataConfig", "ModelConfig", "RenderConfig", "LossConfig", "PartLossConfig", "EncoderConfig", "LatentLossConfig",
            "LatentExtraConfig", "RegionHeadConfig", "GeneratorConfig", "ReconLossConfig", "GeometryLossConfig", "LatentsConfig",
            "OptimConfig", "TrainLoopConfig", "TrainConfig"} <= set(sections)
    undocumented = []
    for name, body in sections.items():
        for item, after in zip(body, [*body[1:], None]):
            if not isinstance(item, ast.AnnAssign) or ast.unparse(item.annotation).endswith("Config"):
                continue
            if not (isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
                undocumented.append(f"{name}.{item.target.id}")
    assert not undocumented, undocumented
    assert len([i for body in sections.values() for i in body if isinstance(i, ast.AnnAssign)]) > 60


def test_a_default_config_validates():
    config = TrainConfig(decoder="somewhere")
    config.validate()
    assert config.stage == "encoder"
