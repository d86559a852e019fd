"""Specifications of SynthFaces, the procedural multi-view face data set (sem2nerf.synthfaces)."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from sem2nerf.camera import angles_to_renderer, camera_origin, look_at_rotation, ray_directions
from sem2nerf.domains import get_domain, read_pose_file
from sem2nerf.labels import get_label_scheme
from sem2nerf.masks import encoder_input, load_mask
from sem2nerf.synthfaces import (
    LABELS,
    FaceParams,
    add_synth_arguments,
    apply_edit,
    domain_center_crop,
    draw_identity,
    full_fov,
    generate_dataset,
    read_depth,
    render_identity,
    run_synth,
    sample_face_params,
)
from sem2nerf.synthfaces.dataset import PITCH_STD, POSE_CLIP, YAW_STD

DOMAIN = get_domain("celebamask_hq")


def _params(seed: int = 5, **changes) -> FaceParams:
    return replace(sample_face_params(np.random.default_rng(seed)), **changes)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Render on one thread, as the generator's workers do: many small operations gain little from two
    threads, and a second thread waiting for a busy core can slow a render down many times."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "set"
    summary = generate_dataset(out, identities=5, views=2, size=24, seed=3, test_fraction=0.2, workers=1)
    return out, summary


@pytest.fixture(scope="module")
def two_views():
    params = _params(11, hair_style="short", glasses=True, mouth_open=0.6)
    poses = [(0.0, 0.0), (24.0, 6.0)]
    return poses, render_identity(params, poses, 96)


def _rays(yaw: float, pitch: float, size: int, fov: float):
    """Camera centre, (H, W, 3) world ray directions and rotation, from the project's camera module."""
    theta, phi = angles_to_renderer(yaw, pitch)
    origin = camera_origin(theta, phi)
    rot = look_at_rotation(origin)
    return origin.numpy(), (ray_directions(size, size, fov) @ rot.T).reshape(size, size, 3).numpy(), rot.numpy()


def test_masks_rgb_and_depth_come_from_one_geometry(two_views):
    """Background is exactly where no depth was hit; label boundaries are RGB edges; depth lies in the ray range."""
    _, out = two_views
    labels, rgb, depth = out["labels"].astype(int), out["rgb"].astype(int), out["depth"]
    assert np.array_equal(labels == 0, depth == 0)
    hit = depth[depth > 0]
    assert hit.min() >= DOMAIN.ray_start and hit.max() <= DOMAIN.ray_end
    # neighbouring pixels (horizontal and vertical) with different labels vs the same label
    pairs = [(labels[:, :, 1:], labels[:, :, :-1], rgb[:, :, 1:], rgb[:, :, :-1]),
             (labels[:, 1:], labels[:, :-1], rgb[:, 1:], rgb[:, :-1])]
    jump_edge, jump_same = [], []
    for la, lb, ra, rb in pairs:
        jump = np.abs(ra - rb).max(-1)
        jump_edge.append(jump[la != lb])
        jump_same.append(jump[la == lb])
    jump_edge, jump_same = np.concatenate(jump_edge), np.concatenate(jump_same)
    assert jump_edge.size > 200
    assert np.median(jump_edge) > 4 * max(np.median(jump_same), 1)
    assert (jump_edge > 12).mean() > 0.75


