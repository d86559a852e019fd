"""Mask inputs of every kind become label ids; the encoder channels follow official-sem2nerf.md 4.3-4.5."""

import cv2
import numpy as np
import pytest
import torch
from conftest import face_mask
from PIL import Image

from sem2nerf import MaskError, encoder_input, get_label_scheme, load_mask
from sem2nerf.masks import contour_map, distance_field

RAW = get_label_scheme("celebamask_hq_raw")


def test_every_input_kind_gives_the_same_labels(tmp_path, mask_array):
    colour = RAW.colorize(mask_array)
    Image.fromarray(mask_array, "L").save(tmp_path / "l.png")
    p = Image.fromarray(mask_array, "L").convert("P")
    p.putpalette(list(np.asarray(RAW.palette, np.uint8).ravel()))
    p.save(tmp_path / "p.png")
    Image.fromarray(np.stack([mask_array] * 3, -1), "RGB").save(tmp_path / "grey.png")
    Image.fromarray(colour, "RGB").save(tmp_path / "colour.png")
    sources = [
        tmp_path / "l.png", str(tmp_path / "p.png"), tmp_path / "grey.png", tmp_path / "colour.png",
        mask_array, mask_array.astype(np.int64), torch.from_numpy(mask_array), torch.from_numpy(colour).permute(2, 0, 1),
        colour, Image.fromarray(mask_array),
    ]
    for src in sources:
        got = load_mask(src)
        assert got.scheme.name == "celebamask_hq_raw"
        np.testing.assert_array_equal(got.labels, mask_array, err_msg=str(type(src)))


@pytest.mark.parametrize("kind", ["supersampled", "blurred"])
def test_anti_aliased_palette_edges_snap_to_the_adjoining_classes(kind):
    # Anti-aliasing mixes neighbouring class colours convexly: supersample-and-box-filter (as a
    # canvas brush does) or a blur. The snapped class must be one drawn within the pixel's footprint.
    fine = face_mask(512)
    if kind == "supersampled":
        smooth = cv2.resize(RAW.colorize(fine), (128, 128), interpolation=cv2.INTER_AREA)
        ref = fine[::4, ::4]
        footprint = lambda y, x: fine[4 * y : 4 * y + 4, 4 * x : 4 * x + 4]
    else:
        smooth = cv2.GaussianBlur(RAW.colorize(fine), (7, 7), 1.2)
        ref = fine
        footprint = lambda y, x: fine[max(0, y - 3) : y + 4, max(0, x - 3) : x + 4]
    got = load_mask(smooth).labels
    assert (got == ref).mean() > 0.97
    foreign = [got[y, x] not in footprint(y, x) for y, x in zip(*np.nonzero(got != ref))]
    assert sum(foreign) / got.size < 0.003  # classes invented along edges: under 0.3 % of pixels
    naive = RAW.palette_array().astype(int)
    nearest = ((smooth[:, :, None].astype(int) - naive) ** 2).sum(-1).argmin(-1)
    naive_foreign = [nearest[y, x] not in footprint(y, x) for y, x in zip(*np.nonzero(nearest != ref))]
    assert sum(foreign) < sum(naive_foreign) / 2  # at least twice better than the nearest colour alone


def test_label_ids_outside_the_scheme_are_named():
    m = face_mask(64)
    m[0, 0], m[0, 1] = 19, 200
    with pytest.raises(MaskError, match=r"\[19, 200\].*celebamask_hq_raw.*0-18"):
        load_mask(m)


def test_photo_is_rejected(tmp_path):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:256, 0:256]
    photo = np.stack([(xx + yy) % 256, (xx * 3) % 256, (yy * 5) % 256], -1) + rng.integers(0, 30, (256, 256, 3))
    Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)).save(tmp_path / "photo.jpg")
    with pytest.raises(MaskError, match="looks like a photo"):
        load_mask(tmp_path / "photo.jpg")


