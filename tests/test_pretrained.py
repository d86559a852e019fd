"""The bundled default model: found by name offline, small, documented, the default of the app and the CLI,
and trained well enough that its geometry follows the mask."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import app
import sem2nerf
from sem2nerf import DEFAULT_MODEL, DEFAULT_MODEL_DIR, ModelLoadError, Sem2NeRF
from sem2nerf.__main__ import main
from sem2nerf.encoder import SwinEncoder
from sem2nerf.masks import frame_to_domain

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "masks" / "synth01.png"


@pytest.fixture(scope="module")
def default_model() -> Sem2NeRF:
    return Sem2NeRF.from_pretrained(DEFAULT_MODEL)


def test_bundled_folder_is_small_complete_and_documented():
    files = {p.name: p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir() if p.is_file()}
    assert {"config.json", "model.safetensors", "README.md"} <= set(files)
    assert sum(files.values()) <= 25 * 2**20
    card = (DEFAULT_MODEL_DIR / "README.md").read_text()
    for needed in ("train_accelerate.py", "python -m sem2nerf synth", "SynthFaces generator version", "seed",
                   "Wall time", "eval_synthetic.py", "PSNR", "SSIM", "mean face", "mask_following.py", "DrawnFaces"):
        assert needed in card, needed
    evaluation = json.loads((DEFAULT_MODEL_DIR / "evaluation.json").read_text())
    poses = evaluation["reconstruction"]["poses"]
    assert poses, "per-pose numbers are recorded"
    for pose in poses:
        assert pose["model"]["psnr"] > pose["baseline"]["psnr"], f"the model beats the mean face at {pose['name']}"
    following = evaluation["mask_following"]["sets"]
    assert {"synthfaces", "drawn", "examples", "examples_drawn"} <= set(following), "mask following on every mask set"


def test_the_committed_configs_reproduce_the_bundled_model():
    """The fingerprint each stage recorded (everything that defines the weights) is that of the config the recipe
    names: training with the committed configs gives the same run (options added since keep older fingerprints)."""
    from sem2nerf.training import load_config

    training = json.loads((DEFAULT_MODEL_DIR / "training.json").read_text())
    for stage in ("generator", "encoder"):
        config = ROOT / "configs" / f"synthfaces_{stage}.yaml"
        assert f"--config configs/synthfaces_{stage}.yaml" in training[stage]["training_command"]
        assert load_config(config).fingerprint() == training[stage]["config_fingerprint"], stage


def test_the_bundled_model_learnt_from_the_synthfaces_the_package_draws():
    """The bundled model was trained and evaluated on heads of the generator version the package draws now (its card,
    training.json and evaluation.json agree): a generator change that is not retrained on fails here."""
    from sem2nerf.synthfaces import GENERATOR_VERSION

    training = json.loads((DEFAULT_MODEL_DIR / "training.json").read_text())
    card = (DEFAULT_MODEL_DIR / "README.md").read_text()
    assert training["data"]["version"] == GENERATOR_VERSION
    assert f"SynthFaces generator version {GENERATOR_VERSION}" in card
    evaluation = json.loads((DEFAULT_MODEL_DIR / "evaluation.json").read_text())
    assert evaluation["generator_version"] == GENERATOR_VERSION


def test_a_mask_unlike_any_in_training_still_gives_a_head_not_fog(default_model):
    """A lone skin-coloured blob (no hair, eyes or mouth; far outside the training masks' region statistics): the
    region head's input and its code offset are clamped to their training ranges, so the scene is a head with empty
    space around it, not matter filling the frame (on an earlier model without the clamps 99.7 % of the rays were
    opaque; on this one, with the input clamp alone, 84 %)."""
    from sem2nerf import Pose

    blob = np.zeros((256, 256), np.uint8)
    blob[40:220, 60:200] = 1
    scene = default_model.encode(blob, carve=False)  # the clamps' doing, not the carving's
    out = default_model.render_output(scene, [Pose(0, 0, default_model.fov)], 48, default_model.render_options(12), seed=0)[0]
    opaque = float((out.opacity > 0.5).float().mean())
    assert 0.15 < opaque < 0.8, opaque
    for name in SwinEncoder.UNBOUNDED_BUFFERS:
        assert torch.isfinite(getattr(default_model.encoder, name)).all(), f"the bundled model has its {name}"


def test_loads_offline_by_name_and_by_folder(default_model, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    by_folder = Sem2NeRF.from_pretrained(DEFAULT_MODEL_DIR)
    for key, value in by_folder.state_dict().items():
        assert np.array_equal(value.numpy(), default_model.state_dict()[key].numpy()), key
    assert sem2nerf.DEFAULT_MODEL == "synthfaces" and default_model.domain.name == "celebamask_hq"


def test_a_local_folder_of_the_same_name_wins_and_missing_weights_are_explained(tiny_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tiny_model.save_pretrained(tmp_path / DEFAULT_MODEL)
    assert Sem2NeRF.from_pretrained(DEFAULT_MODEL).decoder.hidden_dim == tiny_model.decoder.hidden_dim
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")
    monkeypatch.setitem(sem2nerf.pretrained.PRESETS, DEFAULT_MODEL, tmp_path / "nothing")
    with pytest.raises(ModelLoadError, match="bundled model"):
        Sem2NeRF.from_pretrained(DEFAULT_MODEL)


def test_geometry_follows_the_mask(default_model):
    """Rendered at the mask's pose, the opaque pixels (depth in front of the far plane) cover the mask's face."""
    scene = default_model.encode(EXAMPLE, pose=(0.0, 0.0))
    _, depth = default_model.render(scene, yaw=0, pitch=0, size=64, samples=16, return_depth=True)
    framed = np.asarray(frame_to_domain(Image.fromarray(scene.mask.labels), default_model.domain, 64))
    foreground = framed != 0
    opaque = depth < default_model.ray_end - 0.02
    iou = (foreground & opaque).sum() / (foreground | opaque).sum()
    assert iou > 0.6, f"silhouette IoU {iou:.2f}"


def test_app_and_cli_default_to_the_bundled_model(monkeypatch, tmp_path):
    monkeypatch.delenv(app.MODEL_ENV, raising=False)
    assert app.parse_args([]).model == DEFAULT_MODEL
    model, status = app.load_model(DEFAULT_MODEL, device="cpu")
    assert model is not None and "bundled default" in status
    out = tmp_path / "view.png"
    assert main(["render", "--mask", str(EXAMPLE), "--yaw", "20", "--size", "64", "--samples", "6", "--out", str(out)]) == 0
    assert Image.open(out).size == (64, 64)
