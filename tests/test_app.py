"""The app's functions: mask input, style layers, views, command line, model loading."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pytest
from conftest import face_mask
from PIL import Image

import app
from sem2nerf import DEFAULT_STYLE_LAYERS, TEXTURE_STYLE_LAYERS, MaskError, get_domain, get_label_scheme, sweep_trajectory

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
    assert app.trajectory("yaw sweep", 8, 15.0, pitch=-5.0) == sweep_trajectory(8, pitch=-5.0, fov=15.0)
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
    _fn(demo, "views")(scene, 12, 64, 4, *style, app.RENDERERS[0], progress=lambda *a, **k: None)
    glb, _ = _fn(demo, "mesh")(scene, 32, 0.0, *style, app.RENDERERS[0], progress=lambda *a, **k: None)
    assert cache.bakes == 1 and glb.endswith(".glb")
    list(view(scene, 0, 0, 12, 64, 4, 5, "colour only", [3], -1, 0.5, app.RENDERERS[0]))
    assert cache.bakes == 2, "another style is another scene"
    list(view(scene, 0, 0, 24, 64, 4, 5, "colour only", [3], -1, 0.5, app.RENDERERS[0]))
    assert cache.bakes == 3, "a wider field of view than the grid covers bakes a larger cube"
    direct = list(view(scene, 10, 0, 12, 64, 4, 9, "colour only", [3], -1, 0.5, app.RENDERERS[1]))
    assert cache.bakes == 3 and direct[-1][0].size == (64, 64)
    one = cache.nbytes // len(cache._grids)
    assert one == 4 * 17**3 * 4, "a 16-cell grid: 4 channels x 17^3 nodes x float32"
    cache.max_bytes = 3 * one + one // 2  # memory stays bounded by bytes: room for three grids of this size
    for k in range(5):
        list(view(scene, 0, 0, 12, 64, 4, 100 + k, "colour only", [3], -1, 0.5, app.RENDERERS[0]))
        assert cache.nbytes <= cache.max_bytes
    assert len(cache._grids) == 3


def test_baked_and_direct_renders_agree(mask_array, tmp_path):
    """The baked grid is a faithful stand-in: on the bundled model (a real surface; the tiny random model is a
    near-uniform haze) its view differs from the direct render of the same pose far less than another pose or
    another style does."""
    from sem2nerf import DEFAULT_MODEL, Sem2NeRF

    demo = app.build_demo(Sem2NeRF.from_pretrained(DEFAULT_MODEL), "test", workdir=tmp_path)
    scene = _fn(demo, "encode")({"composite": RAW.colorize(mask_array)}, (0.0, 0.0))
    view = _fn(demo, "render")

    def shot(yaw, style, renderer):
        # 24 samples: at 8 the direct render's own sampling error (6.3 of 255 on the bundled model) is as large as
        # a colour-style change (7.9)
        frames = list(view(scene, yaw, 0, 12, 64, 24, style, "colour only", [3], -1, 0.5, app.RENDERERS[renderer]))
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


def test_the_class_picker_names_classes_plainly_and_says_which_side_of_the_image_a_sided_class_is_on():
    """Plain names instead of dataset codes; CelebAMask-HQ's l_eye / l_brow / l_ear are the person's left, the image's
    right: the picker says so. Every label is unique, and none is a bare code with an underscore."""
    assert app.class_label("l_eye") == "left eye (image right)"
    assert app.class_label("r_ear") == "right ear (image left)"
    assert app.class_label("eye_g") == "glasses" and app.class_label("neck_l") == "necklace"
    assert app.class_label("l_lip") == "lower lip" and app.class_label("ear_r") == "earring"  # no side
    for scheme in ("celebamask_hq_raw", "catmask_raw"):
        labels = [app.class_label(n) for n in get_label_scheme(scheme).class_names]
        assert len(set(labels)) == len(labels) and not any("_" in label for label in labels), labels
    assert "label.selected" in app.palette_css(app.get_domain("celebamask_hq"))  # the class being drawn is marked


# --- bad input (docs/bad_input.md) -----------------------------------------------------------------------------------


def _editor(demo: gr.Blocks) -> gr.ImageEditor:
    return next(b for b in demo.blocks.values() if isinstance(b, gr.ImageEditor))


def test_drawing_after_the_editors_trash_icon_works(mask_array):
    """The trash icon leaves a white (or transparent) canvas: white that is no class colour is background."""
    for blank in ((255, 255, 255, 255), (0, 0, 0, 0), (252, 253, 251, 255)):
        canvas = np.zeros((128, 128, 4), np.uint8)
        canvas[:] = blank
        skin, hair = RAW.palette[RAW.class_id("skin")], RAW.palette[RAW.class_id("hair")]
        canvas[30:100, 30:98] = (*skin, 255)
        canvas[20:30, 30:98] = (*hair, 255)
        canvas[29:31, 30:98, :3] = (np.array(skin) + np.array(hair)) // 2  # an anti-aliased seam
        canvas[100:102, 30:98, :3] = (np.array(skin) + 255) // 2  # a stroke's edge blended with the white
        mask = app.mask_from_editor({"composite": canvas, "background": None, "layers": []}, CELEBA)
        assert set(np.unique(mask.labels)) == {0, RAW.class_id("skin"), RAW.class_id("hair")}, blank
        assert (mask.labels[110:] == 0).all() and (mask.labels[:, :20] == 0).all()


def test_white_stays_a_class_colour_where_a_scheme_has_it():
    """CatMask's background is white: reading white as blank changes nothing there."""
    cat = get_label_scheme("catmask_raw")
    assert app._white_is_blank(cat) and app._white_is_blank(RAW)


