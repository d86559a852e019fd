"""Mesh extraction and video writing (sem2nerf.export)."""

from __future__ import annotations

import imageio_ffmpeg
import numpy as np
import pytest
import torch
import trimesh

from sem2nerf import Sem2NeRFError
from sem2nerf.export import extract_mesh, save_mesh, write_video


def test_mesh_is_the_density_iso_surface_with_the_field_colours(tiny_model, mask_array, tmp_path):
    scene = tiny_model.encode(mask_array)
    mesh = extract_mesh(tiny_model, scene, resolution=24, threshold=0.06)
    half = tiny_model.decoder.box_size / 2
    assert len(mesh.faces) > 0 and np.abs(mesh.vertices).max() <= half + 1e-6
    field = tiny_model.field(scene)
    with torch.no_grad():
        out = field(torch.from_numpy(mesh.vertices[:50]).float()[None], None)[0]
    assert np.allclose(out[:, 3].numpy(), 0.06, atol=0.02), "vertices lie on the threshold level"
    assert np.abs(out[:, :3].numpy() * 255 - mesh.visual.vertex_colors[:50, :3]).max() <= 1
    for name in ("m.glb", "m.ply"):
        # skip_materials: trimesh reads a GLB's COLOR_0 as vertex colours only without its material
        loaded = trimesh.load(save_mesh(mesh, tmp_path / name), force="mesh", skip_materials=True)
        assert loaded.visual.kind == "vertex" and len(loaded.vertices) == len(mesh.vertices)
    with pytest.raises(ValueError, match="glb"):
        save_mesh(mesh, tmp_path / "m.obj")
    with pytest.raises(Sem2NeRFError, match="never crosses"):
        extract_mesh(tiny_model, scene, resolution=16, threshold=1e6)


def test_video_is_h264_yuv420p_and_pads_odd_sides(tmp_path):
    frames = [np.full((33, 47, 3), 20 * k, np.uint8) for k in range(5)]
    path = write_video(frames, tmp_path / "v.mp4", fps=5)
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p") and meta["size"] == (48, 34)
    assert sum(1 for _ in reader) == 5
    head = path.read_bytes()[:64]
    assert head[4:8] == b"ftyp" and b"moov" in head, "the index comes first (+faststart): browsers start playing at once"
    with pytest.raises(ValueError, match="one size"):
        write_video([frames[0], np.zeros((10, 10, 3), np.uint8)], tmp_path / "bad.mp4")
    with pytest.raises(ValueError, match="at least one"):
        write_video([], tmp_path / "none.mp4")


def test_glb_has_a_non_metallic_unlit_material_on_every_primitive(tmp_path):
    """glTF's default material is fully metallic, which shows vertex colours almost black: the GLB names its own
    (metallicFactor 0, KHR_materials_unlit declared) on every primitive, and its vertex colours load back unchanged."""
    import json
    import struct

    mesh = trimesh.creation.icosphere(subdivisions=2)
    colours = np.random.default_rng(0).integers(0, 256, (len(mesh.vertices), 4), dtype=np.uint8)
    colours[:, 3] = 255
    mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=colours)
    data = save_mesh(mesh, tmp_path / "m.glb").read_bytes()
    assert data[:4] == b"glTF" and struct.unpack_from("<I", data, 8)[0] == len(data)
    length = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20:20 + length])
    primitives = [p for m in doc["meshes"] for p in m["primitives"]]
    assert primitives and all("material" in p for p in primitives)
    material = doc["materials"][primitives[0]["material"]]
    assert material["pbrMetallicRoughness"]["metallicFactor"] == 0.0
    assert "KHR_materials_unlit" in material["extensions"] and "KHR_materials_unlit" in doc["extensionsUsed"]
    loaded = trimesh.load(tmp_path / "m.glb", force="mesh", skip_materials=True)
    assert np.array_equal(np.asarray(loaded.visual.vertex_colors), colours)
