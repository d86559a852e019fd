"""Sem2NeRF app: draw or upload a semantic mask of a face, turn it in 3D, mix styles, export video and mesh.

Run: ``python app.py [--model FOLDER_OR_REPO_ID] [--host 127.0.0.1] [--port 7860] [--share] [--device auto]``
(or set ``SEM2NERF_MODEL``; on a Hugging Face Space set it as a variable). Without either, the bundled
default model (``sem2nerf.DEFAULT_MODEL``, trained on SynthFaces) is loaded, offline.

Structure: the module-level functions below hold the app's logic and take the model explicitly (they
are unit-tested); :func:`build_demo` wires them to Gradio components. Every view goes through
:func:`render_poses`, the app's one rendering call. The mask is encoded once per edit and the
resulting scene lives in a per-visitor ``gr.State``; view and style controls only re-render it.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from sem2nerf import (
    DEFAULT_MODEL,
    LabelMask,
    Pose,
    Scene,
    Sem2NeRF,
    Sem2NeRFError,
    front_trajectory,
    get_domain,
    get_label_scheme,
    load_mask,
    orbit_trajectory,
    preview_poses,
    sweep_trajectory,
)
from sem2nerf.bake import BakeCache, BakedScene
from sem2nerf.domains import Domain
from sem2nerf.errors import MaskError, ModelLoadError
from sem2nerf.export import DEFAULT_MESH_THRESHOLD, extract_mesh, save_mesh, write_video
from sem2nerf.layout import check_layout
from sem2nerf.limits import (
    ALPHA,
    CPU_MAX_MESH_RESOLUTION,
    CPU_MAX_SIZE,
    FOV,
    FPS,
    FRAMES,
    GPU_MAX_MESH_RESOLUTION,
    GPU_MAX_SIZE,
    MESH_RESOLUTION,
    PITCH,
    SAMPLES,
    SEED,
    SIZE,
    YAW,
    check_finite,
)
from sem2nerf.masks import SNAP_TRUSTED_DISTANCE, frame_to_domain, open_image
from sem2nerf.model import STYLE_PRESETS as PRESET_LAYERS
from sem2nerf.model import preset_style_layers
from sem2nerf.views import depth_picture

MODEL_ENV = "SEM2NERF_MODEL"
NO_MODEL = (
    "No model is loaded. Start the app with `python app.py --model FOLDER_OR_REPO_ID` (a folder holding "
    "config.json + model.safetensors, a Hugging Face repo id, or `synthfaces` for the bundled default), "
    "or set SEM2NERF_MODEL."
)
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
CANVAS_SIDE = 512  # the drawing canvas; uploads into it are scaled to fit
MAX_UPLOAD_SIDE = 4096  # larger mask files are refused before decoding (the encoder sees 224 px)
PREVIEW_SIZE = 64  # the quick first render shown while a larger one is computed
# Slider ranges and the checks of every handler come from sem2nerf.limits (the command line keeps to the same).
STYLE_PRESETS = (*PRESET_LAYERS, "custom")
TRAJECTORIES = ("front (official wobble)", "yaw sweep", "orbit")
OUTPUT_MAX_AGE_S = 3600  # exported videos and meshes older than this are deleted
TEMP_AGE_ENV = "SEM2NERF_TEMP_MAX_AGE"  # seconds; overrides OUTPUT_MAX_AGE_S for Gradio's cached files (soak runs)
RENDERERS = ("baked grid (fast)", "direct (exact)")
BAKE_RESOLUTION = 128  # cells per axis of a baked grid: ~34 MB, PSNR >= 30 dB against a direct render
# Baked grids kept in memory (sem2nerf.bake.BakeCache), by size (least recently used first out): a grid of
# BAKE_RESOLUTION cells is 4 x 129^3 float32 = 34 MB (on the model's device: GPU memory with a GPU), so 1 GiB holds
# 30 visitors' scenes (with 4, 20 visitors re-baked on every render and waited ~30 s at p50: docs/load.md);
# $SEM2NERF_BAKE_CACHE_MB sets another budget.
BAKE_CACHE_ENV = "SEM2NERF_BAKE_CACHE_MB"
BAKE_CACHE_BYTES = 1024 * 2**20
WHITE_LEVEL = 250  # editor pixels with every channel at least this bright are blank canvas (not in the palette)
VIEW_SIZE = 256  # the view's default side: on 2 CPU cores a baked view takes ~0.11 s at 256 (the first, with the
# bake, ~1.0 s); the direct renderer ~1.5 s
VIDEO_SIZE = 256  # the turntable's default side; up to VIDEO_MAX_SIZE from the baked grid
VIDEO_MAX_SIZE = GPU_MAX_SIZE  # a baked frame at 512 takes ~0.4 s on 2 CPU cores; direct frames keep to max_size
EDIT_VIEW_SIZE = 320  # side of the label map "Edit at this view" puts on the canvas (CelebAMask-HQ: the encoder reads
# its central 256 px, the view at the model's field of view)
RENDER_BOX, SMALL_BOX = 400, 180  # on-screen heights of the render and of the depth / overlay images (CSS pixels)

# The notice above the result: which line shows is the page's view state (APP_JS), set in the browser without a
# request: "mask" after drawing on the canvas, "value" while a number is typed or a slider dragged, none before the
# first render (the empty render box says "press Render", APP_CSS) and "fresh" once a render is in (nothing shown).
VIEW_NOTICE = (
    '<div class="view-note stale mask">The mask changed: the view is out of date. Press <b>Render</b> to update it.</div>'
    '<div class="view-note stale value">The view is out of date: let go of the slider, or press Enter or leave the '
    'number box, to render it.</div>'
)
PLACEHOLDER = "Press Render to see the mask in 3D"  # the render box before the first render
ERASER_NOTE = ("The eraser removes your own strokes only. To remove parts of a loaded mask (an example or an upload), "
               "paint over them with **background**.")

# Layout, the render shown at its box's size (a 128 px render is scaled up, smoothly), the out-of-date notice, and
# the results column kept in view on a wide screen (on a phone the columns stack and nothing sticks).
APP_CSS = f"""
#intro p {{ margin: 0.2em 0; }}
#class-picker label {{ padding: 3px 8px !important; }}
#class-picker .wrap {{ gap: 6px !important; }}
#style-regions label {{ padding: 2px 6px !important; font-size: var(--text-sm) !important; }}
#style-regions .wrap {{ gap: 4px !important; }}
#example-gallery .grid-wrap {{ min-height: 0 !important; height: auto !important; }}
#render-output img {{ width: 100%; height: {RENDER_BOX - 44}px; object-fit: contain; image-rendering: auto; }}
#depth-output img, #overlay-output img {{ width: 100%; height: {SMALL_BOX - 44}px; object-fit: contain; }}
#view-status .view-note {{ display: none; padding: 4px 10px; border-radius: 6px; }}
#view-status[data-state="mask"] .mask, #view-status[data-state="value"] .value {{ display: block; }}
#view-status .view-note.stale {{ background: #fff3c4; color: #5c4400; border: 1px solid #e0b000; font-weight: 600; }}
body:has(#view-status[data-state="mask"]) #render-output img,
body:has(#view-status[data-state="value"]) #render-output img {{ opacity: 0.5; filter: grayscale(0.6); }}
#render-output .empty {{ flex-direction: column; }}
#render-output .empty::after {{ content: "{PLACEHOLDER}"; font-size: var(--text-lg);
  color: var(--body-text-color-subdued); margin-top: 8px; }}
