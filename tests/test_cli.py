"""The command line renders masks with a saved model and reports bad input plainly."""

import pytest
from PIL import Image

from sem2nerf.__main__ import main


@pytest.fixture
def model_dir(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path / "model")
    return tmp_path / "model"


@pytest.fixture
def mask_file(tmp_path, mask_array):
    Image.fromarray(mask_array, "L").save(tmp_path / "mask.png")
    return tmp_path / "mask.png"


def test_render_single_view_with_depth(model_dir, mask_file, tmp_path):
    out, depth = tmp_path / "out" / "view.png", tmp_path / "depth.png"
    rc = main(["render", "--model", str(model_dir), "--mask", str(mask_file), "--yaw", "15", "--size", "64",
               "--samples", "4", "--out", str(out), "--depth", str(depth), "--style-seed", "3"])
    assert rc == 0
    assert Image.open(out).size == (64, 64)
    assert Image.open(depth).mode == "L"


def test_preview_strip_has_mask_and_five_views(model_dir, mask_file, tmp_path):
    out = tmp_path / "strip.png"
    assert main(["render", "--model", str(model_dir), "--mask", str(mask_file), "--views", "preview",
                 "--size", "64", "--samples", "4", "--out", str(out)]) == 0
    assert Image.open(out).size == (6 * 64, 64)


def test_turntable_video_and_renderer_choice(model_dir, mask_file, tmp_path, capsys):
    """An .mp4 --out writes the frames as a video; auto bakes for more than BAKE_ABOVE_VIEWS views; the baked and
    direct strips show the same views."""
    import imageio_ffmpeg
    import numpy as np

    from sem2nerf.__main__ import BAKE_ABOVE_VIEWS

    base = ["render", "--model", str(model_dir), "--mask", str(mask_file), "--size", "64", "--samples", "4"]
    video = tmp_path / "orbit.mp4"
    assert main([*base, "--views", "orbit", "--frames", str(BAKE_ABOVE_VIEWS + 2), "--out", str(video), "--fps", "6"]) == 0
    assert "baked renderer" in capsys.readouterr().out
    reader = imageio_ffmpeg.read_frames(str(video))
    meta = next(reader)
    assert meta["size"] == (64, 64) and meta["fps"] == 6 and sum(1 for _ in reader) == BAKE_ABOVE_VIEWS + 2
    strips = {}
    for renderer in ("direct", "baked"):  # the bundled model (a real surface; the tiny model is a near-uniform haze)
        out = tmp_path / f"{renderer}.png"
        assert main(["render", "--mask", str(mask_file), "--size", "64", "--samples", "6", "--views", "orbit",
                     "--frames", "4", "--renderer", renderer, "--out", str(out)]) == 0
        assert f"{renderer} renderer" in capsys.readouterr().out
        strips[renderer] = np.asarray(Image.open(out), float)
    assert strips["direct"].shape == strips["baked"].shape == (64, 256, 3)
    error = np.abs(strips["direct"] - strips["baked"]).mean()
    other_view = np.abs(strips["direct"][:, :64] - strips["direct"][:, 64:128]).mean()  # orbit frames 90 degrees apart
    assert error < 0.3 * other_view
    assert main([*base, "--views", "front", "--frames", "4", "--out", str(tmp_path / "auto.png")]) == 0
    assert "direct renderer" in capsys.readouterr().out  # few views: no bake


def test_bad_inputs_exit_2_with_a_message(model_dir, tmp_path, capsys):
    (tmp_path / "junk.png").write_bytes(b"not a png")
    rc = main(["render", "--model", str(model_dir), "--mask", str(tmp_path / "junk.png"), "--out", str(tmp_path / "o.png")])
    assert rc == 2 and "cannot read" in capsys.readouterr().err
    rc = main(["render", "--model", str(tmp_path / "missing"), "--mask", str(tmp_path / "junk.png"), "--out", str(tmp_path / "o.png")])
    assert rc == 2 and "no model folder" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()
    mask = str(tmp_path / "junk.png")
    for out, views, message in (("o.mp4", "single", "turntable video"), ("o.txt", "single", "image file"),
                                ("o.mp4", "preview", "--views front")):
        rc = main(["render", "--model", str(model_dir), "--mask", mask, "--views", views, "--out", str(tmp_path / out)])
        assert rc == 2 and message in capsys.readouterr().err
    rc = main(["render", "--model", str(model_dir), "--mask", mask, "--views", "orbit", "--fps", "0", "--out",
               str(tmp_path / "o.mp4")])
    assert rc == 2 and "--fps must be between 4 and 30, got 0" in capsys.readouterr().err


