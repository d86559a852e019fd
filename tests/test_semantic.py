"""The 3D semantic field: label maps at any view, edits from any view, regional style and labelled meshes.

Measured on the bundled default model and the committed example masks (each a few seconds at 64-128 px)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sem2nerf import Sem2NeRF
from sem2nerf.__main__ import main
from sem2nerf.labels import get_label_scheme
from sem2nerf.masks import frame_to_domain
from sem2nerf.semantic import SURFACE_OPACITY, region_ids
from sem2nerf.trajectories import Pose

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = {e["name"]: e for e in json.loads((ROOT / "examples" / "index.json").read_text())}


@pytest.fixture(scope="module")
def model() -> Sem2NeRF:
    return Sem2NeRF.from_pretrained("synthfaces")


def example_scene(model: Sem2NeRF, name: str):
    ex = EXAMPLES[name]
    return model.encode(ROOT / "examples" / ex["mask"], pose=(ex["yaw"], ex["pitch"]))


ALL_HEADS = ("synth01", "synth02", "synth03", "synth04", "synth05", "synth06")


@pytest.fixture(scope="module")
def scenes(model):
    return {name: example_scene(model, name) for name in ("synth01", "synth02", "synth03")}


def frontal(model: Sem2NeRF, scene, size: int = 64) -> np.ndarray:
    return np.asarray(model.render(scene, 0, 0, size=size, samples=12, deterministic=True)).astype(np.float32)


@pytest.mark.parametrize("name", ["synth01", "synth02_hair_longer_left"])
def test_labels_at_the_input_view_agree_with_the_framed_mask(model, name):
    scene = example_scene(model, name)
    labels = model.render_labels(scene, *scene.pose, size=128)
    framed = np.asarray(frame_to_domain(Image.fromarray(scene.mask.labels, mode="L"), model.domain, 128))
    assert labels.shape == (128, 128) and labels.dtype == np.uint8
    assert (labels == framed).mean() >= 0.85
    assert set(np.unique(labels)) >= {1, 2, 13}  # skin, nose and hair are carried over


def test_label_foreground_at_yaw_30_is_the_rendered_silhouette_and_turns_with_the_view(model, scenes):
    scene = scenes["synth01"]
    labels = model.render_labels(scene, 30, 0, size=96)
    out = model.render_output(scene, [Pose(30, 0, model.fov)], 96, model.render_options(12, deterministic=True))[0]
    silhouette = out.opacity[0].reshape(96, 96).numpy() >= SURFACE_OPACITY
    foreground = labels != scene.mask.scheme.background
    assert (foreground & silhouette).sum() / (foreground | silhouette).sum() >= 0.85
    front = model.render_labels(scene, 0, 0, size=96)
    assert (labels != front).mean() > 0.05  # a turned view, not the frontal map again
    names = scene.mask.scheme.class_names
    for part in ("skin", "hair", "nose"):
        assert (labels == names.index(part)).sum() > 20, part


def test_a_baked_scene_gives_the_same_labels(model, scenes):
    scene = scenes["synth02"]
    baked = model.bake(scene, resolution=64)
    direct, from_grid = model.render_labels(scene, -20, 5, size=64), model.render_labels(baked, -20, 5, size=64)
    assert (direct == from_grid).mean() >= 0.9


def test_edit_from_any_view_round_trip_gives_back_the_same_head(model, scenes):
    """Labels at yaw +-30 framed as a mask file -> encode at that pose -> frontal render: much closer to the head's
    own frontal render than another head is (under half the mean difference between the six example heads, as
    benchmarks/semantic_field.py reports it), and closest to its own."""
    own = {name: frontal(model, s) for name, s in scenes.items()}
    heads = {name: own[name] if name in own else frontal(model, example_scene(model, name))  # the six unedited examples
             for name in ALL_HEADS}
    between = np.mean([np.abs(heads[a] - heads[b]).mean() for a, b in itertools.combinations(heads, 2)])
    for name, yaw in (("synth01", 30), ("synth01", -30), ("synth02", 30), ("synth02", -30)):  # frontal masks
        mask = model.label_mask(scenes[name], yaw, 0, size=320)
        assert mask.labels.shape == (320, 320)
        back = frontal(model, model.encode(mask, pose=(yaw, 0)))
        distances = {other: np.abs(back - img).mean() for other, img in own.items()}
        assert min(distances, key=distances.get) == name, distances
        assert distances[name] < 0.5 * between, (name, distances[name], between)


def test_regional_style_changes_the_named_region_far_more_than_the_rest(model, scenes):
    scene = scenes["synth01"]
    regional = model.mix_style(scene, seed=7, regions=["hair"])
    assert regional.style["regions"] == ["hair"] and regional.regional is not None
    assert regional.frequencies.equal(scene.frequencies)  # the scene's own code holds every other point
    a, b = (np.asarray(model.render(s, 20, 0, size=96, samples=12, deterministic=True)).astype(np.float32)
            for s in (scene, regional))
    change = np.abs(a - b).mean(axis=2)
    hair = model.render_labels(scene, 20, 0, size=96) == scene.mask.scheme.class_names.index("hair")
    assert change[hair].mean() >= 5 * change[~hair].mean(), (change[hair].mean(), change[~hair].mean())
    # the same style on the whole head changes the rest too: the regional ratio is the regions' doing
    whole = np.asarray(model.render(model.mix_style(scene, seed=7), 20, 0, size=96, samples=12, deterministic=True))
    everywhere = np.abs(a - whole.astype(np.float32)).mean(axis=2)
    assert everywhere[~hair].mean() > 3 * change[~hair].mean()
    # a plain style after a regional one replaces it
    plain = model.mix_style(regional, seed=3)
    assert plain.regional is None and "regions" not in plain.style


def test_region_names_and_errors(model, scenes):
    assert region_ids("celebamask_hq_raw", ["hair", "hat"]) == (13, 14)
    assert region_ids("celebamask_hq_raw", ["eyes"]) == (4, 5)  # a merged name names both sides
    assert region_ids("celebamask_hq_raw", [13, "nose"]) == (2, 13)
    with pytest.raises(ValueError, match="unknown region 'beard'.*hair"):
        region_ids("celebamask_hq_raw", ["beard"])
    with pytest.raises(ValueError, match="other than the background"):
        region_ids("celebamask_hq_raw", ["background"])
    with pytest.raises(ValueError, match="encoded from a mask"):
        model.mix_style(model.average_scene(), seed=1, regions=["hair"])
    with pytest.raises(ValueError, match="no input mask"):
        model.render_labels(model.average_scene(), 0, 0, size=32)


def test_a_labelled_mesh_has_the_masks_classes(model, scenes, tmp_path):
    import trimesh

    from sem2nerf.export import extract_mesh, save_mesh

    scene = scenes["synth01"]
    mesh = extract_mesh(model, scene, resolution=48, labels=True, label_colours=True)
    ids = mesh.vertex_attributes["label"]
    assert ids.dtype == np.uint8 and len(ids) == len(mesh.vertices)
    names = scene.mask.scheme.class_names
    present = {names[i] for i in np.unique(ids)}
    assert {"skin", "hair", "nose"} <= present <= {names[i] for i in np.unique(scene.mask.labels)}
    palette = scene.mask.scheme.palette_array()
    assert np.array_equal(mesh.visual.vertex_colors[:, :3], palette[ids])
    path = save_mesh(mesh, tmp_path / "labelled.ply")
    back = trimesh.load(path, process=False)
    assert np.array_equal(np.asarray(back.metadata["_ply_raw"]["vertex"]["data"]["label"]).ravel(), ids)


def test_cli_writes_label_maps_and_regional_styles(tmp_path, capsys):
    mask = str(ROOT / "examples" / "masks" / "synth01.png")
    out, labels = tmp_path / "view.png", tmp_path / "labels.png"
    assert main(["render", "--mask", mask, "--yaw", "25", "--size", "64", "--samples", "8", "--out", str(out),
                 "--labels", str(labels), "--style-seed", "7", "--style-regions", "hair,hat"]) == 0
    image = Image.open(labels)
    assert image.mode == "P" and image.size == (64, 64)
    ids = np.asarray(image)
    assert {1, 13} <= set(np.unique(ids)) and ids.max() < 19  # raw CelebAMask-HQ ids as pixel values
    hair = get_label_scheme("celebamask_hq_raw").palette_array()[13]
    assert image.getpalette()[13 * 3:13 * 3 + 3] == [int(c) for c in hair]  # shown in the class colours
    strip = tmp_path / "strip.png"
    assert main(["render", "--mask", mask, "--views", "front", "--frames", "4", "--size", "64", "--samples", "6",
                 "--out", str(tmp_path / "front.png"), "--labels", str(strip)]) == 0
    assert Image.open(strip).size == (4 * 64, 64)
    capsys.readouterr()
    assert main(["render", "--mask", mask, "--out", str(out), "--style-regions", "hair"]) == 2
    assert "--style-seed" in capsys.readouterr().err
    assert main(["render", "--mask", mask, "--size", "64", "--samples", "4", "--out", str(out), "--style-seed", "1",
                 "--style-regions", "beard"]) == 2
    assert "unknown region 'beard'" in capsys.readouterr().err