@media (min-width: 1000px) {{
  #results-column {{ position: sticky; top: 8px; align-self: flex-start; }}
}}
@media (max-width: 640px) {{
  #class-picker label {{ padding: 1px 6px !important; font-size: var(--text-sm) !important; }}
  #class-picker .wrap {{ gap: 4px !important; }}
}}
"""

# The page's script. (1) Enter in a slider's number box or a seed box leaves the box: Gradio's slider renders when
# its box loses focus (not on Enter), and the seed boxes render on blur, so Enter and blur both render, once.
# (2) The view state of the notice (VIEW_NOTICE): drawing on the canvas (a stroke, undo, redo) marks the view out of
# date (so do the trash icon, an image put into the editor and Clear canvas), typing a number or dragging a slider of
# the view or style too; a finished render marks it fresh. Gradio's editor sends "input" (and "clear" or "upload")
# events when a mask is loaded into it by the server, so the visitor's own actions are watched here instead.
APP_JS = """() => {
  const setState = (state) => {
    const notice = document.querySelector('#view-status');
    if (notice) notice.dataset.state = state;
  };
  window.sem2nerfViewState = setState;
  document.addEventListener('keydown', (event) => {
    const box = event.target;
    if (event.key !== 'Enter' || !(box instanceof HTMLInputElement) || box.type !== 'number') return;
    if (box.matches('input[aria-label^="number input for"]') || box.closest('.blur-on-enter')) box.blur();
  }, true);
  document.addEventListener('pointerdown', (event) => {
    const t = event.target;
    if (!(t instanceof Element)) return;
    const edits = ['Undo', 'Redo', 'Clear canvas'].map((name) => `#mask-editor button[aria-label="${name}"]`);
    if (t.closest(['#mask-editor canvas', ...edits].join(', '))) setState('mask');
  }, true);
  document.addEventListener('change', (event) => {  // an image uploaded or pasted into the editor
    if (event.target instanceof Element && event.target.closest('#mask-editor input[type="file"]')) setState('mask');
  }, true);
  document.addEventListener('input', (event) => {
    const t = event.target;
    if (t instanceof HTMLInputElement && (t.type === 'number' || t.type === 'range') && t.closest('#controls-column'))
      setState('value');
  }, true);
}"""



# --- errors ------------------------------------------------------------------------------------


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the package's plain-words errors into ``gr.Error`` (shown to the visitor; the app keeps serving)."""
    try:
        yield
    except gr.Error:
        raise
    except (Sem2NeRFError, ValueError) as err:
        text = str(err)
        raise gr.Error(text[:1].upper() + text[1:]) from None


# --- masks -------------------------------------------------------------------------------------


# CelebAMask-HQ's sided classes are the person's sides: l_eye is the person's left eye, on the image's right.
# Plain names for the dataset's class codes (CelebAMask-HQ); sided classes also say which side of the image they are
# on (l_* is the person's left: the image's right in a frontal view). Codes not listed are shown as they are.
PLAIN_NAMES = {"eye_g": "glasses", "neck_l": "necklace", "ear_r": "earring", "u_lip": "upper lip", "l_lip": "lower lip",
               "cloth": "clothes", "l_eye": "left eye", "r_eye": "right eye", "l_brow": "left brow",
               "r_brow": "right brow", "l_ear": "left ear", "r_ear": "right ear"}
SIDE_HINTS = {"l_eye": "image right", "r_eye": "image left", "l_brow": "image right", "r_brow": "image left",
              "l_ear": "image right", "r_ear": "image left"}


def class_label(name: str) -> str:
    """The class picker's label of a class: a plain name, and for a sided class which side of the image it is on."""
    plain = PLAIN_NAMES.get(name, name.replace("_", " "))
    return f"{plain} ({SIDE_HINTS[name]})" if name in SIDE_HINTS else plain


def drawing_scheme(domain: Domain):
    """The label scheme people draw with: the domain's raw scheme (e.g. CelebAMask-HQ's 19 classes)."""
    return get_label_scheme(domain.raw_scheme)