def test_help_and_schemes(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["render", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--yaw" in text and "frontal" in text
    assert main(["schemes"]) == 0
    listing = capsys.readouterr().out
    assert "celebamask_hq_raw (19 classes)" in listing and "catmask_merged (8 classes)" in listing


# --- bad input: non-finite numbers, limits, broken configs, implausible masks (docs/bad_input.md) --------------------


def _render(model_dir, mask, out, *extra):
    return main(["render", "--model", str(model_dir), "--mask", str(mask), "--size", "64", "--samples", "4",
                 "--out", str(out), *extra])


@pytest.mark.parametrize("flag", ["--yaw", "--pitch", "--fov", "--fps", "--style-alpha"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused(model_dir, mask_file, tmp_path, capsys, flag, value):
    """argparse's float() takes 'nan': without a check a NaN yaw renders a black image and reports success."""
    out = tmp_path / "o.png"
    with pytest.raises(SystemExit) as info:
        _render(model_dir, mask_file, out, f"{flag}={value}")
    assert info.value.code == 2
    assert f"argument {flag}: expected a finite number, got '{value}'" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--frames", "500", "--views", "orbit"], "--frames must be between 4 and 72, got 500"),
        (["--frames", "2", "--views", "front"], "--frames must be between 4 and 72, got 2"),
        (["--size", "100000"], "--size (on a CPU) must be between 64 and 256, got 100000"),
        (["--size", "8"], "--size (on a CPU) must be between 64 and 256, got 8"),
        (["--samples", "100000"], "--samples must be between 4 and 48, got 100000"),
        (["--fps", "1000", "--views", "orbit"], "--fps must be between 4 and 30, got 1000"),
        (["--style-seed", "-5"], "--style-seed must be between 0 and 4294967295, got -5"),
        (["--seed", str(2**70)], "--seed must be between 0 and 4294967295"),
        (["--fov", "0"], "--fov must be between 0 and 180 degrees, got 0"),
    ],
)
def test_counts_and_sizes_beyond_the_apps_limits_are_refused_before_any_work(tmp_path, capsys, args, message):
    """The same limits as the app's sliders (sem2nerf.limits), checked before the model is even loaded."""
    rc = main(["render", "--model", str(tmp_path / "no-model-here"), "--mask", str(tmp_path / "no-mask.png"),
               "--device", "cpu", "--out", str(tmp_path / "o.png"), *args])
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err
    assert "no model folder" not in err


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("{not json", r"config\.json is not valid JSON \(line 1, column 2"),
        ("[1, 2, 3]", r"config\.json holds a list, not an object of model settings"),
        ('{"domain": "celebamask_hq"}', r"config\.json lacks the model settings use_contour, encoder_size"),
    ],
)
def test_a_broken_config_json_exits_2_with_one_line_naming_the_file(model_dir, mask_file, tmp_path, capsys, config,
                                                                     message):
    (model_dir / "config.json").write_text(config)
    rc = _render(model_dir, mask_file, tmp_path / "o.png")
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    assert str(model_dir / "config.json") in err
    import re

    assert re.search(message, err), err


def test_implausible_layouts_warn_on_stderr_and_still_render(model_dir, tmp_path, capsys, mask_array):
    from test_layout import cat_mask

    from sem2nerf import get_label_scheme

    raw = get_label_scheme("celebamask_hq_raw")
    Image.fromarray(raw.merge(mask_array), "L").save(tmp_path / "merged_ids.png")
    Image.fromarray(cat_mask(), "L").save(tmp_path / "cat_ids.png")
    Image.fromarray(mask_array, "L").save(tmp_path / "face_ids.png")
    for name, expected in (("merged_ids", "pass --scheme celebamask_hq_merged"), ("cat_ids", "a cat model"),
                           ("face_ids", None)):
        out = tmp_path / f"{name}_view.png"
        assert _render(model_dir, tmp_path / f"{name}.png", out) == 0, name
        err = capsys.readouterr().err
        assert out.is_file(), name
        if expected is None:
            assert "warning" not in err, err
        else:
            assert err.startswith("warning: The mask does not look like a face") and expected in err, err
    assert _render(model_dir, tmp_path / "merged_ids.png", tmp_path / "o.png", "--scheme", "celebamask_hq_merged") == 0
    assert "warning" not in capsys.readouterr().err, "read in the right scheme, the same mask is fine"