def test_a_surface_point_has_the_same_label_in_every_view(two_views):
    """Back-project view A through its depth, re-project into view B: visible points keep their label."""
    poses, out = two_views
    size, fov = 96, full_fov(96)
    origin_a, dirs_a, _ = _rays(*poses[0], size, fov)
    origin_b, _, rot_b = _rays(*poses[1], size, fov)
    fg = out["depth"][0] > 0
    points = origin_a + dirs_a[fg] * out["depth"][0][fg][:, None]
    assert np.abs(points).max() <= 0.12 + 1e-4  # the subject fits in the pi-GAN box
    cam = (points - origin_b) @ rot_b  # camera-B coordinates, looking down -z
    focal = (size - 1) / 2 / math.tan(math.radians(fov) / 2)
    col = np.rint(cam[:, 0] / -cam[:, 2] * focal + (size - 1) / 2).astype(int)
    row = np.rint(-cam[:, 1] / -cam[:, 2] * focal + (size - 1) / 2).astype(int)
    inside = (col >= 0) & (col < size) & (row >= 0) & (row < size)
    dist_b = np.linalg.norm(points - origin_b, axis=-1)
    seen = np.zeros_like(inside)
    seen[inside] = np.abs(out["depth"][1][row[inside], col[inside]] - dist_b[inside]) < 0.002
    assert seen.mean() > 0.4
    label_a = out["labels"][0][fg][seen]
    label_b = out["labels"][1][row[seen], col[seen]]
    assert (label_a == label_b).mean() > 0.95  # misses come from rounding to the nearest pixel at boundaries
    # away from label boundaries in view B (all 8 neighbours share the label) every class keeps its label
    labels_b = out["labels"][1]
    padded = np.pad(labels_b, 1, mode="edge")
    interior = np.ones_like(labels_b, dtype=bool)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            interior &= padded[dy:dy + size, dx:dx + size] == labels_b
    keep = interior[row[seen], col[seen]]
    assert keep.sum() > 1000
    for cls in np.unique(label_a[keep]):
        sel = label_a[keep] == cls
        assert (label_b[keep][sel] == cls).mean() > 0.9, f"class {cls} changes between views"


def test_pose_file_round_trips_and_follows_the_pigan_distribution(dataset):
    out, _ = dataset
    poses = read_pose_file(out / DOMAIN.pose_file, DOMAIN)
    details = json.loads((out / "identity_params.json").read_text())
    expected = {v["image"]: (v["yaw"], v["pitch"]) for d in details.values() for v in d["views"]}
    assert poses.keys() == expected.keys() == {p.stem for p in (out / "masks").glob("*.png")}
    for key, (yaw, pitch) in poses.items():
        assert yaw == pytest.approx(expected[key][0], abs=1e-6) and pitch == pytest.approx(expected[key][1], abs=1e-6)
    _, drawn, _ = draw_identity(3, 0, 2)
    assert [poses["0"], poses["1"]] == drawn
    many = draw_identity(0, 0, 4000)[1]
    yaws, pitches = np.array([p[0] for p in many]), np.array([p[1] for p in many])
    assert np.abs(yaws).max() <= math.degrees(POSE_CLIP * YAW_STD) + 1e-3
    assert np.abs(pitches).max() <= math.degrees(POSE_CLIP * PITCH_STD) + 1e-3
    assert abs(yaws.mean()) < 1.0 and 0.85 < np.radians(yaws).std() / YAW_STD < 1.0  # clipped at 2 std


def test_files_are_in_the_celebamask_hq_layout(dataset):
    out, summary = dataset
    ids = sorted(p.stem for p in (out / "masks").glob("*.png"))
    assert len(ids) == summary["images"] == 10
    for image_id in ids:
        mask = Image.open(out / "masks" / f"{image_id}.png")
        assert mask.mode == "L" and mask.size == (24, 24)
        assert np.asarray(mask).max() < 19
        assert Image.open(out / "CelebA-HQ-img" / f"{image_id}.jpg").size == (24, 24)
        depth = read_depth(out / "depth" / f"{image_id}.png")
        assert np.array_equal(depth == 0, np.asarray(mask) == 0)
    meta = json.loads((out / "synthfaces.json").read_text())
    assert meta["seed"] == 3 and meta["image_size"] == 24 and meta["label_scheme"] == "celebamask_hq_raw"


def test_no_identity_is_in_both_splits(dataset):
    out, summary = dataset
    train = (out / "train_paths.txt").read_text().split()
    test = (out / "test_paths.txt").read_text().split()
    index = json.loads((out / "identities.json").read_text())
    owner = {image: name for name, images in index.items() for image in images}
    assert sorted(owner) == sorted(train + test) and len(owner) == len(train) + len(test)
    assert test and {owner[i] for i in train}.isdisjoint({owner[i] for i in test})
    assert sorted({owner[i] for i in test}) == summary["test_identities"]


