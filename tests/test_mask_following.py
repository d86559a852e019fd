"""benchmarks/mask_following.py: mask-following metrics without ground truth, and one tiny end-to-end run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import load_benchmark
from PIL import Image

from sem2nerf.drawn import apply_drawn_edit, draw_mask, sample_drawn_face
from sem2nerf.synthfaces import apply_edit, draw_identity, generate_dataset, render_identity


@pytest.fixture(scope="module")
def bench():
    yield from load_benchmark("mask_following")


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: on a busy 2-core machine a second thread stalls the first (the script's own default)."""
    torch.set_num_threads(1)


def _square(size: int = 32, lo: int = 8, hi: int = 16) -> np.ndarray:
    region = np.zeros((size, size), bool)
    region[lo:hi, lo:hi] = True
    return region


# --- metric functions on fabricated arrays ---------------------------------------------------------------


def test_locality_is_large_for_a_change_inside_the_region_only(bench):
    region = _square()
    change = np.where(region, 40.0, 0.4)
    out = bench.pooled_locality([(region, change)])
    assert out["pairs"] == 1
    assert out["inside"] == pytest.approx(40.0) and out["outside"] == pytest.approx(0.4)
    assert out["ratio"] == pytest.approx(100.0)


def test_locality_is_about_one_for_a_change_everywhere(bench):
    rng = np.random.default_rng(0)
    region = _square()
    change = 20.0 + rng.uniform(-1, 1, region.shape)
    assert bench.pooled_locality([(region, change)])["ratio"] == pytest.approx(1.0, abs=0.1)


def test_locality_pools_pixels_so_large_regions_weigh_more(bench):
    small, large = _square(32, 0, 2), _square(32, 0, 16)  # 4 and 256 edited pixels
    a = np.where(small, 10.0, 1.0)  # ratio 10
    b = np.where(large, 2.0, 1.0)  # ratio 2
    out = bench.pooled_locality([(small, a), (large, b)])
    inside = (4 * 10.0 + 256 * 2.0) / 260
    assert out["inside"] == pytest.approx(inside) and out["outside"] == pytest.approx(1.0)
    assert out["ratio"] == pytest.approx(inside)  # not the mean of the per-pair ratios (6)


def test_locality_skips_pairs_without_an_edited_region(bench):
    empty = np.zeros((8, 8), bool)
    assert bench.pooled_locality([(empty, np.ones((8, 8)))]) == {"pairs": 0, "inside": None, "outside": None, "ratio": None}


def test_identical_silhouettes_have_iou_one_and_disjoint_ones_zero(bench):
    labels = np.zeros((32, 32), np.uint8)
    labels[4:28, 6:26] = 1
    labels[10:12, 10:14] = 4  # any foreground label counts
    opacity = (labels != 0).astype(np.float32) * 0.9
    assert bench.foreground_iou(opacity, labels) == 1.0
    assert bench.foreground_iou(1.0 - opacity, labels) == 0.0
    assert bench.foreground_iou(opacity * 0.5, labels) == 0.0  # opacity 0.45 is below the 0.5 threshold


def test_asymmetry_exceeds_one_when_the_change_is_on_the_edited_side(bench):
    change = np.ones((16, 16))
    change[:, 8:] = 5.0  # the image's right changes most
    region = np.zeros((16, 16), bool)
    region[10:, 12:] = True
    right = bench.asymmetry([("right", region, change)])  # e.g. hair_longer_left: the person's left = image right
    assert right["ratio"] == pytest.approx(5.0) and right["correct_side"] == 1.0
    assert right["side_share"] == pytest.approx(5 / 6) and right["mask_side_share"] == 1.0
    left = bench.asymmetry([("left", region, change)])
    assert left["ratio"] == pytest.approx(0.2) and left["correct_side"] == 0.0 and left["mask_side_share"] == 0.0
    symmetric = bench.asymmetry([("right", region, np.full((16, 16), 3.0))])
    assert symmetric["ratio"] == pytest.approx(1.0) and symmetric["side_share"] == pytest.approx(0.5)


def test_one_sided_edits_map_to_the_image_side_the_generators_change(bench):
    """``hair_longer_left`` (the person's left) must change the IMAGE's right in both mask generators."""
    checked = 0
    for i in range(6):
        face = sample_drawn_face(np.random.default_rng(np.random.SeedSequence([0, i])))
        base = draw_mask(face, 64)
        for edit, side in bench.ONE_SIDED.items():
            region = base != draw_mask(apply_drawn_edit(face, edit), 64)
            if region.sum() >= 4:
                checked += 1
                assert bench.asymmetry([(side, region, np.zeros(region.shape))])["mask_side_share"] > 0.9, (i, edit)
    params, _, lights = draw_identity(0, 3, 1)
    base = render_identity(params, [(0.0, 0.0)], 40, lights)["labels"][0]
    for edit, side in bench.ONE_SIDED.items():
        region = base != render_identity(apply_edit(params, edit), [(0.0, 0.0)], 40, lights)["labels"][0]
        if region.sum() >= 4:
            checked += 1
            assert bench.asymmetry([(side, region, np.zeros(region.shape))])["mask_side_share"] > 0.9, ("synth", edit)
    assert checked >= 4