def test_implausible_masks_show_a_warning_and_still_encode(tiny_model, tmp_path, mask_array):
    demo = app.build_demo(tiny_model, "test", workdir=tmp_path)
    Image.fromarray(RAW.merge(mask_array), "L").save(tmp_path / "merged.png")
    with pytest.warns(UserWarning, match=r"does not look like a face.*'celebamask_hq_merged' picked under 'Label ids"):
        _, scene, _ = _fn(demo, "upload")(str(tmp_path / "merged.png"), RAW.name)  # merged ids read as raw ids
    assert scene.mask is not None
    no_skin = mask_array.copy()
    no_skin[no_skin == RAW.class_id("skin")] = RAW.class_id("hair")
    with pytest.warns(UserWarning, match="no 'skin'"):
        assert _fn(demo, "encode")({"composite": RAW.colorize(no_skin)}, (0.0, 0.0)).mask is not None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a plausible mask: no warning
        _fn(demo, "encode")({"composite": RAW.colorize(mask_array)}, (0.0, 0.0))
        _fn(demo, "upload")(str(tmp_path / "merged.png"), "celebamask_hq_merged")


def test_non_finite_and_out_of_range_numbers_get_a_message(tiny_model, tmp_path, mask_array):
    """A raw API call can send NaN (Python's JSON writes it); the handlers say so instead of rendering black."""
    demo = app.build_demo(tiny_model, "test", workdir=tmp_path)
    scene = _fn(demo, "encode")({"composite": RAW.colorize(mask_array)}, (0.0, 0.0))
    style = (-1, "colour only", [3], -1, 0.5, app.RENDERERS[1])
    nan = float("nan")
    for args, message in (((nan, 0, 12, 64, 4), "Yaw must be a finite"), ((0, float("inf"), 12, 64, 4), "Pitch"),
                          ((0, 0, nan, 64, 4), "field of view must be a finite"), ((0, 0, 12, nan, 4), "resolution"),
                          ((0, 0, 12, 64, 10**6), "between 4 and 48"), ((0, 0, 12, 10**5, 4), "between 64 and 256")):
        with pytest.raises(gr.Error, match=message):
            list(_fn(demo, "render")(scene, *args, *style))
    with pytest.raises(gr.Error, match="style seed must be a finite"):
        list(_fn(demo, "render")(scene, 0, 0, 12, 64, 4, nan, "colour only", [3], -1, 0.5))
    with pytest.raises(gr.Error, match="blend"):
        list(_fn(demo, "render")(scene, 0, 0, 12, 64, 4, 5, "colour only", [3], 7, nan))
    none = lambda *a, **k: None
    with pytest.raises(gr.Error, match="number of frames must be between 4 and 72"):
        _fn(demo, "turntable")(scene, "orbit", 10**6, 12, 12, 0, 64, 4, *style, progress=none)
    with pytest.raises(gr.Error, match="Frames per second must be a finite"):
        _fn(demo, "turntable")(scene, "orbit", 8, nan, 12, 0, 64, 4, *style, progress=none)
    with pytest.raises(gr.Error, match="density threshold must be a finite"):
        _fn(demo, "mesh")(scene, 32, nan, *style, progress=none)
    with pytest.raises(gr.Error, match="grid resolution must be between 32 and 160"):
        _fn(demo, "mesh")(scene, 10**4, 0.1, *style, progress=none)