def test_same_seed_same_bytes(dataset, tmp_path):
    out, _ = dataset
    again = tmp_path / "again"
    generate_dataset(again, identities=5, views=2, size=24, seed=3, test_fraction=0.2, workers=1)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for name in files:
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    other = tmp_path / "other"
    generate_dataset(other, identities=1, views=2, size=24, seed=4, workers=1)
    assert (other / "masks" / "0.png").read_bytes() != (out / "masks" / "0.png").read_bytes()


@pytest.mark.parametrize(("size", "min_agreement"), [(80, 0.995), (100, 0.97)])
def test_centre_crop_of_a_full_render_is_the_12_degree_view(size, min_agreement):
    """The domain's crop (resize to 320, centre 256) of a full render equals a direct render at FOV 12."""
    params = _params(7, glasses=True)
    pose = [(15.0, -5.0)]
    full = render_identity(params, pose, size)["labels"][0]
    cropped = domain_center_crop(full)
    inner = round(size * DOMAIN.crop_fraction)
    direct = render_identity(params, pose, inner, fov=DOMAIN.fov)["labels"][0]
    direct = np.asarray(Image.fromarray(direct).resize(cropped.shape[::-1], Image.NEAREST))
    assert cropped.shape == (DOMAIN.mask_crop_size, DOMAIN.mask_crop_size)
    # the crop is the one the model's encoder input applies
    seen_by_encoder = encoder_input(load_mask(full), DOMAIN, size=DOMAIN.mask_crop_size, use_contour=False).argmax(0)
    assert np.array_equal(seen_by_encoder.numpy(), get_label_scheme(DOMAIN.raw_scheme).merge(cropped))
    assert (cropped == direct).mean() > min_agreement
    assert (full == 0).mean() > (cropped == 0).mean()  # the full frame is wider, with more background


def test_edits_change_the_right_classes():
    params = apply_edit(_params(9, glasses=False, mouth_open=0.0, hat=False), "hair_short")
    pose = [(0.0, 0.0)]

    def count(p, *names):  # at 128 px: an eye is ~60 pixels (at 64 px ~15, where a pixel row is 10 % of it)
        labels = render_identity(p, pose, 128)["labels"][0]
        return sum(int((labels == LABELS[n]).sum()) for n in names)

    assert count(apply_edit(params, "eyes_bigger"), "l_eye", "r_eye") > 1.2 * count(params, "l_eye", "r_eye")
    assert count(params, "mouth") < count(apply_edit(params, "mouth_open"), "mouth")
    assert count(params, "eye_g") == 0 < count(apply_edit(params, "glasses"), "eye_g")
    assert count(apply_edit(params, "hair_long"), "hair") > count(params, "hair")
    assert count(apply_edit(params, "hair_bald"), "hair") == 0
    assert count(apply_edit(params, "nose_bigger"), "nose") > 1.15 * count(params, "nose")  # 1.2 x longer, bridge barely wider
    assert FaceParams.from_dict(json.loads(json.dumps(params.to_dict()))) == params  # exact JSON round trip


def test_left_and_right_follow_celebamask_hq():
    """l_eye, l_brow and l_ear are the person's left: on the image's right in a frontal view (CelebAMask-HQ)."""
    params = _params(9, hair_style="short", hair_length_left=1.0, hair_length_right=1.0, hat=False, glasses=False)
    labels = render_identity(params, [(0.0, 0.0)], 64)["labels"][0]
    for side, other in (("l", "r"), ("r", "l")):
        for part in ("eye", "brow", "ear"):
            xs = np.nonzero(labels == LABELS[f"{side}_{part}"])[1]
            assert xs.size, f"{side}_{part} is visible"
            on_right = (xs > 31.5).mean()
            assert on_right == (1.0 if side == "l" else 0.0), (side, part, on_right)


