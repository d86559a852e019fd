"""benchmarks/eval_synthetic.py: metrics on held-out SynthFaces identities, editing, style mixing, results sheet."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import TINY_CONFIG, load_benchmark
from PIL import Image

import sem2nerf
from sem2nerf import Sem2NeRF, get_domain
from sem2nerf.synthfaces import FaceParams, Light, generate_dataset, render_identity


@pytest.fixture(scope="module")
def bench():
    yield from load_benchmark("eval_synthetic")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    generate_dataset(root, identities=3, views=2, size=40, seed=1, workers=1, test_fraction=0.5, progress=None)
    return root


class GroundTruthModel:
    """A "model" that renders the SynthFaces identity behind the encoded mask file, from identity_params.json.

    It shares no code with the script's ground truth (a direct 12-degree render here, a crop of the full frame
    there; the pose and light read from the data set's files), so its scores test the framing, poses and lights.
    The mean face is a flat grey image.
    """

    def __init__(self, data_dir: Path) -> None:
        self.fov, self.domain, self.device = 12.0, get_domain("celebamask_hq"), torch.device("cpu")
        self.views = json.loads((data_dir / "synthfaces.json").read_text())["views_per_identity"]
        self.saved = json.loads((data_dir / "identity_params.json").read_text())
        self.encoded: list[tuple[str, tuple]] = []

    def encode(self, mask, pose=None):
        image = int(Path(mask).stem)
        entry = self.saved[f"id{image // self.views:05d}"]
        view = entry["views"][image % self.views]
        self.encoded.append((Path(mask).name, pose))
        light = Light(tuple(view["light"]["direction"]), view["light"]["ambient"], view["light"]["diffuse"])
        return SimpleNamespace(params=FaceParams.from_dict(entry["params"]), light=light)

    def average_scene(self):
        return None

    def render_options(self, samples):
        return None

    def render_output(self, scene, poses, size, options=None, seed=0):
        outs = []
        for pose in poses:
            if scene is None:  # the baseline: grey, opaque everywhere
                rgb, opaque = np.full((size, size, 3), 128, np.uint8), np.ones((size, size), bool)
            else:
                drawn = render_identity(scene.params, [(pose.yaw, pose.pitch)], size, [scene.light], fov=pose.fov)
                rgb, opaque = drawn["rgb"][0], drawn["labels"][0] != 0
            tensor = (torch.from_numpy(rgb).permute(2, 0, 1)[None].float() - 127.5) / 127.5  # to_pil rounds it back
            outs.append(SimpleNamespace(rgb=tensor, opacity=torch.from_numpy(opaque.astype(np.float32))[None]))
        return outs


def test_metric_helpers_on_identical_and_known_images(bench):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert bench.psnr(a, a) == math.inf
    assert bench.ssim(a, a) == pytest.approx(1.0)
    b = np.clip(a.astype(int) + 1, 0, 255).astype(np.uint8)
    assert bench.psnr(a, b) > 48.0 and bench.ssim(a, b) > 0.99
    assert bench.psnr(a, 255 - a) < 10.0 and bench.ssim(a, 255 - a) < 0.1
    assert bench.silhouette_iou(np.zeros((4, 4), bool), np.zeros((4, 4), bool)) == 1.0
    half = np.zeros((4, 4), bool)
    half[:2] = True
    assert bench.silhouette_iou(half, np.ones((4, 4), bool)) == 0.5


def test_edit_ratio_handles_identical_masks_and_a_still_outside(bench):
    labels = np.zeros((8, 8), np.uint8)
    rgb = np.zeros((8, 8, 3), np.uint8)
    same = bench.edit_change(labels, labels, rgb, rgb + 3)
    assert same.ratio is None and same.inside is None and "identical" in same.message
    edited = labels.copy()
    edited[:2] = 4
    changed = rgb.copy()
    changed[:2] = 40
    still = bench.edit_change(labels, edited, rgb, changed)
    assert still.ratio == math.inf and still.outside == 0.0 and "outside" in still.message
    changed[2:] = 4
    ratio = bench.edit_change(labels, edited, rgb, changed)
    assert ratio.ratio == pytest.approx(10.0) and ratio.edited_fraction == pytest.approx(0.25) and not ratio.message


def test_ground_truth_model_scores_near_perfect_at_every_pose(bench, dataset, capsys):
    torch.set_num_threads(1)  # as the script's command line does: many small operations on a busy CPU
    model = GroundTruthModel(dataset)
    result = bench.evaluate(model, dataset, identities=0, examples=None, style_scenes=0, lpips=False, log=lambda *_: None)
    rec = result["reconstruction"]
    assert [p["name"] for p in rec["poses"]] == list(bench.POSE_NAMES)
    assert result["render_size"] == 32 and len(result["identities"]) == 2
    test_images = (dataset / "test_paths.txt").read_text().split()
    assert sorted(name for name, _ in model.encoded) == sorted(f"{i}.png" for i in test_images if int(i) % 2 == 0)
    assert rec["identity_check"]["label_agreement_min"] == 1.0
    assert rec["identity_check"]["rgb_psnr_vs_stored_jpeg_min"] > 30.0
    for pose in rec["poses"]:
        assert pose["model"]["psnr"] > 35.0 and pose["model"]["ssim"] > 0.98, pose
        assert pose["margin"]["psnr"] > 10.0 and pose["margin"]["ssim"] > 0.3, pose
        assert pose["model"]["iou"] > 0.97 and pose["margin"]["iou"] > 0.05, pose  # its silhouette is the truth's (2.0 heads fill more of the frame alike: the mean face has IoU ~0.87)
        # the true shape in mean colours loses the colours the ground-truth model has
        assert pose["shape_reference"]["psnr"] < pose["model"]["psnr"] - 3.0, pose
    assert "LPIPS" not in capsys.readouterr().out  # evaluate() logs through ``log`` only


def test_command_line_on_a_tiny_model(bench, dataset, tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = Sem2NeRF(**TINY_CONFIG)
    with torch.no_grad():
        model.encoder.head.fc.weight.normal_(0, 0.02)
    model.save_pretrained(tmp_path / "model")
    out, sheet, edit_sheet = tmp_path / "eval.json", tmp_path / "sheet.png", tmp_path / "edits.png"
    result = bench.main(["--model", str(tmp_path / "model"), "--data", str(dataset), "--samples", "4", "--no-lpips",
                         "--style-scenes", "1", "--style-seeds", "1", "2", "--json", str(out), "--sheet", str(sheet),
                         "--edit-sheet", str(edit_sheet)])
    rec = result["reconstruction"]
    assert rec["lpips"] == "disabled (--no-lpips)"
    for pose in rec["poses"]:
        for who in ("model", "baseline", "margin"):
            assert math.isfinite(pose[who]["psnr"]) and math.isfinite(pose[who]["ssim"]) and pose[who]["lpips"] is None
    edits = result["editing"]["edits"]
    assert {e["edit"] for e in edits} >= {"eyes_bigger", "mouth_open", "hair_long"}
    for e in edits:
        assert 0.0 < e["edited_fraction"] < 1.0 and math.isfinite(e["inside"]) and math.isfinite(e["outside"])
    assert set(result["style"]["presets"]) == {"colour", "texture"}
    for preset in result["style"]["presets"].values():
        assert preset["renders"] == 2 and 0.0 <= preset["iou_min"] <= preset["iou_mean"] <= 1.0
    saved = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert saved["reconstruction"]["poses"][0]["name"] == "input" and saved["model"] == str(tmp_path / "model")
    width = 11 * 32 + 2 * 4
    assert Image.open(sheet).size == (width, 2 * 32 + 4)  # two test identities, one row each
    rows = len(edits)  # one row per edit: 5 tiles of 2 x 32 px and two gaps
    assert Image.open(edit_sheet).size == (5 * 64 + 2 * 4, rows * 64 + (rows - 1) * 4)
    assert "_sheet_rows" not in saved["editing"], "the sheet's pixels stay out of the JSON"
    monkeypatch.setattr(sem2nerf, "DEFAULT_MODEL_DIR", None, raising=False)
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--data", str(dataset)])
    assert exit_info.value.code == 2


def test_shape_reference_keeps_the_shape_and_only_swaps_colours(bench, dataset):
    """mean_colours averages every colour field (and nothing else); with an identity's own colours the shape
    reference is its ground truth, with others it differs only in colour (same labels)."""
    a, b = FaceParams(skin_rgb=(0.2, 0.4, 0.6), eye_open=0.5), FaceParams(skin_rgb=(0.4, 0.6, 0.8), eye_open=1.5, cloth_stripes=True)
    mean = bench.mean_colours([a.to_dict(), b.to_dict()])
    assert mean["skin_rgb"] == pytest.approx((0.3, 0.5, 0.7)) and mean["cloth_stripes"] is False
    assert "eye_open" not in mean and "background_top" in mean and "hat_rgb" in mean
    _, [identity] = bench.load_identities(dataset, 1, 0)
    poses = [identity.pose, (20.0, 0.0)]
    truth, labels, _ = bench.ground_truth(identity, poses, 40, 12.0)
    own = {key: getattr(identity.params, key) for key in mean}
    assert np.array_equal(bench.shape_reference(identity, poses, 40, 12.0, own), truth)
    other = bench.shape_reference(identity, poses, 40, 12.0, {**own, "skin_rgb": (0.9, 0.1, 0.1)})
    skin = labels == 1
    assert np.abs(other.astype(int) - truth).sum(-1)[skin].mean() > 20
