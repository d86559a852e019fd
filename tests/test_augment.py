"""Mask realism (sem2nerf.training.augment) and its training option encoder.mask_realism."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from sem2nerf.training.augment import DRAW_ORDER, MaskRealism, hand_annotated
from sem2nerf.training.config import MASK_REALISM_MAX, ConfigError, load_config
from sem2nerf.training.data import MaskImageDataset, StepBatchSampler
from tests.conftest import face_mask

ROOT = Path(__file__).resolve().parents[1]
ENCODER_CONFIG = ROOT / "configs" / "synthfaces_encoder.yaml"
QUIET = {"resize_prob": 0.0, "gap_prob": 0.0, "hole_prob": 0.0, "drop_prob": 0.0}  # outlines only


@pytest.fixture(scope="module")
def synth_mask() -> np.ndarray:
    from sem2nerf.synthfaces import render_identity, sample_face_params

    params = sample_face_params(np.random.default_rng(0))
    return render_identity(params, [(0.0, 0.0)], 128)["labels"][0]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    from sem2nerf.synthfaces import generate_dataset

    out = tmp_path_factory.mktemp("synth_realism") / "tiny"
    generate_dataset(out, identities=2, views=2, size=40, seed=3, workers=1)
    return out


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _near_boundary(labels: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within ``radius`` (Chebyshev) of a pixel of another label."""
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.dilate(labels, kernel) != cv2.erode(labels, kernel)


# --- the augmentation -----------------------------------------------------------------------------


def test_the_same_generator_state_gives_the_same_mask_and_another_one_another(synth_mask):
    a = hand_annotated(synth_mask, _rng(5), MaskRealism())
    assert np.array_equal(a, hand_annotated(synth_mask, _rng(5), MaskRealism()))
    assert not np.array_equal(a, hand_annotated(synth_mask, _rng(6), MaskRealism()))


def test_the_output_is_a_new_mask_of_the_same_shape_with_no_new_ids(synth_mask):
    allowed = set(np.unique(synth_mask).tolist()) | {0}
    for seed in range(8):
        out = hand_annotated(synth_mask, _rng(seed), MaskRealism(strength=MASK_REALISM_MAX))
        assert out.shape == synth_mask.shape and out.dtype == np.uint8
        assert set(np.unique(out).tolist()) <= allowed
        assert out is not synth_mask and out.any()


def test_most_pixels_keep_their_label_at_the_default_strength(synth_mask):
    kept = [(hand_annotated(synth_mask, _rng(seed)) == synth_mask).mean() for seed in range(10)]
    assert min(kept) > 0.95, kept
    assert np.mean(kept) < 1.0  # ... but the mask did change


def test_outlines_change_and_interiors_of_large_regions_do_not(synth_mask):
    """Without holes every change is near a boundary (the polygon tolerance, jitter, gaps and a 1 px resize at
    512 px are all a pixel or two at 128 px), and the outlines do change."""
    boundary = _near_boundary(synth_mask, 1)
    interior = ~_near_boundary(synth_mask, 4)
    for seed in range(6):
        out = hand_annotated(synth_mask, _rng(seed), MaskRealism(hole_prob=0.0, drop_prob=0.0))
        changed = out != synth_mask
        assert changed[boundary].mean() > 0.03  # a visible share of the outline pixels moved
        assert not changed[interior].any()


def test_polygonised_outlines_alone_keep_every_class(synth_mask):
    classes = set(np.unique(synth_mask).tolist())
    for seed in range(6):
        out = hand_annotated(synth_mask, _rng(seed), MaskRealism(**QUIET))
        assert set(np.unique(out).tolist()) == classes
        assert (out != synth_mask).any()