def test_the_editor_refuses_a_giant_image_from_its_header_before_gradio_decodes_it(tiny_model, tmp_path, monkeypatch):
    from gradio.data_classes import FileData

    editor = _editor(app.build_demo(tiny_model, "test", workdir=tmp_path))
    Image.new("L", (5000, 5000), 0).save(tmp_path / "huge.png")  # small file, 25 M pixels once decoded
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self, *a: decoded.append(self) or None)
    with pytest.raises(gr.Error, match=r"huge\.png is 5000 x 5000 pixels; masks are read up to 4096 pixels per side"):
        editor.convert_and_format_image(FileData(path=str(tmp_path / "huge.png"), orig_name="huge.png"))
    assert decoded == [], "refused from the header, nothing decoded"
    monkeypatch.undo()
    with pytest.raises(gr.Error, match="(?i)the canvas image looks corrupted|cannot read the canvas image"):
        editor.convert_and_format_image(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)  # a browser's blob, cut short
    Image.fromarray(RAW.colorize(face_mask(64))).save(tmp_path / "ok.png")
    ok = editor.convert_and_format_image(FileData(path=str(tmp_path / "ok.png"), orig_name="ok.png"))
    assert ok.shape == (64, 64, 4)


def test_a_bake_larger_than_the_whole_budget_is_used_but_not_kept(tiny_model, mask_array):
    cache = app.BakeCache(max_bytes=1000, resolution=16)
    scene = tiny_model.encode(mask_array)
    assert cache.get(tiny_model, scene, 12.0).resolution == 16
    assert cache.nbytes == 0 and cache.bakes == 1
    assert app.BAKE_CACHE_BYTES >= 4 * cache.grid_bytes(tiny_model.bake(scene, resolution=app.BAKE_RESOLUTION))


def test_bake_cache_budget_holds_thirty_grids_and_follows_the_environment(tiny_model, mask_array, monkeypatch):
    """The default budget holds at least 30 default grids (20 visitors' scenes re-baked on every render with four); the
    environment variable sets another, read when the page is built; a bad value is refused with its name."""
    monkeypatch.delenv(app.BAKE_CACHE_ENV, raising=False)
    grid = app.BakeCache.grid_bytes(tiny_model.bake(tiny_model.encode(mask_array), resolution=app.BAKE_RESOLUTION))
    assert app.bake_cache_bytes() // grid >= 30
    monkeypatch.setenv(app.BAKE_CACHE_ENV, "64")
    assert app.bake_cache_bytes() == 64 * 2**20
    assert app.AppPage(tiny_model, "test").bakes.max_bytes == 64 * 2**20
    for bad in ("lots", "-1", "nan"):
        monkeypatch.setenv(app.BAKE_CACHE_ENV, bad)
        with pytest.raises(SystemExit, match=app.BAKE_CACHE_ENV):
            app.bake_cache_bytes()


def test_a_broken_model_folder_starts_the_app_with_the_reason_on_the_page(tiny_model, tmp_path, monkeypatch):
    served = []
    monkeypatch.setattr(app, "serve", lambda demo, model, **kw: served.append((demo, model)))
    tiny_model.save_pretrained(tmp_path / "m")
    for text, reason in (("{oops", "is not valid JSON"), ("[]", "holds a list"), ("{}", "lacks the model settings")):
        (tmp_path / "m" / "config.json").write_text(text)
        app.main(["--model", str(tmp_path / "m"), "--device", "cpu"])
        demo, model = served.pop()
        assert model is None
        page = " ".join(str(getattr(b, "value", "")) for b in demo.blocks.values() if isinstance(b, gr.Markdown))
        assert "Could not load the model" in page and reason in page and "config.json" in page
        with pytest.raises(gr.Error, match="--model"):
            _fn(demo, "encode")({"composite": RAW.colorize(face_mask(64))}, (0, 0))


# --- the app as a visitor sees it (issue 21) -------------------------------------------------------------------------


