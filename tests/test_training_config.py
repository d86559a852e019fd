"""Training configuration: YAML files, overrides, validation, removed keys, fingerprints and --print-config."""

from __future__ import annotations

import json

import pytest
import yaml
from test_training_common import ROOT, TINY, _config

from sem2nerf.training import ConfigError, load_config, main
from sem2nerf.training.config import TrainConfig

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
    assert (c.loss.l2, c.loss.lpips, c.loss.w_norm, c.loss.gan, c.loss.r1, c.loss.random_pose_prob) == (1.0, 0.8, 0.005, 0.08, 10.0, 0.2)
    assert (c.optim.name, c.optim.lr, c.optim.lr_dis) == ("ranger", 1e-4, 2e-5)
    assert (c.render.num_samples, c.render.patch_resolution, c.render.min_scale, c.render.anneal) == (28, 128, 0.125, 0.0019)
    cat = load_config(ROOT / "configs" / "catmask.yaml")
    assert (cat.loss.w_norm, cat.loss.gan, cat.loss.random_pose_prob, cat.render.min_scale) == (0.008, 0.1, 0.5, 0.08)


def test_config_fingerprint_ignores_step_counts_but_not_losses():
    a = load_config(TINY)
    assert a.fingerprint() == load_config(TINY, ["train.max_steps=99", "output_dir=elsewhere"]).fingerprint()
    assert a.fingerprint() != load_config(TINY, ["loss.gan=0.5"]).fingerprint()


def test_region_grid_needs_the_region_head_and_is_fingerprinted():
    """model.encoder_region_grid widens the region head: without model.encoder_region_stats it is an error; set, it
    changes the fingerprint (other weights), and off (0) it hashes as before the key existed."""
    with pytest.raises(ConfigError, match="encoder_region_grid adds cells"):
        load_config(TINY, ["model.encoder_region_grid=8"])
    head = load_config(TINY, ["model.encoder_region_stats=true"])
    assert head.fingerprint() == load_config(TINY, ["model.encoder_region_stats=true", "model.encoder_region_grid=0"]).fingerprint()
    assert head.fingerprint() != load_config(TINY, ["model.encoder_region_stats=true", "model.encoder_region_grid=8"]).fingerprint()


def test_latent_options_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="latent_extra"):
        _config(tmp_path, tmp_path, f"data.latent_extra={tmp_path}")  # loss.latent is 0
    with pytest.raises(ConfigError, match="latent_warmup_steps"):
        _config(tmp_path, tmp_path, "train.latent_warmup_steps=5")  # loss.latent is 0
    with pytest.raises(ConfigError, match="latent_params maps"):
        _config(tmp_path, tmp_path, "loss.latent_params=0.3")  # loss.latent is 0
    with pytest.raises(ConfigError, match="latent_params must be"):
        _config(tmp_path, tmp_path, "loss.latent=1", "loss.latent_params=-1")
    with pytest.raises(ConfigError, match="latent_extra_batch"):
        _config(tmp_path, tmp_path, "loss.latent=1", f"data.latent_extra={tmp_path}", "loss.latent_extra_batch=0")
    with pytest.raises(ConfigError, match="encoder-stage loss"):
        _config(tmp_path, tmp_path, "stage=generator", "loss.latent=1")
    assert _config(tmp_path, tmp_path, "loss.latent=1", f"data.latent_extra={tmp_path}", "loss.latent_params=0.3",
                   "train.latent_warmup_steps=2").loss.latent == 1.0


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
    assert load_config(ENCODER, ["loss.latent_params=0.2"]).fingerprint() != recorded["encoder"]["config_fingerprint"]


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
    assert {"DataConfig", "ModelConfig", "RenderConfig", "LossConfig", "OptimConfig", "TrainLoopConfig", "TrainConfig"} <= set(sections)
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