def test_distinctness_is_zero_for_identical_renders_and_the_pair_mean_otherwise(bench):
    a = np.zeros((8, 8, 3), np.uint8)
    assert bench.distinctness([a, a.copy(), a.copy()])["mean"] == 0.0
    b, c = np.full_like(a, 30), np.full_like(a, 90)
    out = bench.distinctness([a, b, c])
    assert out["pairs"] == 3 and out["mean"] == pytest.approx((30 + 90 + 60) / 3)
    assert out["min"] == pytest.approx(30) and out["max"] == pytest.approx(90)
    assert bench.distinctness([a])["mean"] is None


def test_opacity_outside_counts_only_matter_off_the_silhouette(bench):
    silhouette = _square(16, 4, 12)
    opacity = silhouette.astype(np.float64)
    assert bench.opacity_outside(opacity, silhouette) == (0.0, 64.0)
    opacity[0, 0] = 0.5  # a floater
    out, total = bench.opacity_outside(opacity, silhouette)
    assert out == 0.5 and total == 64.5


# --- end to end on a tiny random model -------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    generate_dataset(root, identities=3, views=2, size=40, seed=1, workers=1, test_fraction=0.5, progress=None)
    return root


def _in(value, lo: float, hi: float) -> bool:
    return value is not None and lo <= value <= hi


def test_end_to_end_on_a_tiny_model_reports_every_set_in_range(bench, tiny_model, dataset, tmp_path):
    out, sheet = tmp_path / "mf.json", tmp_path / "sheet.png"
    bench.main(["--synth", str(dataset), "--synth-count", "2", "--synth-edits", "hair_longer_left", "mouth_open",
                "--drawn-count", "3", "--drawn-size", "64", "--drawn-edits", "hair_longer_left", "hair_longer_right",
                "mouth_open", "--size", "32", "--samples", "4", "--sheet-rows", "1", "--threads", "1",
                "--json", str(out), "--sheet", str(sheet)], model=tiny_model)
    result = json.loads(out.read_text())
    assert set(result["sets"]) == {"synthfaces", "drawn", "examples", "examples_drawn"}
    for name, s in result["sets"].items():
        assert "skipped" not in s, (name, s)
        assert s["masks"] >= 2, name
        assert _in(s["iou"], 0, 1) and _in(s["iou_min"], 0, 1), name
        e = s["editing"]
        assert e["pairs"] + e["unchanged"] >= 1, name
        if e["pairs"]:
            assert _in(e["inside"], 0, 255) and _in(e["outside"], 0, 255), name
            assert e["ratio"] == "inf" or e["ratio"] >= 0, name
            assert sum(k["pairs"] for k in e["per_kind"].values()) == e["pairs"] == len(e["per_pair"]), name
        a = s["asymmetry"]
        if a["pairs"]:
            assert _in(a["side_share"], 0, 1) and _in(a["mask_side_share"], 0, 1) and _in(a["correct_side"], 0, 1), name
        d = s["distinctness"]
        assert d["pairs"] == s["masks"] * (s["masks"] - 1) // 2 and _in(d["mean"], 0, 255), name
    synth = result["sets"]["synthfaces"]
    assert len(synth["identities"]) == synth["masks"] == 2
    assert synth["rerender_label_agreement_min"] == 1.0  # the generator reproduces the stored masks
    assert set(synth["novel_view"]["opacity_outside"]) == {"input", "yaw-35", "yaw+35"}
    assert all(_in(v, 0, 1) for v in synth["novel_view"]["opacity_outside"].values())
    drawn = result["sets"]["drawn"]
    assert drawn["edited_masks"] == 9 and drawn["asymmetry"]["pairs"] >= 1
    assert set(result["sets"]["examples"]["editing"]["per_kind"]) >= {"hair_longer_left", "eyes_bigger"}
    # the sheet: a caption strip, then 1 base row + the one-sided pair (base, left, right), 7 columns of 64 px tiles
    width, height = Image.open(sheet).size
    assert width == 7 * 64 + 8 * 4
    assert height == 4 + 14 + 4 * (64 + 14 + 4)
    assert math.isfinite(result["seconds"])


def test_a_missing_synthfaces_folder_is_skipped_with_a_note(bench, tiny_model, tmp_path):
    result = bench.main(["--synth", str(tmp_path / "absent"), "--drawn-count", "2", "--drawn-size", "64",
                         "--drawn-edits", "mouth_open", "--examples", "", "--examples-drawn", "", "--size", "16",
                         "--samples", "4", "--threads", "1"], model=tiny_model)
    assert "no SynthFaces set" in result["sets"]["synthfaces"]["skipped"]
    assert result["sets"]["drawn"]["masks"] == 2
    assert "skipped" in result["sets"]["examples"] and "skipped" in result["sets"]["examples_drawn"]