def test_classes_go_missing_sometimes_and_take_what_is_around_them(synth_mask):
    classes = set(np.unique(synth_mask).tolist())
    missing = sum(set(np.unique(hand_annotated(synth_mask, _rng(seed))).tolist()) != classes for seed in range(60))
    assert 0 < missing < 60
    out = hand_annotated(synth_mask, _rng(0), MaskRealism(**{**QUIET, "drop_prob": 1.0}, polygon_epsilon=0.0,
                                                             vertex_jitter=0.0))
    for face_part in (2, 4, 5, 6, 7):  # nose, eyes, brows: annotated as skin
        if face_part in classes:
            assert face_part not in out
            assert (out[synth_mask == face_part] == 1).all()
    for ear in (8, 9):
        if ear in classes:
            assert set(np.unique(out[synth_mask == ear]).tolist()) <= {1, 13}  # skin or hair
    assert {1, 13, 17, 18} & classes <= set(np.unique(out).tolist())  # large regions are never dropped


def test_an_unlabelled_mouth_becomes_lips_or_skin():
    m = face_mask(128)
    m[82:85, 56:72] = 10  # an open mouth between the lips
    seen = set()
    for seed in range(12):
        out = hand_annotated(m, _rng(seed), MaskRealism(**{**QUIET, "drop_prob": 1.0}, polygon_epsilon=0.0,
                                                        vertex_jitter=0.0))
        assert 10 not in out
        seen |= set(np.unique(out[m == 10]).tolist())
    assert seen <= {1, 11, 12} and 1 in seen and seen & {11, 12}


def test_a_mask_of_one_droppable_class_never_becomes_empty():
    m = np.zeros((64, 64), np.uint8)
    m[30:34, 30:34] = 15  # an earring alone
    for seed in range(5):
        assert hand_annotated(m, _rng(seed), MaskRealism(drop_prob=1.0, strength=MASK_REALISM_MAX)).any()


def test_gaps_put_background_slivers_between_touching_classes(synth_mask):
    realism = MaskRealism(**{**QUIET, "gap_prob": 1.0}, polygon_epsilon=0.0, vertex_jitter=0.0)
    out = hand_annotated(synth_mask, _rng(1), realism)
    opened = (out == 0) & (synth_mask != 0)
    assert opened.sum() > 20
    fg = synth_mask != 0
    inner = fg & ~_near_boundary(fg.astype(np.uint8), 1)  # not on the silhouette: between two classes
    assert (opened & inner).sum() > 0.5 * opened.sum()
    assert _near_boundary(synth_mask, 2)[opened].all()


def test_holes_open_background_inside_large_regions(synth_mask):
    realism = MaskRealism(**{**QUIET, "hole_prob": 1.0}, polygon_epsilon=0.0, vertex_jitter=0.0, hole_radius=8.0)
    out = hand_annotated(synth_mask, _rng(2), realism)
    opened = (out == 0) & (synth_mask != 0)
    assert opened.any()
    assert np.isin(synth_mask[opened], (1, 13, 17, 18, 14)).all()
    assert not _near_boundary(synth_mask, 1)[opened].any()  # inside the region, not along its edge


def test_a_class_drawn_thicker_or_thinner_moves_its_boundary_by_about_a_pixel_at_512():
    m = face_mask(512)
    realism = MaskRealism(**{**QUIET, "resize_prob": 1.0}, polygon_epsilon=0.0, vertex_jitter=0.0)
    out = hand_annotated(m, _rng(3), realism)
    changed = out != m
    assert changed.any() and _near_boundary(m, 1)[changed].all()


def test_about_the_same_share_of_pixels_changes_at_128_and_512_px():
    small, large = face_mask(128), face_mask(512)
    share = [np.mean([(hand_annotated(m, _rng(seed)) != m).mean() for seed in range(6)]) for m in (small, large)]
    assert 0.5 < share[0] / share[1] < 2.0, share


def test_strength_zero_an_empty_mask_and_bad_input():
    m = face_mask(64)
    assert np.array_equal(hand_annotated(m, _rng(0), MaskRealism(strength=0.0)), m)
    empty = np.zeros((32, 32), np.uint8)
    assert not hand_annotated(empty, _rng(0)).any()
    with pytest.raises(ValueError):
        hand_annotated(m.astype(np.int32), _rng(0))
    with pytest.raises(ValueError):
        hand_annotated(np.full((8, 8), 19, np.uint8), _rng(0))
    assert len(set(DRAW_ORDER)) == 18 and 0 not in DRAW_ORDER