def test_one_sided_hair_edits_change_one_side_of_the_image():
    """'hair_longer_left' lengthens the hair of the person's left, the image's right, and nothing on the other side."""
    params = _params(4, hair_style="bob", hair_length_left=-4.0, hair_length_right=-4.0, hat=False)
    pose = [(0.0, 0.0)]
    before = render_identity(params, pose, 64)["labels"][0]
    for edit, grows in (("hair_longer_left", slice(32, 64)), ("hair_longer_right", slice(0, 32))):
        after = render_identity(apply_edit(params, edit), pose, 64)["labels"][0]
        changed = before != after
        assert changed[:, grows].sum() > 20, edit
        assert changed.sum() - changed[:, grows].sum() <= 2, f"{edit} changed the other side"
        assert ((after == LABELS["hair"]).sum() > (before == LABELS["hair"]).sum())
    swept = render_identity(apply_edit(params, "fringe_swept"), pose, 64)["labels"][0]
    forehead = slice(12, 24), slice(20, 44)
    assert (swept[forehead] == LABELS["hair"]).sum() > (before[forehead] == LABELS["hair"]).sum() + 10


def test_masks_are_framed_like_real_celebamask_hq_masks():
    """Generator 2.0 frames heads like real CelebAMask-HQ annotations (eyes at y 0.48, lips at 0.73 / 0.77, skin 0.24-0.76
    wide, hair and background about a third each), hair reaches the top or sides of the encoder's 80 % crop and the
    neck or clothes its bottom. (1.1 had its eyes at 0.41, lips at 0.62, 61 % background.)"""
    from sem2nerf.synthfaces.framing import REAL_FRAMING, TOLERANCES, framing_statistics

    masks = []
    for i in range(24):
        params, poses, lights = draw_identity(1, i, 1)
        masks.append(render_identity(params, poses, 64, lights)["labels"][0])
    stats = framing_statistics(masks)
    eyes_y = (stats["l_eye"]["centroid"][1] + stats["r_eye"]["centroid"][1]) / 2
    assert 0.45 <= eyes_y <= 0.51, eyes_y
    for lip in ("u_lip", "l_lip"):  # real 0.73 / 0.77, within the framing report's centroid tolerance
        assert abs(stats[lip]["centroid"][1] - REAL_FRAMING[lip]["centroid"][1]) <= TOLERANCES["centroid"], lip
    assert abs(stats["skin"]["x_range"][0] - 0.24) < 0.05 and abs(stats["skin"]["x_range"][1] - 0.76) < 0.05
    assert abs(stats["skin"]["y_range"][0] - 0.19) < 0.06 and abs(stats["skin"]["y_range"][1] - 0.92) < 0.05
    assert 22.0 <= stats["background"]["area"] <= 38.0 and 20.0 <= stats["hair"]["area"] <= 38.0
    assert stats["l_eye"]["centroid"][0] > 0.5 > stats["r_eye"]["centroid"][0]
    assert stats["hair"]["crop_top_or_sides"] >= 0.9
    assert stats["_any"]["neck_or_cloth_crop_bottom"] >= 0.9


def test_a_good_share_of_heads_have_asymmetric_hair():
    """Free-form hair: in frontal masks the hair differs from its mirror image (IoU < 0.9) in at least a third."""
    asymmetric = 0
    for i in range(24):
        params = draw_identity(2, i, 1)[0]
        if params.hair_style == "bald":
            continue
        hair = render_identity(replace(params, hat=False), [(0.0, 0.0)], 48)["labels"][0] == LABELS["hair"]
        mirror = hair[:, ::-1]
        asymmetric += (hair & mirror).sum() / max((hair | mirror).sum(), 1) < 0.9
    assert asymmetric >= 8, asymmetric