def test_corrupted_missing_and_non_image_files(tmp_path):
    Image.fromarray(face_mask(64)).save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(MaskError, match="corrupted|truncated|cannot read"):
        load_mask(tmp_path / "cut.png")
    with pytest.raises(MaskError, match="cannot read .* as an image"):
        load_mask(tmp_path / "notes.txt")
    with pytest.raises(MaskError, match="not found"):
        load_mask(tmp_path / "missing.png")
    with pytest.raises(MaskError, match="shape"):
        load_mask(np.zeros((4, 4, 5), np.uint8))


def test_huge_masks_are_reduced_not_refused():
    big = cv2.resize(face_mask(256), (6000, 6000), interpolation=cv2.INTER_NEAREST)
    got = load_mask(big)
    assert max(got.size) == 1024
    assert set(np.unique(got.labels)) == set(np.unique(big))


def test_contour_and_distance_on_a_hand_made_mask():
    m = np.zeros((64, 64), np.uint8)
    m[16:48, 16:48] = 1  # a square of skin
    m[28:36, 28:36] = 2  # a nose inside it
    contour = contour_map(m)
    assert set(np.unique(contour)) == {0, 255}
    # OpenCV's thickness-3 lines on the outer boundary of each class region (3-5 px wide on straight edges)
    column = contour[8:26, 30] == 255
    assert 3 <= column.sum() <= 5 and column[16 - 8]
    assert contour[12, 30] == 0 and contour[20, 30] == 0
    assert contour[28, 31] == 255  # the nose outline
    assert contour[22, 22] == 0 and contour[5, 5] == 0
    dist = distance_field(contour)
    assert dist.dtype == np.uint8 and dist.max() == 255
    assert (dist[contour == 255] == 0).all()
    # distance grows moving away from the square's edge towards the image corner
    profile = dist[0:15, 30][::-1]
    assert (np.diff(profile.astype(int)) >= 0).all() and profile[-1] > profile[0]


def test_contour_skip_quirk_only_matters_without_background():
    m = np.ones((32, 32), np.uint8)  # no background: skin everywhere
    m[10:20, 10:20] = 2
    ours, official = contour_map(m, skip="background"), contour_map(m, skip="smallest")
    assert ours[0, 5] == 255  # the skin region's outline along the image border
    assert official[0, 5] == 0  # the official quirk drops the smallest label (skin)
    with_bg = m.copy()
    with_bg[0:3] = 0
    np.testing.assert_array_equal(contour_map(with_bg, skip="background"), contour_map(with_bg, skip="smallest"))


def test_encoder_input_channels_and_crop():
    m = face_mask(512)
    x = encoder_input(load_mask(m), "celebamask_hq", size=224)
    assert x.shape == (18, 224, 224) and x.dtype == torch.float32
    np.testing.assert_allclose(x[:16].sum(0).numpy(), 1.0)
    assert 0 <= x[16:].min() and x[16:].max() <= 1
    assert set(np.unique(x[16].numpy())) <= {0.0, 1.0}
    # CelebA: the outer 10 % on each side is cropped away; CatMask keeps it.
    ring = np.zeros((512, 512), np.uint8)
    ring[:, :40] = 7  # a brow class stripe at the left border, inside the cropped margin (51 px)
    ring[200:300, 200:300] = 1
    celeb = encoder_input(load_mask(ring), "celebamask_hq", size=224)
    assert celeb[5].sum() == 0  # merged brows (id 5) vanished
    cat = encoder_input(load_mask(ring, "catmask_raw"), "catmask", size=224)
    assert cat.shape[0] == 10 and cat[1].sum() > 0  # catmask raw 7 = head -> merged 1, still there


def test_merged_masks_are_accepted_by_name():
    merged = get_label_scheme("celebamask_hq_raw").merge(face_mask(128))
    a = encoder_input(load_mask(merged, "celebamask_hq_merged"), size=64)
    b = encoder_input(load_mask(face_mask(128)), size=64)
    assert torch.equal(a, b)


