"""Exports of a scene: a coloured triangle mesh (marching cubes on the density) and H.264 videos.

:func:`extract_mesh` samples the scene's radiance field (:meth:`Sem2NeRF.field`, view-locked as at
inference) on a regular grid over the decoder's box, runs marching cubes (scikit-image) on the
density and colours every vertex with the field's colour there. :func:`save_mesh` writes GLB or
PLY (trimesh), both with vertex colours (the GLB with an unlit, non-metallic material, so viewers show them as
rendered). :func:`write_video` writes an H.264 (yuv420p) MP4 with
the ffmpeg binary that ships inside the ``imageio-ffmpeg`` wheel, which every browser plays.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from .errors import Sem2NeRFError
from .renderer import evaluate_points

if TYPE_CHECKING:  # pragma: no cover
    import trimesh

    from .bake import BakedScene
    from .model import Scene, Sem2NeRF

__all__ = ["DEFAULT_MESH_THRESHOLD", "MESH_FORMATS", "extract_mesh", "save_mesh", "write_video"]

DEFAULT_MESH_THRESHOLD = 10.0  # raw density level of the surface
MESH_FORMATS = (".glb", ".ply")


@torch.no_grad()
def extract_mesh(
    model: Sem2NeRF,
    scene: Scene,
    resolution: int = 128,
    threshold: float = DEFAULT_MESH_THRESHOLD,
    chunk_points: int = 65536,
    progress: Callable[[float], None] | None = None,
    baked: BakedScene | None = None,
    labels: bool = False,
    label_colours: bool = False,
) -> trimesh.Trimesh:
    """The iso-surface ``sigma = threshold`` of a scene's density, with per-vertex colours.

    Args:
        model, scene: the model and an encoded (optionally style-mixed) scene.
        resolution: grid points per side over the decoder's box (``model.decoder.box_size`` wide,
            centred on the origin); memory and time grow as ``resolution ** 3``.
        threshold: density level of the surface (raw ``sigma``, before the renderer's ReLU).
        chunk_points: field evaluations per batch (bounds memory).
        progress: called with the fraction done (0-1) while the grid is evaluated.
        baked: the scene's baked grid (:meth:`Sem2NeRF.bake`): density and colours are then read from
            it by trilinear interpolation instead of evaluating the network (much faster; the grid must
            cover the decoder's box, which every bake at the model's field of view does).
        labels: label every vertex with the scene's 3D labels (:meth:`Sem2NeRF.label_field`, raw ids of the input
            mask's scheme): ``mesh.vertex_attributes["label"]`` (uint8), written by :func:`save_mesh` as a PLY
            vertex property ``label``. Needs a scene encoded from a mask.
        label_colours: colour the vertices by their label's palette colour instead of the field's colour (a
            segmented mesh; implies ``labels``).

    Returns a ``trimesh.Trimesh`` in world coordinates (the renderer's: +y up, the face looks
    towards +z) with uint8 RGBA vertex colours. Raises :class:`Sem2NeRFError` when the density
    never crosses ``threshold`` (the message gives the density range to pick another level).
    """
    import trimesh
    from skimage.measure import marching_cubes

    if not 8 <= int(resolution) <= 512:
        raise ValueError(f"mesh resolution must be between 8 and 512 grid points per side, got {resolution}")
    half = model.decoder.box_size / 2.0
    if baked is not None:
        if baked.radius < half:
            raise ValueError(f"the baked grid spans +-{baked.radius:.3f}, less than the decoder's box (+-{half:.3f})")
        field = baked.field
    else:
        field = model.field(scene)
    axis = torch.linspace(-half, half, int(resolution), device=model.device)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)
    sigma = evaluate_points(field, grid, chunk_points, progress)[:, 3].cpu()
    volume = sigma.reshape((int(resolution),) * 3).numpy()
    low, high = float(volume.min()), float(volume.max())
    if not low < threshold < high:
        raise Sem2NeRFError(
            f"the scene's density never crosses the mesh threshold {threshold:g} (it ranges from {low:.3g} to "
            f"{high:.3g}); pick a threshold inside that range, e.g. {low + 0.5 * (high - low):.3g}"
        )
    spacing = (2.0 * half / (int(resolution) - 1),) * 3
    verts, faces, normals, _ = marching_cubes(volume, level=threshold, spacing=spacing)
    verts = verts - half
    rgb = evaluate_points(field, torch.from_numpy(verts).float().to(model.device), chunk_points)[:, :3].cpu()
    colors = np.concatenate([(rgb.numpy() * 255.0).round().clip(0, 255), np.full((len(rgb), 1), 255.0)], axis=1)
    ids = None
    if labels or label_colours:
        label_field = model.label_field(scene)
        ids = label_field.label_points(torch.from_numpy(verts).float()).numpy().astype(np.uint8)
        if label_colours:
            colors[:, :3] = label_field.scheme.palette_array()[ids]
    mesh = trimesh.Trimesh(
        vertices=verts, faces=faces, vertex_normals=normals, vertex_colors=colors.astype(np.uint8), process=False
    )
    if ids is not None:
        mesh.vertex_attributes["label"] = ids
    return mesh


def save_mesh(mesh: trimesh.Trimesh, path: str | os.PathLike) -> Path:
    """Write a mesh as ``.glb`` (binary glTF) or ``.ply`` (binary), vertex colours included."""
    path = Path(path)
    if path.suffix.lower() not in MESH_FORMATS:
        raise ValueError(f"mesh format must be one of {', '.join(MESH_FORMATS)}, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".glb":
        path.write_bytes(_with_vertex_colour_material(mesh.export(file_type="glb")))
    else:
        mesh.export(path)
    return path


# The material of an exported GLB: trimesh writes vertex colours with no material, so viewers apply glTF's default
# one, which is fully metallic (metallicFactor 1) and shows the colours almost black. The field's colours already hold
# the scene's shading, so the mesh is unlit (KHR_materials_unlit) where a viewer supports it and a white, non-metallic,
# fully rough surface that the vertex colours multiply where it does not.
GLB_MATERIAL = {
    "name": "sem2nerf_vertex_colours",
    "pbrMetallicRoughness": {"baseColorFactor": [1.0, 1.0, 1.0, 1.0], "metallicFactor": 0.0, "roughnessFactor": 1.0},
    "doubleSided": True,
    "extensions": {"KHR_materials_unlit": {}},
}


def _with_vertex_colour_material(glb: bytes) -> bytes:
    """The binary glTF ``glb`` with :data:`GLB_MATERIAL` on every primitive (chunks rewritten, binary chunk kept)."""
    magic, version, _ = struct.unpack_from("<4sII", glb, 0)
    json_length, json_type = struct.unpack_from("<I4s", glb, 12)
    if magic != b"glTF" or version != 2 or json_type != b"JSON":
        raise ValueError("not a binary glTF 2.0 file")
    doc = json.loads(glb[20:20 + json_length])
    rest = glb[20 + json_length:]  # the binary chunk, header included
    doc["materials"] = [*doc.get("materials", []), GLB_MATERIAL]
    index = len(doc["materials"]) - 1
    for mesh in doc.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            primitive["material"] = index
    doc["extensionsUsed"] = sorted({*doc.get("extensionsUsed", []), "KHR_materials_unlit"})
    text = json.dumps(doc, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)  # chunks are 4-byte aligned; JSON pads with spaces
    body = struct.pack("<I4s", len(text), b"JSON") + text + rest
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def write_video(frames: Iterable[Image.Image | np.ndarray], path: str | os.PathLike, fps: float = 12.0) -> Path:
    """Write RGB frames (PIL images or ``(H, W, 3)`` uint8 arrays, all one size) as an H.264 MP4.

    The stream is yuv420p with the index at the front (``+faststart``): browsers play it inline.
    Odd frame sides are padded by one black pixel, as yuv420p needs even sides.
    """
    import imageio_ffmpeg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    count = 0
    try:
        for frame in frames:
            arr = np.ascontiguousarray(np.asarray(frame.convert("RGB") if isinstance(frame, Image.Image) else frame, np.uint8))
            if arr.ndim != 3 or arr.shape[2] != 3:
                raise ValueError(f"video frames must be (H, W, 3) RGB, got shape {arr.shape}")
            arr = np.pad(arr, ((0, arr.shape[0] % 2), (0, arr.shape[1] % 2), (0, 0)))
            if writer is None:
                size = (arr.shape[1], arr.shape[0])
                writer = imageio_ffmpeg.write_frames(
                    str(path), size, fps=fps, codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
                    macro_block_size=1, ffmpeg_log_level="error", output_params=["-movflags", "+faststart"],
                )
                writer.send(None)  # start ffmpeg
            elif (arr.shape[1], arr.shape[0]) != size:
                raise ValueError(f"all video frames must have one size: {size} then {(arr.shape[1], arr.shape[0])}")
            writer.send(arr)
            count += 1
    finally:
        if writer is not None:
            writer.close()
    if count == 0:
        raise ValueError("a video needs at least one frame")
    return path
