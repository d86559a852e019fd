"""One view path: the network and a baked grid are both view sources, rendered into images by one function."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from sem2nerf.bake import BakedScene
from sem2nerf.trajectories import Pose
from sem2nerf.views import DirectView, ViewSource, depth_picture, render_images

ROOT = Path(__file__).resolve().parents[1]


def test_the_network_and_a_baked_grid_are_view_sources_rendered_alike(tiny_model, mask_array):
    scene = tiny_model.encode(mask_array)
    direct, baked = tiny_model.view_source(scene), tiny_model.bake(scene, resolution=32)
    assert isinstance(direct, DirectView) and isinstance(direct, ViewSource)
    assert isinstance(baked, BakedScene) and isinstance(baked, ViewSource)
    poses = [Pose(10, -5, tiny_model.fov), Pose(-20, 0, tiny_model.fov)]
    views = render_images(direct, poses, 24, 6, seed=3)
    assert [v.image.size for v in views] == [(24, 24)] * 2 and views[0].depth.shape == (24, 24)
    image, depth = tiny_model.render(scene, 10, -5, size=24, samples=6, seed=3, return_depth=True)
    assert np.array_equal(np.asarray(image), np.asarray(views[0].image)) and np.array_equal(depth, views[0].depth)
    image = baked.render(-20, 0, size=24, samples=6, seed=3)
    assert np.array_equal(np.asarray(image), np.asarray(render_images(baked, poses[1:], 24, 6, seed=3)[0].image))
    with pytest.raises(ValueError, match="image size"):
        render_images(direct, poses, 4, 6)


def test_depth_pictures_put_near_bright():
    depth = np.array([[0.9, 1.0], [1.1, 2.0]], np.float32)
    grey = np.asarray(depth_picture(depth, 0.9, 1.1, colour=False))
    assert grey[0, 0] == 255 and grey[1, 0] == 0 and grey[1, 1] == 0 and 120 <= grey[0, 1] <= 135
    colour = np.asarray(depth_picture(depth, 0.9, 1.1))
    assert colour.shape == (2, 2, 3) and colour[0, 0].sum() > colour[0, 1].sum() > colour[1, 0].sum()


def test_the_package_has_no_import_cycle_between_the_model_and_the_bake():
    """sem2nerf.bake and sem2nerf.views import nothing of sem2nerf.model at run time (only for type checking)."""
    for name in ("bake.py", "views.py", "renderer.py"):
        tree = ast.parse((ROOT / "sem2nerf" / name).read_text())
        runtime = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module in ("model", ".model")
                   or isinstance(n, ast.ImportFrom) and n.level == 1 and n.module == "model"]
        guarded = [n for n in ast.walk(tree) if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)]
        in_guard = {id(m) for g in guarded for m in ast.walk(g)}
        assert all(id(n) in in_guard for n in runtime), name
