"""Bad numbers and broken model folders get a plain error from the package itself (every caller is covered)."""

from __future__ import annotations

import math

import pytest

from sem2nerf import ModelLoadError, Sem2NeRF
from sem2nerf.limits import FRAMES, SIZE, Limit, check_finite, max_render_size
from sem2nerf.trajectories import Pose

NAN, INF = math.nan, math.inf


@pytest.fixture(scope="module")
def scene_and_baked():
    import torch
    from conftest import TINY_CONFIG, face_mask

    torch.manual_seed(0)
    model = Sem2NeRF(**TINY_CONFIG).eval()
    scene = model.encode(face_mask(64))
    return model, scene, model.bake(scene, resolution=8)


@pytest.mark.parametrize(
    "view",
    [{"yaw": NAN}, {"pitch": INF}, {"fov": NAN}, {"fov": -INF}, {"fov": 0.0}, {"fov": 180.0}, {"seed": NAN},
     {"seed": 1.5}, {"size": NAN}, {"samples": INF}],
)
def test_model_and_baked_renders_refuse_non_finite_views(scene_and_baked, view):
    """A NaN angle used to give a black image without complaint (the rays are NaN, every sample misses)."""
    model, scene, baked = scene_and_baked
    args = {"yaw": 0.0, "pitch": 0.0, "fov": 12.0, "size": 16, "samples": 4, "seed": 0, **view}
    with pytest.raises(ValueError, match="finite|between|whole"):
        model.render(scene, **args)
    with pytest.raises(ValueError, match="finite|between|whole"):
        baked.render(**args)
    if set(view) <= {"yaw", "pitch", "fov"}:
        pose = Pose(args["yaw"], args["pitch"], args["fov"])
        for call in (lambda: model.render_views(scene, [Pose(0, 0, 12), pose], size=16, samples=4),
                     lambda: baked.render_views([pose], size=16, samples=4)):
            with pytest.raises(ValueError, match="finite|between"):
                call()


def test_styles_and_bakes_refuse_non_finite_numbers(scene_and_baked):
    model, scene, _ = scene_and_baked
    for kwargs in ({"seed": NAN}, {"seed": 3, "seed2": INF, "alpha": 0.5}, {"seed": 3, "seed2": 4, "alpha": NAN},
                   {"seed": -1}):
        with pytest.raises(ValueError, match="seed|alpha"):
            model.mix_style(scene, kwargs.pop("seed"), **kwargs)
    with pytest.raises(ValueError, match="field of view"):
        model.bake(scene, resolution=8, fov=NAN)


def test_limits_refuse_nan_fractions_and_out_of_range_values():
    assert FRAMES.check(24.0, "frames") == 24 and isinstance(FRAMES.check(24.0, "frames"), int)
    for bad, message in ((NAN, "finite"), (INF, "finite"), (2.5, "whole"), (73, "between 4 and 72"), ("x", "number")):
        with pytest.raises(ValueError, match=message):
            FRAMES.check(bad, "frames")
    assert SIZE.check(512, "size") == 512
    with pytest.raises(ValueError, match="between 64 and 256, got 512"):
        SIZE.check(512, "size", max_render_size("cpu"))
    assert max_render_size("cuda:1") == 512 and max_render_size(None) == 256
    assert Limit(0, 1).check(0.25, "alpha") == 0.25
    with pytest.raises(ValueError, match="finite"):
        check_finite(-INF, "x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"config\.json is not valid JSON \(line 1, column 2"),
        ("[1, 2]", r"config\.json holds a list, not an object"),
        ("3", r"config\.json holds a number"),
        ("null", r"config\.json holds null"),
        ('{"domain": "celebamask_hq", "use_contour": true}', r"config\.json lacks the model settings encoder_size"),
        (b"\xff\xfe{", r"config\.json is not valid JSON \(it is not UTF-8"),
    ],
)
def test_a_broken_config_json_is_a_model_load_error_naming_the_file(tiny_model, tmp_path, text, message):
    tiny_model.save_pretrained(tmp_path / "m")
    config = tmp_path / "m" / "config.json"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ModelLoadError, match=message) as info:
        Sem2NeRF.from_pretrained(tmp_path / "m")
    assert str(config) in str(info.value) and "\n" not in str(info.value)