def hex_colour(rgb: Sequence[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def class_brush(domain: Domain, class_name: str, size: int) -> gr.Brush:
    """A one-colour brush painting ``class_name`` (the robust way to pick a class, see gradio #9105)."""
    scheme = drawing_scheme(domain)
    colour = hex_colour(scheme.palette[scheme.class_id(class_name)])
    return gr.Brush(colors=[colour], default_color=colour, color_mode="fixed", default_size=int(size))


def palette_css(domain: Domain, elem_id: str = "class-picker") -> str:
    """CSS that paints each class-picker option with its class colour (the legend is the picker)."""
    rules = []
    for k, rgb in enumerate(drawing_scheme(domain).palette, start=1):
        text = "#000" if sum(rgb) > 380 else "#fff"
        rules.append(
            f"#{elem_id} label:nth-of-type({k}) {{ background: {hex_colour(rgb)} !important; color: {text} !important; }}"
        )
    # the class being drawn: a thick ring and bold text (Gradio marks the checked option's label "selected")
    rules.append(f"#{elem_id} label.selected {{ outline: 3px solid #111 !important; outline-offset: 2px; "
                 "font-weight: 700 !important; box-shadow: 0 0 0 5px #fff !important; }")
    return "\n".join(rules)


def blank_canvas(domain: Domain, side: int = CANVAS_SIDE) -> np.ndarray:
    """An all-background canvas ``(side, side, 3)`` in the background class colour."""
    scheme = drawing_scheme(domain)
    return np.broadcast_to(scheme.palette_array()[scheme.background], (side, side, 3)).copy()


def editor_value(mask: LabelMask | np.ndarray) -> dict:
    """An ``ImageEditor`` value showing a mask (a :class:`LabelMask` or an RGB array) as the background."""
    rgb = mask.colorize() if isinstance(mask, LabelMask) else mask
    return {"background": rgb, "layers": [], "composite": None}


def mask_from_editor(value: dict | None, domain: Domain) -> LabelMask:
    """The label mask of the editor's composite: transparent pixels are background, colours snapped to the palette.

    An editor nobody has drawn on yet (the prefilled example, a loaded example or upload) sends no composite:
    its background is the mask."""
    image = None if value is None else value.get("composite")
    if image is None and value is not None:
        image = value.get("background")
    if image is None:
        raise MaskError("there is no mask: draw one on the canvas, upload a mask file or pick an example")
    image = np.asarray(image)
    if max(image.shape[:2]) > MAX_UPLOAD_SIDE:
        raise MaskError(_too_large(image.shape[1], image.shape[0]))
    scheme = drawing_scheme(domain)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        rgb = image[..., :3].copy()
        blank = np.zeros(rgb.shape[:2], bool)
        if image.shape[2] == 4:
            blank |= image[..., 3] < 128
        if _white_is_blank(scheme):  # the editor's trash icon leaves a white canvas
            blank |= (rgb >= WHITE_LEVEL).all(-1)
        rgb[blank] = scheme.palette[scheme.background]
        image = rgb
    return load_mask(image, scheme)


def _white_is_blank(scheme) -> bool:
    """Whether white can be read as blank canvas: no class colour of the scheme is near white (or it is the
    background's own colour, as in CatMask)."""
    palette = scheme.palette_array().astype(float)
    near = np.sqrt(((palette - 255.0) ** 2).sum(1)) <= SNAP_TRUSTED_DISTANCE + np.sqrt(3) * (255 - WHITE_LEVEL)
    return not near.any() or np.flatnonzero(near).tolist() == [scheme.background]


def _too_large(width: int, height: int) -> str:
    return (
        f"the mask is {width} x {height} pixels; the app takes masks up to {MAX_UPLOAD_SIDE} pixels per side "
        f"(the encoder sees 224 x 224). Scale it down with nearest-neighbour resampling and upload it again."
    )


def mask_from_file(path: str | os.PathLike, id_scheme: str, domain: Domain) -> LabelMask:
    """Read an uploaded mask file in the domain's drawing scheme.

    ``id_scheme`` names the scheme of the file's label ids (the domain's raw or merged scheme);
    coloured masks are recognised by themselves. Merged ids are shown with the first raw class
    of each merged class (e.g. merged "eye" as "l_eye", :meth:`LabelScheme.unmerge`), which encodes identically.
    """
    path = Path(path)
    # Refused from the header before decoding, then decoded once (messages name only the file, never the server's
    # temporary folder).
    mask = load_mask(open_image(path, f"mask {path.name}", max_side=MAX_UPLOAD_SIDE), id_scheme)
    raw = drawing_scheme(domain)
    if mask.scheme.name == raw.name:
        return mask
    if raw.merge_into != mask.scheme.name:
        raise MaskError(f"scheme {id_scheme!r} is not used by this model; pick {raw.name!r} or {raw.merge_into!r}")
    return LabelMask(raw.unmerge(mask.labels), raw)


@dataclass(frozen=True)
class Example:
    """One example mask from ``examples/index.json`` with its annotated pose."""

    name: str
    path: Path
    scheme: str
    yaw: float
    pitch: float
    description: str


def load_examples(domain: Domain, folder: Path = EXAMPLES_DIR) -> list[Example]:
    """The examples whose label scheme this domain reads (none when the folder or its index is missing)."""
    index = folder / "index.json"
    if not index.is_file():
        return []
    raw = drawing_scheme(domain)
    usable = {raw.name, raw.merge_into}
    return [
        Example(e["name"], folder / e["mask"], e["scheme"], float(e.get("yaw", 0.0)), float(e.get("pitch", 0.0)),
                e.get("description", e["name"]))
        for e in json.loads(index.read_text())
        if e["scheme"] in usable and (folder / e["mask"]).is_file()
    ]


# --- style and views ---------------------------------------------------------------------------


def style_layers(preset: str, custom: Sequence[int] | None, num_film_layers: int) -> list[int]:
    """FiLM layers that take the style: a preset of :func:`sem2nerf.model.preset_style_layers` (for the official
    decoder "colour only" is ``DEFAULT_STYLE_LAYERS`` (8) and "texture" ``TEXTURE_STYLE_LAYERS`` (6-8)) or custom."""
    if preset == "custom":
        layers = sorted({int(i) for i in custom or []})
        if not layers:
            raise ValueError("custom style: tick at least one FiLM layer")
        return layers
    if preset not in STYLE_PRESETS:
        raise ValueError(f"unknown style preset {preset!r}; pick one of {', '.join(STYLE_PRESETS)}")
    return preset_style_layers(preset, num_film_layers)


def styled_scene(
    model: Sem2NeRF, scene: Scene, seed: float | None, preset: str, custom: Sequence[int] | None,
    seed2: float | None, alpha: float, regions: Sequence[str] | None = None,
) -> Scene:
    """The scene with a random style mixed in (seed < 0 or empty: the mask's own style); ``regions`` (class names):
    only those parts of the head take it, in 3D (:meth:`Sem2NeRF.mix_style`), none: the whole head."""
    seed = None if seed is None else check_finite(seed, "the style seed")
    seed2 = None if seed2 is None else check_finite(seed2, "the second style seed")
    alpha = ALPHA.check(alpha, "the blend towards the second style")
    if seed is None or seed < 0:
        return scene
    layers = style_layers(preset, custom, model.decoder.num_film_layers)
    second = None if seed2 is None or seed2 < 0 else SEED.check(seed2, "the second style seed")
    regions = list(regions or []) or None
    if regions is not None:
        model.label_field(scene)  # made once, on the visitor's scene: every style of it shares its labels
    return model.mix_style(scene, SEED.check(seed, "the style seed"), layers, seed2=second,
                           alpha=alpha if second is not None else 0.0, regions=regions)


def max_size(model: Sem2NeRF | None) -> int:
    """Largest render side offered: 512 with a GPU, 256 on CPU (:mod:`sem2nerf.limits`)."""
    return GPU_MAX_SIZE if model is not None and model.device.type != "cpu" else CPU_MAX_SIZE


def video_max_size(model: Sem2NeRF | None, renderer: str = RENDERERS[0]) -> int:
    """Largest turntable side: 512 from a baked grid (or on a GPU), the view's maximum for direct frames on CPU."""
    return VIDEO_MAX_SIZE if renderer == RENDERERS[0] else max_size(model)


def max_mesh_resolution(model: Sem2NeRF | None) -> int:
    """Largest mesh grid offered: 256 with a GPU, 160 on CPU (:mod:`sem2nerf.limits`)."""
    return GPU_MAX_MESH_RESOLUTION if max_size(model) > CPU_MAX_SIZE else CPU_MAX_MESH_RESOLUTION


def canvas_fov(model: Sem2NeRF) -> float:
    """The field of view of a canvas as the encoder reads it (:meth:`Sem2NeRF.canvas_fov`: the model's, widened by
    the domain's crop, 15.0 degrees for the model's 12)."""
    return model.canvas_fov()


def view_mask(model: Sem2NeRF, scene: Scene | BakedScene, yaw: float, pitch: float, size: int = EDIT_VIEW_SIZE) -> LabelMask:
    """The scene's labels seen from ``(yaw, pitch)`` (:meth:`Sem2NeRF.render_labels`, from its baked grid when given
    one) as a mask to edit: framed as the encoder reads masks, so that encoding it at that pose sees this view."""
    return model.label_mask(scene, yaw, pitch, size=size)


def pose_note(pose: tuple[float, float], edited: bool = False) -> str:
    """The line under the canvas saying from which pose Render reads it (nothing for a frontal mask not edited)."""
    yaw, pitch = (float(v) for v in pose)
    if edited:
        return (f"The canvas now shows the view at yaw {yaw:g}°, pitch {pitch:g}° (the head's parts, as the model "
                "sees them there). Edit it, then press **Render**: it is encoded at that pose.")
    if yaw == 0 and pitch == 0:
        return ""
    return f"The canvas is read as seen from yaw {yaw:g}°, pitch {pitch:g}°: **Render** encodes it at that pose."


def view_numbers(model: Sem2NeRF, yaw, pitch, fov, size, samples) -> tuple[float, float, float, int, int]:
    """The view controls checked against the sliders' ranges (a raw API call can send anything, NaN included)."""
    return (YAW.check(yaw, "yaw"), PITCH.check(pitch, "pitch"), FOV.check(fov, "the field of view"),
            SIZE.check(size, "the resolution", max_size(model)), SAMPLES.check(samples, "the quality (samples per ray)"))


def layout_warning(mask: LabelMask, domain: Domain) -> str:
    """The warning shown when a mask's class layout is implausible for the model (empty when it is plausible)."""
    return check_layout(mask, domain).message(
        pick_scheme="upload the file again with '{scheme}' picked under 'Label ids in the file'",
        pick_model="start the app with {model} (python app.py --model FOLDER_OR_REPO_ID)",
        schemes="'Label ids in the file' under 'Upload a mask file'",
    )


def check_editor_images(editor: gr.ImageEditor) -> gr.ImageEditor:
    """Make ``editor`` check each image it receives from its header before Gradio decodes it; returns ``editor``.

    Gradio's ImageEditor decodes every image it receives (background, layers, composite) with PIL in its
    ``preprocess``, before the handler runs, and only PIL's own bomb guard (179 M pixels) stops a small file
    that declares a giant image. Its per-image step, ``convert_and_format_image``, is wrapped on this instance
    (a subclass would make Gradio write a ``.pyi`` stub next to this file): more than ``MAX_UPLOAD_SIDE`` pixels
    per side, an unreadable or a corrupt file get the same plain message as a mask file upload.
    """
    convert = editor.convert_and_format_image

    def checked(file, flatten_on_white: bool = False):
        if file is not None:
            is_bytes = isinstance(file, (bytes, bytearray, memoryview))
            orig = None if is_bytes else getattr(file, "orig_name", None)
            name = f"mask {Path(orig).name}" if orig else "the canvas image"
            with user_errors():
                open_image(file if is_bytes else file.path, name, max_side=MAX_UPLOAD_SIDE).close()
        return convert(file, flatten_on_white)

    editor.convert_and_format_image = checked
    return editor


def refuse_non_finite(component: gr.components.Component, name: str) -> gr.components.Component:
    """Make a number input refuse NaN and infinities with a plain message before Gradio's own ``preprocess``.

    A raw API call can send them (JSON as Python writes it takes ``NaN``); a slider passes them on to the handler
    (which checks them), but ``gr.Number(precision=0)`` fails inside Gradio with no message for the visitor.
    """
    preprocess = component.preprocess

    def checked(payload):
        if isinstance(payload, float) and not math.isfinite(payload):
            raise gr.Error(f"{name} must be a finite number, got {payload}")
        return preprocess(payload)

    component.preprocess = checked
    return component


def accept_layer_strings(group: gr.CheckboxGroup) -> gr.CheckboxGroup:
    """Make the FiLM-layer checkboxes take layer numbers as ints or as strings (``3`` or ``"3"``); returns ``group``.

    Gradio documents a CheckboxGroup's values as strings in the API page (and gradio_client's docs) whatever their
    type, but its ``preprocess`` only accepts the choices' own values (ints here). Whole-number strings and floats
    are turned into ints before Gradio's check, and the API page lists both forms.
    """
    preprocess = group.preprocess

    def as_int(value):
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    def checked(payload):
        return preprocess(None if payload is None else [as_int(v) for v in payload])

    layers = [value for _, value in group.choices]
    group.preprocess = checked
    group.api_info = lambda: {
        "items": {"anyOf": [{"type": "integer", "enum": layers}, {"type": "string", "enum": [str(i) for i in layers]}]},
        "title": "FiLM layers (ints or strings)",
        "type": "array",
    }
    return group


def render_poses(
    model: Sem2NeRF, scene: Scene, poses: Sequence[Pose], size: int, samples: int,
    progress: Callable[[float], None] | None = None, baked: BakedScene | None = None,
) -> list[tuple[Image.Image, np.ndarray]]:
    """The app's one rendering call: images and depth maps of ``poses`` (seeded, reproducible), from the network or,
    given ``baked``, from the scene's baked grid (same cameras, samples and seeds)."""
    out = []
    for k, pose in enumerate(poses):
        if baked is not None:
            out.append(baked.render(pose.yaw, pose.pitch, pose.fov, int(size), int(samples), return_depth=True))
        else:
            out.append(model.render(scene, pose.yaw, pose.pitch, pose.fov, int(size), int(samples), return_depth=True))
        if progress is not None:
            progress((k + 1) / len(poses))
    return out


def depth_image(depth: np.ndarray, near: float, far: float) -> Image.Image:
    """A depth map as a colour image (inferno: near is bright; :func:`sem2nerf.views.depth_picture`)."""
    return depth_picture(depth, near, far)


def mask_overlay(mask: LabelMask, render: Image.Image, domain: Domain, opacity: float = 0.45) -> Image.Image:
    """The input mask, framed as the encoder saw it, blended over a render made at the mask's pose."""
    return Image.blend(render.convert("RGB"), framed_mask(mask, domain, render.size), opacity)


def framed_mask(mask: LabelMask, domain: Domain, size: tuple[int, int]) -> Image.Image:
    """The mask's colours framed as the encoder sees them (the domain's crop), at ``size``."""
    return frame_to_domain(Image.fromarray(mask.colorize()), domain, size)


def tile(images: Sequence[Image.Image]) -> Image.Image:
    """Images side by side (all resized to the first one's height)."""
    h = images[0].height
    images = [im if im.height == h else im.resize((round(im.width * h / im.height), h), Image.NEAREST) for im in images]
    strip = Image.new("RGB", (sum(im.width for im in images), h))
    x = 0
    for im in images:
        strip.paste(im.convert("RGB"), (x, 0))
        x += im.width
    return strip


def trajectory(name: str, frames: int, fov: float, pitch: float = 0.0) -> list[Pose]:
    """Turntable poses by the name shown in the app (:data:`TRAJECTORIES`): the official front wobble, a yaw sweep
    (+-35 degrees and back) or a full orbit (:mod:`sem2nerf.trajectories`)."""
    frames = int(frames)
    if frames < 2:
        raise ValueError("a turntable needs at least 2 frames")
    if name == TRAJECTORIES[0]:
        return front_trajectory(frames)
    if name == TRAJECTORIES[1]:
        return sweep_trajectory(frames, pitch=pitch, fov=fov)
    if name == TRAJECTORIES[2]:
        return orbit_trajectory(frames, fov=fov, pitch=pitch)
    raise ValueError(f"unknown trajectory {name!r}; pick one of {', '.join(TRAJECTORIES)}")


def output_folder(root: Path) -> Path:
    """A fresh folder for one request's files under ``root``; removes outputs older than an hour."""
    root.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in root.iterdir():
        try:
            if now - old.stat().st_mtime > OUTPUT_MAX_AGE_S:
                for f in old.iterdir():
                    f.unlink()
                old.rmdir()
        except OSError:
            pass  # another request is cleaning it up
    return Path(tempfile.mkdtemp(dir=root))


# --- the page ----------------------------------------------------------------------------------


class AppPage:
    """The Gradio page around one loaded model (``None``: every action explains how to load one): its handlers (the
    methods below, each reading the model and writing only its outputs), its layout and the wiring between them.

    The model is only read by the handlers (no state shared between visitors); each visitor's scene and mask pose
    live in ``gr.State``. ``workdir`` holds thumbnails and exported files. :func:`build_demo` makes the page.
    """

    def __init__(self, model: Sem2NeRF | None, status: str, workdir: str | os.PathLike | None = None) -> None:
        self.model, self.status = model, status
        self.domain = model.domain if model is not None else get_domain("celebamask_hq")
        self.scheme = drawing_scheme(self.domain)
        self.root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="sem2nerf_app_"))
        self.bakes = BakeCache(bake_cache_bytes(), BAKE_RESOLUTION)
        self.examples = load_examples(self.domain)
        self.by_name = {ex.name: ex for ex in self.examples}
        self.gallery_items = example_thumbnails(self.examples, self.root / "examples")
        first = self.examples[0] if self.examples else None
        shown = mask_from_file(first.path, first.scheme, self.domain) if first else blank_canvas(self.domain)
        self.first_mask = editor_value(shown)  # the canvas on arrival: the first example
        self.n_layers = model.decoder.num_film_layers if model is not None else 9
        source = model if model is not None else self.domain
        self.near, self.far = source.ray_start, source.ray_end
        self.default_fov = model.fov if model is not None else self.domain.fov

    def need_model(self) -> Sem2NeRF:
        if self.model is None:
            raise gr.Error(NO_MODEL)
        return self.model

    def styled(self, scene, seed, preset, custom, seed2, alpha, regions=None) -> tuple[Sem2NeRF, Scene]:
        """The model and the visitor's scene in the chosen style (a plain message when either is missing)."""
        m = self.need_model()
        if scene is None or scene.mask is None:
            raise gr.Error("Nothing to render yet: draw a mask and press Render, upload a mask or pick an example.")
        with user_errors():
            return m, styled_scene(m, scene, seed, preset, custom, seed2, alpha, regions)

    # --- handlers (each reads the model, writes only its outputs) ---------------------------------

    def encoded(self, m, mask, pose) -> Scene:
        """The mask's scene; a visible warning when its class layout is implausible for the model (rendered anyway)."""
        scene = m.encode(mask, pose=pose)
        warning = layout_warning(scene.mask, self.domain)
        if warning:
            gr.Warning(warning, duration=None)
        return scene

    def encode(self, editor, pose):
        """Encode the canvas (once per edit): the scene for every later view."""
        m = self.need_model()
        with user_errors():
            yaw, pitch = (check_finite(v, "the mask's pose") for v in pose)
            return self.encoded(m, mask_from_editor(editor, self.domain), (yaw, pitch))

    def grid(self, m, s, renderer, fov, progress=None) -> BakedScene | None:
        """The scene's baked grid when the fast renderer is chosen (baked on first use), else ``None``."""
        if renderer != RENDERERS[0]:
            return None
        return self.bakes.get(m, s, float(fov), progress)

    def render(self, scene, yaw, pitch, fov, size, samples, seed, preset, custom, seed2, alpha, renderer=RENDERERS[0],
               regions=None):
        """Render the view: a quick low-resolution preview first unless a baked grid is ready, then the full size."""
        m, s = self.styled(scene, seed, preset, custom, seed2, alpha, regions)
        with user_errors():
            yaw, pitch, fov, size, samples = view_numbers(m, yaw, pitch, fov, size, samples)
            pose = Pose(yaw, pitch, fov)
            ready = renderer == RENDERERS[0] and self.bakes.peek(m, s, float(fov)) is not None
            if size > PREVIEW_SIZE and not ready:
                image, depth = render_poses(m, s, [pose], PREVIEW_SIZE, max(4, int(samples) // 2))[0]
                yield image.resize((size, size), Image.BILINEAR), depth_image(depth, self.near, self.far).resize((size, size), Image.BILINEAR)
            image, depth = render_poses(m, s, [pose], size, samples, baked=self.grid(m, s, renderer, fov))[0]
            yield image, depth_image(depth, self.near, self.far)

    def overlay(self, scene, fov, size, samples, seed, preset, custom, seed2, alpha, renderer=RENDERERS[0], regions=None):
        """The input mask over a render at the mask's own pose."""
        m, s = self.styled(scene, seed, preset, custom, seed2, alpha, regions)
        with user_errors():
            _, _, fov, size, samples = view_numbers(m, 0, 0, fov, size, samples)
            yaw, pitch = scene.pose or (0.0, 0.0)
            image, _ = render_poses(m, s, [Pose(yaw, pitch, fov)], size, samples, baked=self.grid(m, s, renderer, fov))[0]
            return mask_overlay(scene.mask, image, self.domain)

    def views(self, scene, fov, size, samples, seed, preset, custom, seed2, alpha, renderer=RENDERERS[0], regions=None,
              progress=gr.Progress()):  # noqa: B008 - gradio injects the tracker
        """The official five-view strip, the mask first."""
        m, s = self.styled(scene, seed, preset, custom, seed2, alpha, regions)
        with user_errors():
            _, _, fov, size, samples = view_numbers(m, 0, 0, fov, size, samples)
            poses = [p._replace(fov=fov) for p in preview_poses(self.domain)]
            baked = self.grid(m, s, renderer, fov, lambda f: progress(0.5 * f, desc="baking the scene"))
            shots = render_poses(m, s, poses, size, samples, lambda f: progress(0.5 + 0.5 * f, desc="rendering views"), baked)
            return tile([framed_mask(scene.mask, self.domain, (size, size)), *(im for im, _ in shots)])

    def turntable(self, scene, path_name, frames, fps, fov, pitch, size, samples, seed, preset, custom, seed2, alpha,
                  renderer=RENDERERS[0], regions=None, progress=gr.Progress()):  # noqa: B008 - gradio injects the tracker
        """A turntable video (H.264 MP4)."""
        m, s = self.styled(scene, seed, preset, custom, seed2, alpha, regions)
        with user_errors():
            _, pitch, fov, _, samples = view_numbers(m, 0, pitch, fov, SIZE.low, samples)
            top = video_max_size(m, renderer)
            if top < VIDEO_MAX_SIZE and check_finite(size, "the video resolution") > top:
                raise ValueError(f"the direct renderer makes videos up to {top} pixels per side on this machine; pick "
                                 f"the baked grid renderer for up to {VIDEO_MAX_SIZE}, or a lower video resolution")
            size = SIZE.check(size, "the video resolution", top)
            frames, fps = FRAMES.check(frames, "the number of frames"), FPS.check(fps, "frames per second")
            poses = trajectory(path_name, frames, fov, pitch)
            baked = self.grid(m, s, renderer, fov, lambda f: progress(0.3 * f, desc="baking the scene"))
            shots = render_poses(m, s, poses, size, samples,
                                 lambda f: progress(0.3 + 0.7 * f, desc=f"rendering {len(poses)} frames"), baked)
            return str(write_video([im for im, _ in shots], output_folder(self.root / "out") / "turntable.mp4", fps))

    def mesh(self, scene, resolution, threshold, seed, preset, custom, seed2, alpha, renderer=RENDERERS[0], regions=None,
             progress=gr.Progress()):  # noqa: B008 - gradio injects the tracker
        """Marching cubes on the density, vertex colours: GLB for the viewer, GLB and PLY to download."""
        m, s = self.styled(scene, seed, preset, custom, seed2, alpha, regions)
        with user_errors():
            resolution = MESH_RESOLUTION.check(resolution, "the grid resolution", max_mesh_resolution(m))
            threshold = check_finite(threshold, "the density threshold")
            baked = self.grid(m, s, renderer, m.fov, lambda f: progress(0.5 * f, desc="baking the scene"))
            result = extract_mesh(m, s, resolution, threshold, baked=baked,
                                  progress=lambda f: progress(0.5 + 0.5 * f if baked else f, desc="sampling the density"))
            folder = output_folder(self.root / "out")
            glb, ply = save_mesh(result, folder / "sem2nerf_mesh.glb"), save_mesh(result, folder / "sem2nerf_mesh.ply")
            return str(glb), [str(glb), str(ply)]

    def edit_view(self, scene, yaw, pitch, seed, preset, custom, seed2, alpha, renderer=RENDERERS[0], regions=None):
        """The labels of the head at the view's yaw and pitch on the canvas (of the scene in its style, from its baked
        grid with the fast renderer), and that pose as the mask's: the next Render encodes the canvas at it."""
        m, s = self.styled(scene, seed, preset, custom, seed2, alpha, regions)
        with user_errors():
            pose = (YAW.check(yaw, "yaw"), PITCH.check(pitch, "pitch"))
            baked = self.grid(m, s, renderer, canvas_fov(m))
            mask = view_mask(m, s if baked is None else baked, *pose)
            return editor_value(mask), pose, pose_note(pose, edited=True)

    def upload(self, path, id_scheme):
        """A mask file -> the canvas, and its scene (encoded once)."""
        m = self.need_model()
        if path is None:
            raise gr.Error("No file was uploaded.")
        with user_errors():
            mask = mask_from_file(path, id_scheme, self.domain)
            return editor_value(mask), self.encoded(m, mask, (0.0, 0.0)), (0.0, 0.0)

    def reread(self, path, id_scheme):
        """The raw/merged choice changed: read the uploaded file again with it (nothing to do without a file)."""
        if path is None:  # stops the chain (no render) without a message: there is nothing to read again
            raise gr.Error("no mask file to read again", visible=False, print_exception=False)
        return self.upload(path, id_scheme)

    def unpick(self):
        """An upload replaces the example: the gallery's highlight, the example's name and the canvas note are cleared."""
        return gr.Gallery(selected_index=None), None, ""

    def load_example(self, name):
        """An example: its mask on the canvas, its annotated pose on the sliders, its scene."""
        m = self.need_model()
        ex = self.by_name.get(name)
        if ex is None:
            raise gr.Error(f"Unknown example {name!r}; pick one of: {', '.join(self.by_name)}")
        with user_errors():
            mask = mask_from_file(ex.path, ex.scheme, self.domain)
            pose = (ex.yaw, ex.pitch)
            return editor_value(mask), ex.yaw, ex.pitch, self.encoded(m, mask, pose), pose

    def pick_class(self, name, size):
        """The brush of the class (and the eraser) at the brush size."""
        return gr.ImageEditor(brush=class_brush(self.domain, name, size), eraser=gr.Eraser(default_size=int(size)))

    def clear_canvas(self):
        return editor_value(blank_canvas(self.domain)), (0.0, 0.0), ""

    def example_note(self, name):
        """The note of an example (its pose when it is not frontal); none when the example was cleared."""
        ex = self.by_name.get(name)
        return "" if ex is None else pose_note((ex.yaw, ex.pitch))

    def gallery_pick(self, evt: gr.SelectData):
        return self.examples[evt.index].name

    def randomise(self):
        return random.randrange(0, 2**31 - 1)

    def custom_visibility(self, preset):
        return gr.CheckboxGroup(visible=preset == "custom")


    # --- layout: three columns on a laptop screen, all in view at 1400 x 1000 (the class picker above the canvas;
    # Render above the result, which stays in view while the page scrolls; the view and style controls), stacked
    # in that order on a phone (picker, canvas, Render, result, controls). Examples and uploads come last.

    def build(self) -> gr.Blocks:
        """The page: its layout, then its events."""
        with gr.Blocks(title="Sem2NeRF", delete_cache=temp_file_sweep()) as demo:
            gr.Markdown(
                "## Sem2NeRF\nDraw or upload a semantic mask of a face (one colour per face part), press **Render**, "
                f"then turn it in 3D, change its style and export a turntable video or a 3D mesh.  \n{self.status}",
                elem_id="intro",
            )
            self.scene = gr.State(None)
            self.mask_pose = gr.State((0.0, 0.0))
            with gr.Row(equal_height=False):
                self.editor_column()
                self.results_column()
                self.controls_column()
            self.inputs_row()
            self.wire()
        demo.bake_cache = self.bakes  # the grids this app baked (tests count them)
        return demo

    def editor_column(self) -> None:
        """The class picker, the canvas and its tools."""
        first_class = "skin" if "skin" in self.scheme.class_names else self.scheme.class_names[-1]
        with gr.Column(scale=4, min_width=320, elem_id="editor-column"):
            self.picker = gr.Radio(
                [(class_label(name), name) for name in self.scheme.class_names], value=first_class,
                label="Class to draw (the brush colour)", elem_id="class-picker",
            )
            self.editor = check_editor_images(gr.ImageEditor(
                value=self.first_mask, label="Semantic mask",
                type="numpy", image_mode="RGBA", sources=("upload", "clipboard"), transforms=(), layers=False,
                brush=class_brush(self.domain, first_class, 12), eraser=gr.Eraser(default_size=12),
                canvas_size=(CANVAS_SIDE, CANVAS_SIDE), fixed_canvas=True, format="png", elem_id="mask-editor",
                height=440,
            ))
            self.brush_size = gr.Slider(1, 64, value=12, step=1, label="Brush and eraser size (pixels)",
                                        elem_id="brush-size")
            gr.Markdown(ERASER_NOTE, elem_id="eraser-note")
            with gr.Row():
                self.clear_btn = gr.Button("Clear canvas (all background)", elem_id="clear-button", size="sm")
                self.edit_btn = gr.Button("Edit at this view", elem_id="edit-view-button", size="sm")
            self.edit_note = gr.Markdown("", elem_id="edit-note")

    def results_column(self) -> None:
        """Render, the out-of-date notice and the results: the view, the strip, the turntable, the mesh."""
        with gr.Column(scale=4, min_width=320, elem_id="results-column"):
            self.render_btn = gr.Button("Render", variant="primary", elem_id="render-button")
            gr.HTML(VIEW_NOTICE, elem_id="view-status")
            with gr.Tab("View"):
                self.view = gr.Image(label="Render", type="pil", elem_id="render-output", format="png", height=RENDER_BOX)
                with gr.Row():
                    self.depth = gr.Image(label="Depth (near = bright)", type="pil", format="png", height=SMALL_BOX,
                                          elem_id="depth-output", buttons=["download"])
                    self.overlay_img = gr.Image(label="Mask overlay (its pose)", type="pil", format="png",
                                                height=SMALL_BOX, elem_id="overlay-output", buttons=["download"])
            with gr.Tab("Multi-view strip"):
                self.strip_btn = gr.Button("Render the multi-view strip")
                self.strip = gr.Image(label="Mask and five views", type="pil", format="png")
            with gr.Tab("Turntable video"):
                with gr.Row():
                    self.path_name = gr.Dropdown(list(TRAJECTORIES), value=TRAJECTORIES[1], label="Camera path")
                    top = video_max_size(self.model)
                    self.video_size = gr.Slider(SIZE.low, top, value=min(VIDEO_SIZE, top), step=32,
                                                label="Video resolution (pixels per side)", elem_id="video-size")
                with gr.Row():
                    self.frames = gr.Slider(FRAMES.low, FRAMES.high, value=24, step=1, label="Frames")
                    self.fps = gr.Slider(FPS.low, FPS.high, value=12, step=1, label="Frames per second")
                self.video_btn = gr.Button("Make turntable video")
                self.video = gr.Video(label="Turntable (MP4, H.264)", format=None, elem_id="video-output")
            with gr.Tab("3D mesh"):
                with gr.Row():
                    self.mesh_res = gr.Slider(MESH_RESOLUTION.low, max_mesh_resolution(self.model), value=96, step=16,
                                              label="Grid resolution")
                    self.threshold = gr.Number(value=DEFAULT_MESH_THRESHOLD, label="Density threshold of the surface",
                                               elem_id="mesh-threshold")
                self.mesh_btn = gr.Button("Export mesh", elem_id="mesh-button")
                self.model3d = gr.Model3D(label="Mesh (vertex colours)", elem_id="mesh-output", height=RENDER_BOX)
                self.mesh_files = gr.File(label="Download (GLB, PLY)", file_count="multiple", elem_id="mesh-files")

    def controls_column(self) -> None:
        """The view's controls, the renderer and the style."""
        with gr.Column(scale=3, min_width=300, elem_id="controls-column"):
            self.yaw = gr.Slider(YAW.low, YAW.high, value=0, step=1, elem_id="yaw",
                                 label="Yaw (degrees; + turns the face to the image's left)")
            self.pitch = gr.Slider(PITCH.low, PITCH.high, value=0, step=1, label="Pitch (degrees; - looks from above)",
                                   elem_id="pitch")
            self.fov = gr.Slider(FOV.low, FOV.high, value=self.default_fov, step=0.5, label="Field of view (degrees)")
            self.size = gr.Slider(SIZE.low, max_size(self.model), value=min(VIEW_SIZE, max_size(self.model)), step=32,
                                  label="Resolution (pixels per side)", elem_id="size")
            with gr.Accordion("Renderer and quality", open=False, elem_id="render-options"):
                self.samples = gr.Slider(SAMPLES.low, SAMPLES.high, value=12, step=2, label="Quality (samples per ray)",
                                         info="direct: coarse + as many fine; baked: twice as many in one pass",
                                         elem_id="samples")
                self.renderer = gr.Radio(
                    list(RENDERERS), value=RENDERERS[0], elem_id="renderer", label="Renderer",
                    info="baked: the scene sampled once on a 128-cell grid, then read for every view, video and "
                    "mesh (about 20x faster); direct: the network for every sample",
                )
            with gr.Accordion("Style", open=True):
                self.style_controls()

    def style_controls(self) -> None:
        n = self.n_layers
        with gr.Row():
            self.seed = refuse_non_finite(gr.Number(value=-1, precision=0, label="Style seed (-1: the mask's own)",
                                                    elem_id="seed", elem_classes=["blur-on-enter"], min_width=120),
                                          "The style seed")
            self.dice = gr.Button("Randomise style", size="sm", min_width=100)
        self.preset = gr.Radio(list(STYLE_PRESETS), value=STYLE_PRESETS[0], label="Layers that take the style")
        self.custom = accept_layer_strings(gr.CheckboxGroup(
            list(range(n)), value=[n - 1], visible=False, label=f"FiLM layers (0-{n - 2}: shape/density, {n - 1}: colour)"))
        with gr.Row():
            self.seed2 = refuse_non_finite(gr.Number(value=-1, precision=0, label="Second style seed (-1: none)",
                                                     elem_id="seed2", elem_classes=["blur-on-enter"], min_width=120),
                                           "The second style seed")
            self.alpha = gr.Slider(ALPHA.low, ALPHA.high, value=0.5, step=0.05, label="Blend towards the second style",
                                   min_width=120)
        background = self.scheme.class_names[self.scheme.background]
        self.regions = gr.CheckboxGroup(
            [(class_label(n), n) for n in self.scheme.class_names if n != background], value=[],
            label="Only these parts take the style (none ticked: the whole head)", elem_id="style-regions")

    def inputs_row(self) -> None:
        """The examples and the mask file upload."""
        scheme = self.scheme
        with gr.Row():
            with gr.Column(scale=3):
                gr.Markdown("**Examples** (click one: its mask and its annotated pose are loaded)")
                self.gallery = gr.Gallery(self.gallery_items, columns=7, height="auto", allow_preview=False,
                                          show_label=False, elem_id="example-gallery")
            with gr.Column(scale=1):
                self.example = gr.Dropdown(list(self.by_name), value=None, label="Example", allow_custom_value=False)
                with gr.Accordion("Upload a mask file (label ids or colours)", open=False):
                    self.mask_file = gr.File(label="Mask PNG", file_types=["image"], type="filepath", elem_id="mask-file")
                    self.id_scheme = gr.Radio(
                        [(f"raw ids ({scheme.num_classes} classes, {scheme.name})", scheme.name)]
                        + ([(f"merged ids ({get_label_scheme(scheme.merge_into).num_classes} classes, {scheme.merge_into})",
                             scheme.merge_into)] if scheme.merge_into else []),
                        value=scheme.name, elem_id="id-scheme",
                        label="Label ids in the file (coloured masks are recognised by themselves; changing this reads "
                        "the file again)",
                    )

    # --- wiring ---------------------------------------------------------------------------------

    def wire(self) -> None:
        """The events: what encodes, what renders (and marks the view fresh), what exports."""
        style = [self.seed, self.preset, self.custom, self.seed2, self.alpha, self.renderer, self.regions]
        view_inputs = [self.scene, self.yaw, self.pitch, self.fov, self.size, self.samples, *style]
        overlay_inputs = [self.scene, self.fov, self.size, self.samples, *style]
        shown_view = [self.view, self.depth]
        private = {"api_visibility": "private"}
        quick = {"api_visibility": "private", "queue": False}

        def shown(event):
            """A render event: once its view is in, the view is marked fresh (in the browser, no request)."""
            event.success(None, None, None, js=view_state("fresh"), **quick)
            return event

        def with_overlay(event):
            shown(event).success(self.overlay, overlay_inputs, self.overlay_img, **private)

        def after_encode(event):
            with_overlay(event.success(self.render, view_inputs, shown_view, **private))

        # a new scene: Render, an upload (or the raw/merged choice read again), an example
        after_encode(self.render_btn.click(self.encode, [self.editor, self.mask_pose], self.scene, api_name="encode"))
        mask_in = [self.editor, self.scene, self.mask_pose]
        after_encode(self.mask_file.upload(self.upload, [self.mask_file, self.id_scheme], mask_in, api_name="upload_mask"))
        self.mask_file.upload(self.unpick, None, [self.gallery, self.example, self.edit_note], **quick)
        after_encode(self.id_scheme.input(self.reread, [self.mask_file, self.id_scheme], mask_in, **private))
        example_outputs = [self.editor, self.yaw, self.pitch, self.scene, self.mask_pose]
        after_encode(self.example.input(self.load_example, self.example, example_outputs, api_name="load_example"))
        after_encode(self.gallery.select(self.gallery_pick, None, self.example, **private).success(
            self.load_example, self.example, example_outputs, **private))
        # the view: sliders render on release (the end of a drag, a click on the track, the number box's blur and
        # its Enter, see APP_JS); the style re-renders the view and the overlay
        shown(self.renderer.input(self.render, view_inputs, shown_view, **private))
        for slider in (self.yaw, self.pitch, self.fov, self.size, self.samples):
            public = slider is self.yaw
            shown(slider.release(self.render, view_inputs, shown_view, api_name="view" if public else None,
                                 api_visibility="public" if public else "private", trigger_mode="always_last"))
        for event in (
            # the seed boxes render on blur, and on Enter (APP_JS leaves the box: one render, not two)
            self.seed.blur(self.render, view_inputs, shown_view, trigger_mode="always_last", **private),
            self.dice.click(self.randomise, None, self.seed, **private).success(self.render, view_inputs, shown_view, **private),
            self.preset.input(self.render, view_inputs, shown_view, **private),
            self.custom.input(self.render, view_inputs, shown_view, **private),
            self.seed2.blur(self.render, view_inputs, shown_view, trigger_mode="always_last", **private),
            self.alpha.release(self.render, view_inputs, shown_view, **private),
            self.regions.input(self.render, view_inputs, shown_view, **private),
        ):
            with_overlay(event)
        self.preset.change(self.custom_visibility, self.preset, self.custom, **private)
        # the canvas: brushes, clearing, the view's labels; the note under it follows what was put on it last
        self.picker.input(self.pick_class, [self.picker, self.brush_size], self.editor, **quick)
        self.brush_size.release(self.pick_class, [self.picker, self.brush_size], self.editor, **quick)
        self.clear_btn.click(None, None, None, js=view_state("mask"), **quick)
        self.clear_btn.click(self.clear_canvas, None, [self.editor, self.mask_pose, self.edit_note], **quick)
        self.edit_btn.click(self.edit_view, [self.scene, self.yaw, self.pitch, *style],
                            [self.editor, self.mask_pose, self.edit_note], api_name="edit_view")
        self.example.change(self.example_note, self.example, self.edit_note, **quick)
        self.id_scheme.input(lambda: "", None, self.edit_note, **quick)
        # exports, one at a time
        heavy = {"concurrency_id": "heavy", "concurrency_limit": 1}
        self.strip_btn.click(self.views, [self.scene, self.fov, self.size, self.samples, *style], self.strip,
                             api_name="views", **heavy)
        self.video_btn.click(self.turntable, [self.scene, self.path_name, self.frames, self.fps, self.fov, self.pitch,
                                              self.video_size, self.samples, *style], self.video, api_name="turntable", **heavy)
        self.mesh_btn.click(self.mesh, [self.scene, self.mesh_res, self.threshold, *style], [self.model3d, self.mesh_files],
                            api_name="mesh", **heavy)


def example_thumbnails(examples: Sequence[Example], folder: Path) -> list[tuple[str, str]]:
    """The gallery's items: a 128 px thumbnail of each example mask (made once into ``folder``) and its name."""
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for ex in examples:
        thumb = folder / f"{ex.name}.png"
        if not thumb.exists():
            colours = load_mask(ex.path, ex.scheme).to_scheme(ex.scheme).colorize()
            Image.fromarray(colours).resize((128, 128), Image.NEAREST).save(thumb)
        items.append((str(thumb), ex.name))
    return items


def build_demo(model: Sem2NeRF | None, status: str, workdir: str | os.PathLike | None = None) -> gr.Blocks:
    """The Gradio app around one loaded model (``None``: every action explains how to load one); see :class:`AppPage`."""
    return AppPage(model, status, workdir).build()


def view_state(state: str) -> str:
    """A browser-side event step setting the notice's view state (see APP_JS)."""
    return f"() => {{ window.sem2nerfViewState && window.sem2nerfViewState({json.dumps(state)}); }}"


def bake_cache_bytes() -> int:
    """The bake cache's budget: ``$SEM2NERF_BAKE_CACHE_MB`` MiB, else ``BAKE_CACHE_BYTES`` (1 GiB, 30 grids)."""
    raw = os.environ.get(BAKE_CACHE_ENV, "")
    try:
        mb = float(raw) if raw else BAKE_CACHE_BYTES / 2**20
    except ValueError:
        raise SystemExit(f"${BAKE_CACHE_ENV} must be a number of MiB, got {raw!r}") from None
    if not 0 <= mb < 2**30:  # NaN fails every comparison
        raise SystemExit(f"${BAKE_CACHE_ENV} must be between 0 (no cache) and 2^30 MiB, got {raw}")
    return int(mb * 2**20)


def temp_file_sweep() -> tuple[int, int]:
    """Gradio's ``delete_cache`` (every ``frequency`` seconds, delete its cached files older than ``age``): the
    renders, depth maps and uploads it saves for the page (~70 KB a render), kept as long as the app's own exports
    (``OUTPUT_MAX_AGE_S``, or ``$SEM2NERF_TEMP_MAX_AGE`` seconds), looked at every tenth of that (at most 10 min)."""
    raw = os.environ.get(TEMP_AGE_ENV, "")
    try:
        age = int(raw) if raw else OUTPUT_MAX_AGE_S
    except ValueError:
        raise SystemExit(f"${TEMP_AGE_ENV} must be a whole number of seconds, got {raw!r}") from None
    if age < 1:
        raise SystemExit(f"${TEMP_AGE_ENV} must be at least 1 second, got {age}")
    return max(1, min(600, age // 10)), age


def gradio_cache_files() -> list[Path]:
    """The files in Gradio's cache folder (one per content-hash folder); folders deleted while it looks (by Gradio or
    a sweep) are passed over."""
    files = []
    try:
        folders = list(os.scandir(gr.utils.get_upload_folder()))
    except OSError:
        return files
    for folder in folders:
        try:
            files += [Path(entry.path) for entry in os.scandir(folder.path) if entry.is_file()]
        except OSError:  # not a folder, or gone meanwhile
            pass
    return files


def sweep_gradio_cache(demo: gr.Blocks, age: float, now: float | None = None) -> int:
    """Delete the files in Gradio's cache folder older than ``age`` seconds, except the page's own (examples,
    thumbnails): Gradio's ``delete_cache`` only deletes the files it tracks, and it does not track the renders it
    saves for an event's outputs (~70 KB each). The folder is Gradio's for every app on the machine
    (``$GRADIO_TEMP_DIR``): other apps' files older than ``age`` go too. Returns how many files went."""
    keep = {os.path.realpath(f) for block in demo.blocks.values() for f in getattr(block, "keep_in_cache", set())}
    now = time.time() if now is None else now
    removed = 0
    for path in gradio_cache_files():
        try:
            if os.path.realpath(path) in keep or now - path.stat().st_mtime <= age:
                continue
            path.unlink()
            removed += 1
            path.parent.rmdir()  # Gradio keeps one file per content-hash folder
        except OSError:  # gone meanwhile, or the folder holds another file
            pass
    return removed


def _sweep_while_running(demo: gr.Blocks) -> None:
    """:func:`sweep_gradio_cache` every :func:`temp_file_sweep` frequency while the page is served."""
    frequency, age = temp_file_sweep()
    deadline = time.monotonic() + 120
    while not demo.is_running and time.monotonic() < deadline:  # launch() runs right after this thread starts
        time.sleep(0.2)
    while demo.is_running:
        time.sleep(frequency)
        sweep_gradio_cache(demo, age)


def serve(demo: gr.Blocks, model: Sem2NeRF | None, **launch_kwargs):
    """Queue (two renders at a time; videos and meshes one at a time) and launch with the class colours' CSS, the
    layout's CSS and the Enter-leaves-the-box script."""
    domain = model.domain if model is not None else get_domain("celebamask_hq")
    launch_kwargs.setdefault("max_file_size", "25mb")
    # Gradio keeps every session (its State values and a copy of the page's config, ~0.8 MB here) until 10,000 are
    # held; keep the 100 most recently active (docs/load.md)
    launch_kwargs.setdefault("state_session_capacity", 100)
    try:  # glibc: two malloc arenas (else up to 8 per core, one per busy worker thread, each keeping what it freed)
        ctypes.CDLL(None).mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass
    threading.Thread(target=_sweep_while_running, args=(demo,), daemon=True, name="gradio-cache-sweep").start()
    return demo.queue(default_concurrency_limit=2, max_size=32).launch(css=palette_css(domain) + APP_CSS, js=APP_JS,
                                                                      **launch_kwargs)


def load_model(name: str | None, device: str = "auto") -> tuple[Sem2NeRF | None, str]:
    """The model named on the command line (or ``None``) and the status line shown on the page.

    ``name`` ``None`` or empty: no model (the page explains how to load one); the command line passes
    :data:`sem2nerf.DEFAULT_MODEL` when neither ``--model`` nor ``SEM2NERF_MODEL`` is given.
    """
    if not name:
        return None, NO_MODEL
    try:
        model = Sem2NeRF.from_pretrained(name)
    except ModelLoadError as err:
        text = str(err).replace(str(Path(name).expanduser()), name)  # the name as given, not the expanded path
        return None, f"**Could not load the model `{name}`:** {text}"
    except Exception:  # noqa: BLE001 - the page says so instead of the app not starting; the log has the traceback
        import traceback

        traceback.print_exc()
        return None, (f"**Could not load the model `{name}`:** it failed in an unexpected way (the server's log has "
                      "the details). Check that the folder holds config.json + model.safetensors written by save_pretrained.")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    label = f"`{name}` (the bundled default, trained on SynthFaces)" if name == DEFAULT_MODEL else f"`{name}`"
    return model.to(device), f"Model: {label} ({device})"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Sem2NeRF app: draw a semantic mask, turn it in 3D, export video and mesh.")
    parser.add_argument("--model", default=os.environ.get(MODEL_ENV) or DEFAULT_MODEL,
                        help="model folder (config.json + model.safetensors), Hugging Face repo id, or the name of a bundled "
                        f"model (default: ${MODEL_ENV}, else the bundled {DEFAULT_MODEL!r})")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (0.0.0.0 for every interface; Spaces set GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    parser.add_argument("--device", default="auto", help="'auto' (a GPU when there is one), 'cpu', 'cuda', 'cuda:1', ...")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    model, status = load_model(args.model, args.device)
    serve(build_demo(model, status), model, server_name=args.host, server_port=args.port, share=args.share)


if __name__ == "__main__":
    main()