def test_the_example_eye_edits_stay_within_the_eyes_a_data_set_draws():
    """Generator 1.1: the drawn eye openings (an eye's height) and opening x width (its area) span what the example
    eye edits make of the example heads, so a model trained on SynthFaces has seen eyes as tall and as big as the
    edited example masks show. (Generator 1.0 drew openings 0.8-1.2; 'eyes_bigger' took synth01 to 1.33.)"""
    from sem2nerf.synthfaces.examples import _EXAMPLES, example_identity

    drawn = [sample_face_params(np.random.default_rng([7, i])) for i in range(400)]
    opening = [p.eye_open for p in drawn]
    area = [p.eye_open * p.eye_width for p in drawn]
    eye_edits = [(number, edit) for number in range(1, len(_EXAMPLES) + 1) for edit in example_identity(number)[2]
                 if edit.startswith("eyes")]
    assert eye_edits, "the examples include an eye edit"
    for number, edit in eye_edits:
        edited = apply_edit(example_identity(number)[0], edit)
        assert min(opening) <= edited.eye_open <= max(opening), (number, edit, edited.eye_open)
        assert min(area) <= edited.eye_open * edited.eye_width <= max(area), (number, edit)


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_synth_arguments(parser)
    return run_synth(parser.parse_args(argv))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--identities", "0"], "identities must be at least 1"),
        (["--size", "-8"], "image size must be between"),
        (["--views", "0"], "views per identity must be at least 1"),
        (["--test-fraction", "1.5"], "test fraction"),
    ],
)
def test_bad_arguments_give_one_clear_line(argv, message, tmp_path, capsys):
    assert _run(["--out", str(tmp_path / "x"), "--quiet", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_unusable_output_folders_are_refused(tmp_path, capsys):
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # the generator renders on one thread and must restore the caller's setting
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        generate_dataset(blocker, 1, 1, 16)
    with pytest.raises(ValueError, match="cannot write to output folder"):
        generate_dataset(blocker / "inside", 1, 1, 16)
    with pytest.raises(ValueError, match="not empty"):
        generate_dataset(tmp_path, 1, 1, 16)
    assert _run(["--out", str(blocker), "--quiet"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    good = tmp_path / "good"
    tiny = ["--out", str(good), "--identities", "1", "--views", "1", "--size", "16", "--quiet", "--workers", "1"]
    assert _run(tiny) == 0
    assert _run([*tiny, "--overwrite"]) == 0
    assert sorted(p.name for p in (good / "masks").iterdir()) == ["0.png"]
    assert torch.get_num_threads() == 2
    torch.set_num_threads(threads)


def test_parameter_features_one_hot_the_hair_style_and_zero_absent_accessories():
    base = FaceParams(hair_style="short", hat=False, hat_rgb=(0.9, 0.1, 0.1), glasses=True, glasses_rgb=(0.2, 0.3, 0.4))
    feats = base.features()
    assert feats.dtype == np.float32 and np.isfinite(feats).all()
    longer = replace(base, hair_style="long").features()
    assert set(np.flatnonzero(longer != feats)) and len(np.flatnonzero(longer != feats)) == 2  # one-hot moves
    assert np.array_equal(replace(base, hat_rgb=(0.1, 0.9, 0.9)).features(), feats), "no hat: its colour is no feature"
    assert not np.array_equal(replace(base, glasses_rgb=(0.9, 0.9, 0.9)).features(), feats), "worn glasses' colour counts"


def test_feature_names_describe_the_feature_vector():
    """FaceParams.feature_names lists one name per features() entry, in order, with or without the hidden fields."""
    from sem2nerf.synthfaces import HIDDEN_FIELDS, FaceParams

    params = FaceParams(eye_open=1.3, hair_style="bob", glasses=True)
    for visible_only in (False, True):
        names = FaceParams.feature_names(visible_only)
        values = dict(zip(names, params.features(visible_only), strict=True))
        assert len(names) == len(set(names)) == len(params.features(visible_only))
        assert values["eye_open"] == pytest.approx(1.3) and values["hair_bob"] == 1.0 and values["glasses"] == 1.0
        assert any(n.split(".")[0] in HIDDEN_FIELDS for n in names) is not visible_only
    assert FaceParams.feature_names()[-3:] == ["background_bottom.r", "background_bottom.g", "background_bottom.b"]
