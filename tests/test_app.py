"""The app's functions: mask input, style layers, views, command line, model loading."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
from PIL import Image

import app
from sem2nerf import DEFAULT_STYLE_LAYERS, TEXTURE_STYLE_LAYERS, MaskError, get_domain, get_label_scheme

CELEBA = get_domain("celebamask_hq")
RAW = get_label_scheme("celebamask_hq_raw")


def _fn(demo: gr.Blocks, name: str):
    return next(f.fn for f in demo.fns.values() if f.fn is not None and f.fn.__name__ == name)


def test_without_a_model_the_page_builds_and_explains_how_to_load_one(tmp_path, mask_array):
    demo = app.build_demo(None, app.NO_MODEL, workdir=tmp_path)
    with pytest.raises(gr.Error, match="--model"):
        _fn(demo, "encode")({"composite": RAW.colorize(mask_array)}, (0, 0))


def test_style_presets_are_the_package_constants_for_the_official_decoder():
    assert app.style_layers("colour only", None, 9) == list(DEFAULT_STYLE_LAYERS)
    assert app.style_layers("texture", None, 9) == list(TEXTURE_STYLE_LAYERS)
    # a smaller decoder: the presets count from its last (colour) layer
    assert app.style_layers("colour only", None, 4) == [3]
    assert app.style_layers("texture", None, 4) == [1, 2, 3]
    assert app.style_layers("custom", [5, 2, 2], 9) == [2, 5]
    with pytest.raises(ValueError, match="at least one"):
        app.style_layers("custom", [], 9)


def test_editor_composite_snaps_strokes_and_reads_transparency_as_background(mask_array):
    rgba = np.zeros((128, 128, 4), np.uint8)  # a transparent canvas ...
    hair, skin = RAW.palette[RAW.class_id("hair")], RAW.palette[RAW.class_id("skin")]
    rgba[20:60, 20:100] = (*hair, 255)  # ... with two class strokes
    rgba[60:100, 30:90] = (*skin, 255)
    rgba[59:61, 30:90, :3] = (np.array(hair) + np.array(skin)) // 2  # an anti-aliased seam
    rgba[110:, :, :3] = 200  # colour under zero alpha is not drawn
    mask = app.mask_from_editor({"composite": rgba}, CELEBA)
    assert mask.scheme.name == RAW.name
    assert set(np.unique(mask.labels)) == {0, RAW.class_id("hair"), RAW.class_id("skin")}
    assert (mask.labels[110:] == 0).all()
    with pytest.raises(MaskError, match="draw one"):
        app.mask_from_editor(None, CELEBA)
    huge = np.broadcast_to(np.zeros(4, np.uint8), (10_000, 10_000, 4))
    with pytest.raises(MaskError, match="10000 x 10000"):
        app.mask_from_editor({"composite": huge}, CELEBA)


def test_an_editor_nobody_drew_on_yet_reads_its_background(mask_array):
    """The prefilled example (or a loaded one) is sent with no composite: Render must encode it, not refuse."""
    shown = app.editor_value(app.load_mask(mask_array, RAW))
    mask = app.mask_from_editor({**shown, "composite": None}, CELEBA)
    assert np.array_equal(mask.labels, mask_array)
    with pytest.raises(MaskError, match="draw one"):
        app.mask_from_editor({"background": None, "layers": [], "composite": None}, CELEBA)


def test_merged_id_files_are_drawn_with_raw_classes_that_merge_back(tmp_path, mask_array):
    path = tmp_path / "merged.png"
    Image.fromarray(RAW.merge(mask_array), mode="L").save(path)
    mask = app.mask_from_file(path, "celebamask_hq_merged", CELEBA)
    assert mask.scheme.name == RAW.name
    assert np.array_equal(RAW.merge(mask.labels), RAW.merge(mask_array))


def test_examples_come_with_their_annotated_pose():
    examples = app.load_examples(CELEBA)
    assert len(examples) >= 5 and all(ex.path.is_file() for ex in examples)
    assert any(ex.yaw != 0 or ex.pitch != 0 for ex in examples)
    assert app.load_examples(CELEBA, app.EXAMPLES_DIR / "no-such-folder") == []


def test_turntable_paths():
    sweep = app.trajectory("yaw sweep", 8, 12.0)
    assert len(sweep) == 8 and sweep[0].yaw == 0 and max(p.yaw for p in sweep) == pytest.approx(35)
    assert len(app.trajectory("front (official wobble)", 5, 12.0)) == 5
    assert [p.yaw for p in app.trajectory("orbit", 4, 12.0)] == [0, -90, -180, -270]
    with pytest.raises(ValueError, match="at least 2"):
        app.trajectory("orbit", 1, 12.0)


def test_overlay_and_depth_images():
    render = Image.new("RGB", (64, 64), (10, 200, 30))
    mask = app.load_mask(np.full((100, 100), RAW.class_id("skin"), np.uint8))
    over = app.mask_overlay(mask, render, CELEBA, opacity=0.5)
    skin = np.array(RAW.palette[RAW.class_id("skin")])
    assert over.size == (64, 64)
    assert np.abs(np.asarray(over)[32, 32].astype(int) - (skin + (10, 200, 30)) / 2).max() <= 1
    depth = app.depth_image(np.array([[0.9, 1.1]], np.float32), 0.88, 1.12)
    near, far = np.asarray(depth)[0].astype(int).sum(1)
    assert near > far, "near is bright"


def test_render_views_and_strip_with_a_model(tiny_model, mask_array, tmp_path):
    demo = app.build_demo(tiny_model, "test", workdir=tmp_path)
    scene = _fn(demo, "encode")({"composite": RAW.colorize(mask_array)}, (10.0, 0.0))
    assert scene.pose == (10.0, 0.0)
    frames = list(_fn(demo, "render")(scene, 0, 0, 12, 96, 4, -1, "colour only", [3], -1, 0.5))
    assert len(frames) == 2, "a quick preview, then the full render"
    assert all(im.size == (96, 96) and d.size == (96, 96) for im, d in frames)
    assert _fn(demo, "overlay")(scene, 12, 64, 4, -1, "colour only", [3], -1, 0.5).size == (64, 64)
    strip = _fn(demo, "views")(scene, 12, 64, 4, 7, "texture", [3], -1, 0.5, progress=lambda *a, **k: None)
    assert strip.size == (64 * 6, 64), "the mask and five views"
    with pytest.raises(gr.Error, match="Nothing to render"):
        next(_fn(demo, "render")(None, 0, 0, 12, 64, 4, -1, "colour only", [3], -1, 0.5))
    with pytest.raises(gr.Error, match="at least one"):
        next(_fn(demo, "render")(scene, 0, 0, 12, 64, 4, 7, "custom", [], -1, 0.5))


def test_baked_renderer_bakes_once_per_scene_and_style_then_reads_the_grid(tiny_model, mask_array, tmp_path):
    """View changes, the strip, turntables and meshes reuse one bake; a new style bakes again; direct never bakes."""
    demo = app.build_demo(tiny_model, "test", workdir=tmp_path)
    cache = demo.bake_cache
    cache.resolution = 16  # a small grid keeps the test quick
    scene = _fn(demo, "encode")({"composite": RAW.colorize(mask_array)}, (0.0, 0.0))
    view = _fn(demo, "render")
    style = (-1, "colour only", [3], -1, 0.5)
    first = list(view(scene, 0, 0, 12, 96, 4, *style, app.RENDERERS[0]))
    assert len(first) == 2 and cache.bakes == 1, "a direct preview while the grid bakes, then the baked view"
    turned = list(view(scene, 25, 0, 12, 96, 4, *style, app.RENDERERS[0]))
    assert len(turned) == 1 and cache.bakes == 1, "the grid is ready: no preview, no new bake"
    assert np.abs(np.asarray(turned[0][0], float) - np.asarray(first[-1][0], float)).mean() > 0.5, "the view changed"
    _fn(demo, "views")(scene, 12, 32, 4, *style, app.RENDERERS[0], progress=lambda *a, **k: None)
    glb, _ = _fn(demo, "mesh")(scene, 32, 0.0, *style, app.RENDERERS[0], progress=lambda *a, **k: None)
    assert cache.bakes == 1 and glb.endswith(".glb")
    list(view(scene, 0, 0, 12, 64, 4, 5, "colour only", [3], -1, 0.5, app.RENDERERS[0]))
    assert cache.bakes == 2, "another style is another scene"
    list(view(scene, 0, 0, 24, 64, 4, 5, "colour only", [3], -1, 0.5, app.RENDERERS[0]))
    assert cache.bakes == 3, "a wider field of view than the grid covers bakes a larger cube"
    direct = list(view(scene, 10, 0, 12, 64, 4, 9, "colour only", [3], -1, 0.5, app.RENDERERS[1]))
    assert cache.bakes == 3 and direct[-1][0].size == (64, 64)
    for k in range(app.BAKE_CACHE_SIZE + 2):  # memory stays bounded
        list(view(scene, 0, 0, 12, 64, 4, 100 + k, "colour only", [3], -1, 0.5, app.RENDERERS[0]))
    assert len(cache._grids) == app.BAKE_CACHE_SIZE


def test_baked_and_direct_renders_agree(mask_array, tmp_path):
    """The baked grid is a faithful stand-in: on the bundled model (a real surface; the tiny random model is a
    near-uniform haze) its view differs from the direct render of the same pose far less than another pose or
    another style does."""
    from sem2nerf import DEFAULT_MODEL, Sem2NeRF

    demo = app.build_demo(Sem2NeRF.from_pretrained(DEFAULT_MODEL), "test", workdir=tmp_path)
    scene = _fn(demo, "encode")({"composite": RAW.colorize(mask_array)}, (0.0, 0.0))
    view = _fn(demo, "render")

    def shot(yaw, style, renderer):
        frames = list(view(scene, yaw, 0, 12, 48, 8, style, "colour only", [3], -1, 0.5, app.RENDERERS[renderer]))
        return np.asarray(frames[-1][0], float)

    direct = shot(15, -1, 1)
    error = np.abs(shot(15, -1, 0) - direct).mean()
    assert error < 0.4 * np.abs(shot(-15, -1, 1) - direct).mean()
    assert error < 0.4 * np.abs(shot(15, 3, 1) - direct).mean()


def test_command_line_and_environment(monkeypatch):
    monkeypatch.setenv(app.MODEL_ENV, "org/model")
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    args = app.parse_args([])
    assert (args.model, args.host, args.port, args.share) == ("org/model", "0.0.0.0", 7860, False)
    args = app.parse_args(["--model", "dir", "--host", "127.0.0.1", "--port", "7000", "--share"])
    assert (args.model, args.host, args.port, args.share) == ("dir", "127.0.0.1", 7000, True)


def test_model_loading_reports_problems_on_the_page(tiny_model, tmp_path):
    assert app.load_model(None) == (None, app.NO_MODEL)
    model, status = app.load_model(str(tmp_path / "missing"))
    assert model is None and "Could not load" in status
    tiny_model.save_pretrained(tmp_path / "m")
    model, status = app.load_model(str(tmp_path / "m"), device="cpu")
    assert model is not None and model.device.type == "cpu" and app.max_size(model) == app.CPU_MAX_SIZE


def test_the_class_picker_says_which_side_of_the_image_a_sided_class_is_on():
    """CelebAMask-HQ's l_eye / l_brow / l_ear are the person's left, the image's right: the picker says so."""
    assert app.class_label("l_eye") == "l_eye (person's left, image right)"
    assert app.class_label("r_ear") == "r_ear (person's right, image left)"
    assert app.class_label("l_lip") == "l_lip" and app.class_label("ear_r") == "ear_r"  # lower lip, earring: no side