def test_film_layer_checkboxes_take_layer_numbers_as_ints_or_strings():
    """gradio_client documents a CheckboxGroup's values as strings: "3" and 3 (and 3.0) pick the same layer; a layer
    the decoder lacks is still refused, and the API page lists both forms."""
    group = app.accept_layer_strings(gr.CheckboxGroup(list(range(5)), value=[4]))
    assert group.preprocess(["3", 1, 4.0, " 2"]) == [3, 1, 4, 2]
    with pytest.raises(gr.Error):
        group.preprocess(["7"])
    with pytest.raises(gr.Error):
        group.preprocess(["three"])
    info = group.api_info()["items"]["anyOf"]
    assert {"type": "integer", "enum": [0, 1, 2, 3, 4]} in info and {"type": "string", "enum": ["0", "1", "2", "3", "4"]} in info


def test_changing_the_id_scheme_reads_the_uploaded_file_again(tiny_model, tmp_path, mask_array):
    """The raw/merged choice applies to the file already uploaded: read as merged ids, a merged-id file keeps its
    classes (read as raw ids it does not); without a file nothing happens (a silent stop, no render)."""
    demo = app.build_demo(tiny_model, "test", workdir=tmp_path)
    path = tmp_path / "merged.png"
    Image.fromarray(RAW.merge(mask_array), "L").save(path)
    reread = _fn(demo, "reread")
    with pytest.warns(UserWarning):  # merged ids read as raw ids: an implausible face
        as_raw, _, _ = reread(str(path), RAW.name)
    canvas, scene, pose = reread(str(path), "celebamask_hq_merged")
    assert pose == (0.0, 0.0) and scene.mask is not None
    shown = app.load_mask(canvas["background"], RAW).labels
    assert np.array_equal(RAW.merge(shown), RAW.merge(mask_array)), "read as merged ids: the classes are kept"
    assert not np.array_equal(app.load_mask(as_raw["background"], RAW).labels, shown), "the choice changed the canvas"
    with pytest.raises(gr.Error) as nothing:
        reread(None, RAW.name)
    assert nothing.value.visible is False, "no file: the chain stops without a message"


def test_turntables_go_to_512_from_the_baked_grid_and_the_view_size_on_cpu_direct(tiny_model, tmp_path, mask_array):
    assert app.video_max_size(tiny_model, app.RENDERERS[0]) == app.VIDEO_MAX_SIZE == 512
    assert app.video_max_size(tiny_model, app.RENDERERS[1]) == app.max_size(tiny_model) == app.CPU_MAX_SIZE
    assert app.video_max_size(None) == app.VIDEO_MAX_SIZE
    demo = app.build_demo(tiny_model, "test", workdir=tmp_path)
    demo.bake_cache.resolution = 16
    slider = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "video-size")
    assert slider.maximum == 512 and slider.value == app.VIDEO_SIZE
    scene = _fn(demo, "encode")({"composite": RAW.colorize(mask_array)}, (0.0, 0.0))
    style = (-1, "colour only", [3], -1, 0.5)
    none = lambda *a, **k: None
    import imageio_ffmpeg

    path = _fn(demo, "turntable")(scene, "orbit", 4, 8, 12, 0, 320, 4, *style, app.RENDERERS[0], progress=none)
    meta = next(imageio_ffmpeg.read_frames(path))
    assert meta["size"] == (320, 320), "a baked turntable larger than the view's CPU maximum"
    with pytest.raises(gr.Error, match="direct renderer makes videos up to 256"):
        _fn(demo, "turntable")(scene, "orbit", 4, 8, 12, 0, 320, 4, *style, app.RENDERERS[1], progress=none)
    with pytest.raises(gr.Error, match="video resolution must be between 64 and 512"):
        _fn(demo, "turntable")(scene, "orbit", 4, 8, 12, 0, 1024, 4, *style, app.RENDERERS[0], progress=none)


# --- the 3D semantic field in the app (issue 22) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled():
    """The bundled model and its first example encoded: a real head (the tiny random model is a haze without a
    surface, so its label maps are empty)."""
    from sem2nerf import DEFAULT_MODEL, Sem2NeRF

    model = Sem2NeRF.from_pretrained(DEFAULT_MODEL)
    ex = app.load_examples(model.domain)[0]
    return model, app.mask_from_file(ex.path, ex.scheme, model.domain)