# --- indexed colour masks, giant headers, plain messages (docs/bad_input.md) -----------------------------------------


def _indexed(labels: np.ndarray, palette: np.ndarray, index_of: np.ndarray) -> Image.Image:
    """An indexed (mode P) PNG image of ``labels``: class ``c`` is stored as index ``index_of[c]`` whose palette
    entry is ``palette[index_of[c]]`` (as an image editor writes a colour mask)."""
    img = Image.fromarray(index_of[labels].astype(np.uint8), "L").convert("P")
    img.putpalette(list(np.asarray(palette, np.uint8).ravel()))
    return img


def test_an_indexed_colour_mask_is_read_by_its_colours(tmp_path, mask_array):
    """An editor's indexed PNG numbers its colours in its own order: the palette colours say the classes."""
    rng = np.random.default_rng(0)
    order = rng.permutation(256)  # class c stored at index order[c]
    palette = rng.integers(0, 256, (256, 3))
    palette[order[: RAW.num_classes]] = RAW.palette_array()
    palette[order[3]] = np.asarray(RAW.palette[3]) + (3, -4, 2)  # near the class colour, not exact
    _indexed(mask_array, palette, order).save(tmp_path / "editor.png")
    got = load_mask(tmp_path / "editor.png")
    np.testing.assert_array_equal(got.labels, mask_array)
    assert got.from_colours


def test_indexed_label_maps_keep_their_ids(tmp_path, mask_array):
    """CelebAMask-HQ style indexed label maps (index i, class colour i) and grey palettes are read as ids."""
    ids = np.arange(256)
    _indexed(mask_array, np.concatenate([RAW.palette_array(), np.zeros((256 - 19, 3), np.uint8)]), ids).save(tmp_path / "own.png")
    _indexed(mask_array, np.repeat(ids[:, None], 3, 1), ids).save(tmp_path / "grey.png")
    for name in ("own.png", "grey.png"):
        got = load_mask(tmp_path / name)
        np.testing.assert_array_equal(got.labels, mask_array, err_msg=name)
        assert not got.from_colours
    # a palette of other colours (say a segmentation tool's): the indices are still the ids
    other = np.random.default_rng(1).integers(0, 256, (256, 3))
    _indexed(mask_array, other, ids).save(tmp_path / "tool.png")
    np.testing.assert_array_equal(load_mask(tmp_path / "tool.png").labels, mask_array)


def test_transparent_pixels_are_the_schemes_background():
    """CatMask's background is white: a transparent pixel must read as background there too, not as black."""
    cat = get_label_scheme("catmask_raw")
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[8:24, 8:24] = (*cat.palette[cat.class_id("head")], 255)
    got = load_mask(Image.fromarray(rgba, "RGBA"), cat)
    assert set(np.unique(got.labels)) == {cat.background, cat.class_id("head")}


def test_a_small_file_declaring_a_giant_image_is_refused_from_its_header(tmp_path):
    Image.new("L", (6000, 6000), 0).save(tmp_path / "bomb.png")  # a few kB on disk, 36 M pixels decoded
    assert (tmp_path / "bomb.png").stat().st_size < 100_000
    with pytest.raises(MaskError, match=r"bomb\.png is 6000 x 6000 pixels.*nearest-neighbour"):
        load_mask(tmp_path / "bomb.png")


def test_file_messages_name_the_file_only(tmp_path):
    """No folder (a server's temporary path) and no exception class names in what people read."""
    folder = tmp_path / "secret-server-folder"
    folder.mkdir()
    (folder / "notes.png").write_text("not an image")
    Image.fromarray(face_mask(64)).save(folder / "ok.png")
    (folder / "cut.png").write_bytes((folder / "ok.png").read_bytes()[:200])
    for name in ("notes.png", "cut.png", "missing.png"):
        with pytest.raises(MaskError) as info:
            load_mask(folder / name)
        text = str(info.value)
        assert "secret-server-folder" not in text and "Error" not in text, text
