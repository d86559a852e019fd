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


def test_bad_inputs_exit_2_with_a_message(model_dir, tmp_path, capsys):
    (tmp_path / "junk.png").write_bytes(b"not a png")
    rc = main(["render", "--model", str(model_dir), "--mask", str(tmp_path / "junk.png"), "--out", str(tmp_path / "o.png")])
    assert rc == 2 and "cannot read" in capsys.readouterr().err
    rc = main(["render", "--model", str(tmp_path / "missing"), "--mask", str(tmp_path / "junk.png"), "--out", str(tmp_path / "o.png")])
    assert rc == 2 and "no model folder" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_help_and_schemes(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["render", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--yaw" in text and "frontal" in text
    assert main(["schemes"]) == 0
    listing = capsys.readouterr().out
    assert "celebamask_hq_raw (19 classes)" in listing and "catmask_merged (8 classes)" in listing
