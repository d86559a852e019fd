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
    rc = main(["render", "--model", str(model_dir), "--mask", str(mask_file), "--yaw", "15", "--size", "20",
               "--samples", "4", "--out", str(out), "--depth", str(depth), "--style-seed", "3"])
    assert rc == 0
    assert Image.open(out).size == (20, 20)
    assert Image.open(depth).mode == "L"


def test_preview_strip_has_mask_and_five_views(model_dir, mask_file, tmp_path):
    out = tmp_path / "strip.png"
    assert main(["render", "--model", str(model_dir), "--mask", str(mask_file), "--views", "preview",
                 "--size", "16", "--samples", "4", "--out", str(out)]) == 0
    assert Image.open(out).size == (6 * 16, 16)


def test_turntable_video_and_renderer_choice(model_dir, mask_file, tmp_path, capsys):
    """An .mp4 --out writes the frames as a video; auto bakes for more than BAKE_ABOVE_VIEWS views; the baked and
    direct strips show the same views."""
    import imageio_ffmpeg
    import numpy as np

    from sem2nerf.__main__ import BAKE_ABOVE_VIEWS

    base = ["render", "--model", str(model_dir), "--mask", str(mask_file), "--size", "16", "--samples", "4"]
    video = tmp_path / "orbit.mp4"
    assert main([*base, "--views", "orbit", "--frames", str(BAKE_ABOVE_VIEWS + 2), "--out", str(video), "--fps", "6"]) == 0
    assert "baked renderer" in capsys.readouterr().out
    reader = imageio_ffmpeg.read_frames(str(video))
    meta = next(reader)
    assert meta["size"] == (16, 16) and meta["fps"] == 6 and sum(1 for _ in reader) == BAKE_ABOVE_VIEWS + 2
    strips = {}
    for renderer in ("direct", "baked"):  # the bundled model (a real surface; the tiny model is a near-uniform haze)
        out = tmp_path / f"{renderer}.png"
        assert main(["render", "--mask", str(mask_file), "--size", "32", "--samples", "6", "--views", "orbit",
                     "--frames", "3", "--renderer", renderer, "--out", str(out)]) == 0
        assert f"{renderer} renderer" in capsys.readouterr().out
        strips[renderer] = np.asarray(Image.open(out), float)
    assert strips["direct"].shape == strips["baked"].shape == (32, 96, 3)
    error = np.abs(strips["direct"] - strips["baked"]).mean()
    other_view = np.abs(strips["direct"][:, :32] - strips["direct"][:, 32:64]).mean()  # orbit frames 120 degrees apart
    assert error < 0.3 * other_view
    assert main([*base, "--views", "front", "--frames", "3", "--out", str(tmp_path / "auto.png")]) == 0
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
    assert rc == 2 and "--fps must be positive" in capsys.readouterr().err


def test_help_and_schemes(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["render", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--yaw" in text and "frontal" in text
    assert main(["schemes"]) == 0
    listing = capsys.readouterr().out
    assert "celebamask_hq_raw (19 classes)" in listing and "catmask_merged (8 classes)" in listing
