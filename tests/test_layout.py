"""Implausible class layouts warn (a CatMask mask for a face model, merged ids read as raw), real ones never do."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import face_mask

from sem2nerf import LabelMask, get_label_scheme, load_mask
from sem2nerf.drawn import draw_mask, sample_drawn_face
from sem2nerf.layout import LAYOUT_RULES, check_layout
from sem2nerf.synthfaces.dataset import draw_identity, render_identity

ROOT = Path(__file__).resolve().parent.parent
RAW = get_label_scheme("celebamask_hq_raw")
CAT = get_label_scheme("catmask_raw")


def cat_mask(size: int = 256) -> np.ndarray:
    """A crude frontal cat in CatMask raw ids (head, ears, eyes, nose, mouth, whiskers, neck and chest)."""
    m = np.zeros((size, size), np.uint8)
    s = size / 256

    def c(v: float) -> int:
        return round(v * s)

    cid = CAT.class_id
    cv2.rectangle(m, (c(40), c(190)), (c(216), c(255)), cid("chest"), -1)
    cv2.rectangle(m, (c(90), c(170)), (c(166), c(200)), cid("neck"), -1)
    for x in (70, 186):  # ears: triangles above the head
        tri = np.array([[c(x - 30), c(90)], [c(x + 30), c(90)], [c(x), c(25)]], np.int32)
        cv2.fillPoly(m, [tri], cid("ear"))
    cv2.ellipse(m, (c(128), c(120)), (c(80), c(65)), 0, 0, 360, cid("head"), -1)
    for x in (98, 158):
        cv2.ellipse(m, (c(x), c(108)), (c(12), c(8)), 0, 0, 360, cid("eye"), -1)
    cv2.ellipse(m, (c(128), c(140)), (c(9), c(6)), 0, 0, 360, cid("nose"), -1)
    cv2.ellipse(m, (c(128), c(158)), (c(14), c(5)), 0, 0, 360, cid("mouth"), -1)
    for dy in (-6, 0, 6):
        cv2.line(m, (c(150), c(148)), (c(200), c(142 + dy)), cid("whiskers"), 1)
        cv2.line(m, (c(106), c(148)), (c(56), c(142 + dy)), cid("whiskers"), 1)
    return m


def _face_masks() -> dict[str, np.ndarray]:
    """Every face mask we have: the examples, the drawn examples, 30 SynthFaces heads at random poses (64 px) and
    30 DrawnFaces masks, as raw CelebAMask-HQ ids."""
    masks = {}
    for e in json.loads((ROOT / "examples" / "index.json").read_text()):
        masks[f"example {e['name']}"] = load_mask(ROOT / "examples" / e["mask"], e["scheme"]).labels
    for e in json.loads((ROOT / "examples" / "drawn" / "index.json").read_text()):
        masks[f"drawn example {e['name']}"] = load_mask(ROOT / "examples" / "drawn" / e["file"], e["scheme"]).labels
    for i in range(30):
        params, poses, lights = draw_identity(11, i, 1)  # one random (pi-GAN-like) pose each
        masks[f"SynthFaces {i} at {poses[0]}"] = render_identity(params, poses, 64, lights)["labels"][0]
    rng = np.random.default_rng(3)
    for i in range(30):
        masks[f"DrawnFaces {i}"] = draw_mask(sample_drawn_face(rng), 128)
    masks["the tests' face_mask"] = face_mask(128)
    return masks


@pytest.fixture(scope="module")
def faces() -> dict[str, np.ndarray]:
    return _face_masks()


def test_no_false_alarms_on_any_face_mask(faces):
    assert len(faces) >= 80
    for name, labels in faces.items():
        for mask in (LabelMask(labels, RAW), LabelMask(labels, RAW, from_colours=True),
                     load_mask(RAW.colorize(labels))):
            check = check_layout(mask, "celebamask_hq")
            assert not check, f"{name}: {check.message()}"
        merged = get_label_scheme("celebamask_hq_merged")
        assert not check_layout(LabelMask(RAW.merge(labels), merged), "celebamask_hq"), f"{name} in merged ids"


def test_merged_ids_read_as_raw_ids_warn_and_name_the_merged_scheme(faces):
    for name, labels in faces.items():
        check = check_layout(LabelMask(RAW.merge(labels), RAW), "celebamask_hq")  # merged ids, read as raw ids
        assert check, name
        assert ("celebamask_hq_merged", "celebamask_hq") in check.readings, name
        assert "--scheme celebamask_hq_merged" in check.message(), name


def test_a_catmask_mask_given_to_a_face_model_warns_and_names_a_cat_model():
    check = check_layout(LabelMask(cat_mask(), RAW), "celebamask_hq")  # CatMask ids read as CelebAMask-HQ ids
    assert check
    text = check.message()
    assert "no 'skin'" in text or "almost no 'skin'" in text
    assert ("catmask_raw", "catmask") in check.readings and "cat model" in text
    # the same mask is a plausible cat for a cat model, and a face is not
    assert not check_layout(LabelMask(cat_mask(), CAT), "catmask")
    face = face_mask(256)
    face[face >= CAT.num_classes] = 0  # no neck or cloth: ids CatMask has
    face_as_cat = check_layout(LabelMask(face, CAT), "catmask")
    assert face_as_cat and ("celebamask_hq_raw", "celebamask_hq") in face_as_cat.readings
    assert "face model" in face_as_cat.message()


def test_clear_layout_problems_are_named():
    no_skin = face_mask(128)
    no_skin[no_skin == RAW.class_id("skin")] = RAW.class_id("hair")
    check = check_layout(LabelMask(no_skin, RAW), "celebamask_hq")
    assert check and "no 'skin'" in check.message()
    upside_down = face_mask(128)[::-1].copy()
    assert "'brows' is not above 'eyes'" in check_layout(LabelMask(upside_down, RAW), "celebamask_hq").message()
    big_eyes = face_mask(128)
    big_eyes[40:100, 30:98] = RAW.class_id("l_eye")
    assert "'eyes' covers" in check_layout(LabelMask(big_eyes, RAW), "celebamask_hq").message()


def test_colour_masks_are_not_read_in_other_schemes():
    """Ids snapped from colours mean nothing in another scheme: the warning gives the general hint instead."""
    check = check_layout(LabelMask(cat_mask(128), RAW, from_colours=True), "celebamask_hq")
    assert check and check.readings == ()
    assert "Check the label scheme" in check.message()


def test_rules_are_data_for_each_domain():
    assert set(LAYOUT_RULES) == {"celebamask_hq", "catmask"}
    assert LAYOUT_RULES["celebamask_hq"].main == "skin" and LAYOUT_RULES["catmask"].main == "head"