# --- the training option --------------------------------------------------------------------------


def test_the_shipped_config_records_the_option_and_off_is_the_fingerprint_of_a_config_without_it(tmp_path):
    """The bundled encoder was trained with mask realism (its recorded fingerprint is the committed config's); turning
    it off changes the fingerprint to that of the same config with no mask_realism key, so runs from before the
    option keep theirs."""
    recorded = json.loads((ROOT / "sem2nerf" / "pretrained" / "synthfaces" / "training.json").read_text())
    fingerprint = recorded["encoder"]["config_fingerprint"]
    assert load_config(ENCODER_CONFIG).encoder.mask_realism > 0
    assert load_config(ENCODER_CONFIG).fingerprint() == fingerprint
    off = load_config(ENCODER_CONFIG, ["encoder.mask_realism=0"]).fingerprint()
    assert off != fingerprint
    text = Path(ENCODER_CONFIG).read_text().splitlines()
    without = [line for line in text if not line.strip().startswith("mask_realism:")]
    assert len(without) == len(text) - 1
    (tmp_path / "old.yaml").write_text("\n".join(without) + "\n")
    assert load_config(tmp_path / "old.yaml").fingerprint() == off


@pytest.mark.parametrize("override", ["encoder.mask_realism=-0.5", f"encoder.mask_realism={MASK_REALISM_MAX + 0.5}",
                                      "encoder.mask_realism=ten"])
def test_a_bad_strength_is_a_config_error(override):
    with pytest.raises(ConfigError, match="mask_realism"):
        load_config(ENCODER_CONFIG, [override])


def test_the_option_needs_the_encoder_stage_and_celebamask_ids():
    with pytest.raises(ConfigError, match="stage=encoder"):
        load_config(None, ["encoder.mask_realism=1", "stage=generator"])
    with pytest.raises(ConfigError, match="scheme"):
        load_config(ENCODER_CONFIG, ["encoder.mask_realism=1", "data.domain=catmask"])


def test_the_dataset_augments_the_encoder_input_only_and_reproducibly(tiny_data):
    kwargs = {"root": tiny_data, "domain": "celebamask_hq", "id_list": None, "image_size": 32, "encoder_size": 64,
              "with_mask": True, "with_foreground": True}
    exact = MaskImageDataset(**kwargs)[0]
    data = MaskImageDataset(**kwargs, mask_realism=2.0, realism_seed=4)
    first = data[(0, 0)]
    for key in ("mask", "image", "foreground", "yaw", "index"):
        assert torch.equal(first[key], exact[key]), key
    assert not torch.equal(first["x"], exact["x"])
    assert torch.equal(first["x"], data[(0, 0)]["x"])  # the same (seed, index, epoch): the same mask
    assert not torch.equal(first["x"], data[(0, 1)]["x"])  # another epoch: another annotator
    assert not torch.equal(first["x"], MaskImageDataset(**kwargs, mask_realism=2.0, realism_seed=5)[(0, 0)]["x"])
    assert torch.equal(data[0]["x"], exact["x"])  # a plain index (region-head fit, validation) reads the exact mask


def test_the_sampler_names_each_draw_by_index_and_epoch_and_resumes_exactly():
    full = StepBatchSampler(5, 3, seed=2, with_draw=True)
    stream = iter(full)
    draws = [next(stream) for _ in range(6)]
    assert [[i for i, _ in batch] for batch in draws] == [full.batch_at(m) for m in range(6)]
    flat = [d for batch in draws for d in batch]
    assert [e for _, e in flat] == [p // 5 for p in range(18)]
    assert len(set(flat)) == len(flat)  # each (index, epoch) once
    resumed = iter(StepBatchSampler(5, 3, seed=2, start_micro_step=4, with_draw=True))
    assert [next(resumed) for _ in range(2)] == draws[4:]
    assert next(iter(StepBatchSampler(5, 3, seed=2))) == full.batch_at(0)  # off: plain indices as before