def test_edit_at_this_view_puts_the_views_labels_on_the_canvas_and_encodes_them_at_its_pose(bundled, tmp_path):
    model, mask = bundled
    demo = app.build_demo(model, "test", workdir=tmp_path)
    demo.bake_cache.resolution = 48  # a coarse grid keeps the test quick; the label maps come from it
    scene = _fn(demo, "encode")(app.editor_value(mask), (0.0, 0.0))
    canvas, pose, note = _fn(demo, "edit_view")(scene, 30, -5, -1, "colour only", [4], -1, 0.5)
    assert pose == (30.0, -5.0) and "yaw 30°, pitch -5°" in note and "Render" in note
    shown = app.load_mask(canvas["background"], RAW).labels
    wide = app.canvas_fov(model)
    assert wide == pytest.approx(14.97, abs=0.01), "the canvas covers the model's 12 degrees as the encoder's crop"
    baked = demo.bake_cache.peek(model, scene, wide)
    assert baked is not None, "the labels come from the scene's baked grid"
    assert np.array_equal(shown, model.render_labels(baked, 30, -5, fov=wide, size=app.EDIT_VIEW_SIZE))
    front = model.render_labels(baked, 0, 0, fov=wide, size=app.EDIT_VIEW_SIZE)
    assert (shown != front).mean() > 0.05, "the canvas shows the turned head, not the frontal mask"
    # framed as the encoder reads masks, the canvas is the view at the model's own field of view
    framed = np.asarray(app.frame_to_domain(Image.fromarray(shown), model.domain, 64))
    assert (framed == model.render_labels(baked, 30, -5, size=64)).mean() > 0.9
    # the next Render encodes the canvas at that pose (the app passes mask_pose to encode)
    edited = _fn(demo, "encode")(canvas, pose)
    assert edited.pose == (30.0, -5.0) and np.array_equal(edited.mask.labels, shown)


def test_a_regional_style_changes_the_picked_part_more_than_the_rest(bundled, tmp_path):
    model, mask = bundled
    demo = app.build_demo(model, "test", workdir=tmp_path)
    scene = _fn(demo, "encode")(app.editor_value(mask), (0.0, 0.0))
    view = _fn(demo, "render")

    def shot(seed, regions=None):
        frames = list(view(scene, 0, 0, 12, 64, 8, seed, "colour only", [4], -1, 0.5, app.RENDERERS[1], regions))
        return np.asarray(frames[-1][0], float)

    own, hair_styled = shot(-1), shot(5, ["hair"])
    labels = model.render_labels(scene, 0, 0, size=64)
    hair = labels == RAW.class_id("hair")
    change = np.abs(hair_styled - own).mean(-1)
    assert hair.mean() > 0.1 and change[hair].mean() > 3 * change[~hair].mean(), (change[hair].mean(), change[~hair].mean())
    made = scene._labels
    assert made is not None, "the labels are made on the visitor's scene ..."
    shot(6, ["skin"])
    assert scene._labels is made, "... once: every regional style of it reuses them"
    with pytest.raises(gr.Error, match="(?i)unknown region 'horns'"):
        shot(5, ["horns"])
    regions = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "style-regions")
    assert ("hair", "hair") in regions.choices and ("left eye (image right)", "l_eye") in regions.choices
    assert "background" not in [v for _, v in regions.choices] and regions.value == []


def test_the_bake_cache_tells_a_regional_style_from_a_plain_one(bundled):
    """Same seed and layers: the whole head styled, the hair styled and the skin styled are three fields, three grids;
    the same regional style twice is one."""
    model, mask = bundled
    scene = model.encode(mask, pose=(0.0, 0.0))
    plain = app.styled_scene(model, scene, 5, "colour only", None, -1, 0.5)
    hair = app.styled_scene(model, scene, 5, "colour only", None, -1, 0.5, ["hair"])
    skin = app.styled_scene(model, scene, 5, "colour only", None, -1, 0.5, ["skin"])
    keys = {app.BakeCache.key(s) for s in (scene, plain, hair, skin)}
    assert len(keys) == 4
    assert app.BakeCache.key(hair) == app.BakeCache.key(app.styled_scene(model, scene, 5, "colour only", None, -1, 0.5, ["hair"]))
    turned = model.encode(mask, pose=(20.0, 0.0))  # same codes, labels lifted from another pose
    assert app.BakeCache.key(app.styled_scene(model, turned, 5, "colour only", None, -1, 0.5, ["hair"])) != app.BakeCache.key(hair)
    assert app.styled_scene(model, scene, -1, "colour only", None, -1, 0.5, ["hair"]) is scene, "no style: the own look"
