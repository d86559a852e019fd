"""DrawnFaces: 2D-drawn evaluation masks are reproducible, framed like CelebAMask-HQ, and edit only what they say."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sem2nerf.__main__ import main
from sem2nerf.drawn import DRAWN_EDITS, apply_drawn_edit, draw_mask, edit_region, sample_drawn_face, write_drawn_set
from sem2nerf.masks import load_mask

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "drawn"
SIZE = 128
SKIN, NOSE, L_EYE, R_EYE, L_BROW, R_BROW, L_EAR, R_EAR, MOUTH, U_LIP, L_LIP, HAIR, NECK, CLOTH = (
    1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 17, 18)


def _face(i: int, seed: int = 500):
    return sample_drawn_face(np.random.default_rng(np.random.SeedSequence([seed, i])))


@pytest.fixture(scope="module")
def faces():
    return [_face(i) for i in range(100)]


@pytest.fixture(scope="module")
def masks(faces):
    return [draw_mask(f, SIZE) for f in faces]


def _centroid(mask: np.ndarray, label: int) -> tuple[float, float]:
    ys, xs = np.nonzero(mask == label)
    return (xs.mean() + 0.5) / mask.shape[1], (ys.mean() + 0.5) / mask.shape[0]


def test_same_seed_same_bytes_different_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_drawn_set(a, 3, size=64, seed=4)
    write_drawn_set(b, 3, size=64, seed=4)
    write_drawn_set(c, 3, size=64, seed=5)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert (a / "masks" / "drawn000.png").read_bytes() != (c / "masks" / "drawn000.png").read_bytes()


def test_left_right_convention(masks):
    """l_* (the person's left) lies on the image's right half, r_* on the left half."""
    half = SIZE / 2
    for m in masks:
        for label, right in ((L_EYE, True), (R_EYE, False), (L_BROW, True), (R_BROW, False), (L_EAR, True), (R_EAR, False)):
            xs = np.nonzero(m == label)[1]
            if label in (L_EAR, R_EAR) and xs.size == 0:
                continue
            assert xs.size > 0
            assert (xs >= half).all() if right else (xs < half).all()


def test_framing_statistics_near_celebamask_hq(masks):
    area = {k: np.mean([(m == k).mean() for m in masks]) for k in (0, SKIN, HAIR, NECK)}
    assert abs(area[0] - 0.285) < 0.04
    assert abs(area[SKIN] - 0.258) < 0.04
    assert abs(area[HAIR] - 0.315) < 0.04
    assert abs(area[NECK] - 0.043) < 0.02
    eye_y = np.mean([_centroid(m, L_EYE)[1] for m in masks] + [_centroid(m, R_EYE)[1] for m in masks])
    assert abs(eye_y - 0.48) < 0.03
    assert abs(np.mean([_centroid(m, U_LIP)[1] for m in masks]) - 0.73) < 0.03
    assert abs(np.mean([_centroid(m, L_LIP)[1] for m in masks]) - 0.77) < 0.03
    assert abs(np.mean([_centroid(m, NOSE)[1] for m in masks]) - 0.58) < 0.03
    skin_x, skin_y = np.mean([_centroid(m, SKIN) for m in masks], axis=0)
    assert abs(skin_x - 0.50) < 0.03 and abs(skin_y - 0.54) < 0.03
    touches = [((m == HAIR)[0].any() or (m == HAIR)[:, 0].any() or (m == HAIR)[:, -1].any()) for m in masks]
    assert np.mean(touches) > 0.8
    assert not any(((m == SKIN)[[0, -1]].any() or (m == SKIN)[:, [0, -1]].any()) for m in masks)
    assert np.mean([(m[-1] == NECK).any() or (m[-1] == CLOTH).any() for m in masks]) > 0.95
    with_cloth = [m for m in masks if (m == CLOTH).any()]
    assert 0.6 < len(with_cloth) / len(masks) < 0.95
    assert all((m[-1] == CLOTH).any() for m in with_cloth)


def test_a_good_share_is_asymmetric(masks):
    def iou(h):
        return (h & h[:, ::-1]).sum() / max((h | h[:, ::-1]).sum(), 1)

    assert np.mean([iou(m == HAIR) < 0.9 for m in masks]) > 0.4


@pytest.mark.parametrize("edit,right", [("hair_longer_left", True), ("hair_longer_right", False)])
def test_hair_longer_adds_hair_on_one_side_only(faces, masks, edit, right):
    """The person's left is the image's right: hair_longer_left changes only x > centre and adds hair there."""
    for f, a in zip(faces[:40], masks[:40], strict=True):
        b = draw_mask(apply_drawn_edit(f, edit), SIZE)
        region = edit_region(a, b)
        xs = np.nonzero(region)[1]
        assert xs.size > 0
        assert (xs >= SIZE // 2).all() if right else (xs < SIZE // 2).all()
        gained, lost = (b[region] == HAIR).sum(), (a[region] == HAIR).sum()
        assert gained > 20 and gained > 3 * lost
        assert (b == HAIR).sum() > (a == HAIR).sum()


def test_face_edits_are_local_and_in_their_classes(faces, masks):
    for f, a in zip(faces[:40], masks[:40], strict=True):
        eyes = draw_mask(apply_drawn_edit(f, "eyes_bigger"), SIZE)
        assert np.isin(eyes, (L_EYE, R_EYE)).sum() > np.isin(a, (L_EYE, R_EYE)).sum()
        ys = np.nonzero(edit_region(a, eyes))[0] / SIZE
        assert abs(ys.mean() - f.eye_y) < 0.03 and np.abs(ys - f.eye_y).max() < 0.05
        assert set(np.unique(eyes[edit_region(a, eyes)])) <= {L_EYE, R_EYE, SKIN}

        mouth = draw_mask(apply_drawn_edit(f, "mouth_open"), SIZE)
        assert (mouth == MOUTH).sum() > (a == MOUTH).sum()
        ys, xs = np.nonzero(edit_region(a, mouth))
        assert np.abs(ys / SIZE - f.mouth_y).max() < 0.1 and np.abs(xs / SIZE - f.cx).max() < f.mouth_width / 2 + 0.02

        nose = draw_mask(apply_drawn_edit(f, "nose_bigger"), SIZE)
        assert (nose == NOSE).sum() > (a == NOSE).sum()
        ys = np.nonzero(edit_region(a, nose))[0] / SIZE
        assert ys.min() > f.nose_top - 0.02 and ys.max() < f.nose_top + f.nose_length + 0.06

        fringe = draw_mask(apply_drawn_edit(f, "fringe_swept"), SIZE)
        ys = np.nonzero(edit_region(a, fringe))[0] / SIZE
        assert ys.size == 0 or ys.max() < f.eye_y - 0.02  # stays above the eyes
        assert set(np.unique(fringe[edit_region(a, fringe)])) <= {HAIR, SKIN}


def test_every_edit_changes_something(faces, masks):
    for f, a in zip(faces[:20], masks[:20], strict=True):
        for edit in DRAWN_EDITS:
            if edit == "fringe_swept" and f.fringe >= 0.8 and f.fringe_sweep == (-1.0 if f.parting > 0 else 1.0):
                continue  # already swept as far as the edit goes
            assert edit_region(a, draw_mask(apply_drawn_edit(f, edit), SIZE)).any(), edit
    with pytest.raises(ValueError, match="unknown drawn edit"):
        apply_drawn_edit(faces[0], "ears_pointy")


def test_cli_writes_a_set_and_reports_bad_arguments(tmp_path, capsys):
    out = tmp_path / "set"
    assert main(["drawn", "--out", str(out), "--count", "4", "--size", "32", "--seed", "1"]) == 0
    index = json.loads((out / "index.json").read_text())
    info = json.loads((out / "drawn.json").read_text())
    assert info["base_masks"] == 4 and len(index) == 4 * 3 == info["masks"]
    assert {e["edit"] for e in index if e["edit"]} == set(DRAWN_EDITS)  # 4 bases x 2 edits cover all 7
    assert all(e["base"] in {i["name"] for i in index if i["edit"] is None} for e in index)
    assert "wrote 12 masks" in capsys.readouterr().out

    for argv, message in (
        (["--count", "0"], "at least 1"),
        (["--size", "4"], "between 16"),
        ([], "not empty"),
    ):
        assert main(["drawn", "--out", str(out), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    assert main(["drawn", "--out", str(other), "--overwrite"]) == 2
    assert "holds no DrawnFaces set" in capsys.readouterr().err
    assert main(["drawn", "--out", str(out), "--count", "2", "--size", "32", "--no-edits", "--overwrite"]) == 0
    assert len(list((out / "masks").iterdir())) == 2


def test_committed_examples_load():
    index = json.loads((EXAMPLES / "index.json").read_text())
    assert 12 <= len(index) <= 24
    names = {e["name"] for e in index}
    for entry in index:
        mask = load_mask(EXAMPLES / entry["file"], "celebamask_hq_raw")
        assert mask.labels.shape == (512, 512)
        assert entry["scheme"] == "celebamask_hq_raw" and entry["yaw"] == 0.0 and entry["pitch"] == 0.0
        assert entry["base"] in names and (entry["edit"] is None or entry["edit"] in DRAWN_EDITS)
    assert sum(p.stat().st_size for p in (EXAMPLES / "masks").iterdir()) < 1_000_000
