"""The Sem2NeRF model facade: mask -> latent code (:class:`Scene`) -> rendered views, and Hub I/O.

``Sem2NeRF`` joins a :class:`~sem2nerf.encoder.SwinEncoder` and a frozen
:class:`~sem2nerf.decoder.PiGANDecoder` with the latent average, and renders with the one renderer
(:mod:`sem2nerf.renderer`). It round-trips through ``save_pretrained`` / ``from_pretrained`` /
``push_to_hub`` (safetensors + config.json + a generated model card) and loads strictly.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from huggingface_hub import ModelCard, PyTorchModelHubMixin, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError
from PIL import Image
from torch import nn

from .bake import BakedScene
from .bake import bake as bake_scene
from .camera import LOCKED_VIEW_DIRECTION, angles_to_renderer, camera_to_world
from .carve import CARVE_RESOLUTION, CarvedField, hull_image
from .decoder import PiGANDecoder
from .domains import Domain, get_domain
from .encoder import SwinEncoder
from .errors import MaskError, ModelLoadError
from .labels import get_label_scheme
from .limits import check_finite
from .masks import LabelMask, encoder_input, frame_to_domain, load_mask
from .renderer import Field, RenderOptions, RenderOutput, check_seed, render_poses
from .semantic import LabelField, RegionStyleField, label_image, region_ids
from .trajectories import Pose
from .views import DirectView, check_view, render_images

__all__ = ["DEFAULT_STYLE_LAYERS", "STYLE_PRESETS", "TEXTURE_STYLE_LAYERS", "RegionalStyle", "Scene", "Sem2NeRF",
           "preset_style_layers"]

LABEL_SAMPLES = 12  # samples per ray of the depth that label maps and the label field are made from

DEFAULT_STYLE_LAYERS: tuple[int, ...] = (8,)  # official default: the colour FiLM layer only
TEXTURE_STYLE_LAYERS: tuple[int, ...] = (6, 7, 8)
STYLE_PRESETS: dict[str, tuple[int, ...]] = {"colour only": DEFAULT_STYLE_LAYERS, "texture": TEXTURE_STYLE_LAYERS}
_OFFICIAL_LAST_FILM_LAYER = 8


def preset_style_layers(preset: str, num_film_layers: int) -> list[int]:
    """The FiLM layers of a style preset (:data:`STYLE_PRESETS`, given for the official 9-layer decoder),
    counted from the last (colour) layer, so that a smaller decoder gets its own last layers."""
    chosen = STYLE_PRESETS.get(preset)
    if chosen is None:
        raise ValueError(f"unknown style preset {preset!r}; pick one of {', '.join(STYLE_PRESETS)}")
    last = _OFFICIAL_LAST_FILM_LAYER
    return [num_film_layers - 1 - (last - i) for i in chosen if last - i < num_film_layers]
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
# The settings that decide the shapes of the weights: a config.json without one of them cannot describe its weights
# (save_pretrained writes every setting; other settings have defaults).
REQUIRED_CONFIG_KEYS = (
    "domain", "use_contour", "encoder_size", "encoder_patch_size", "encoder_embed_dim", "encoder_depths",
    "encoder_num_heads", "encoder_window_size", "decoder_hidden_dim", "decoder_num_layers", "decoder_z_dim",
    "decoder_mapping_hidden_dim", "decoder_mapping_depth",
)



def _hub_or_cache(repo_id: str, kwargs: dict) -> dict:
    """The download keywords for a Hub repo id: unchanged when the Hub answers (or offline mode is on); with an
    unreachable Hub, ``local_files_only`` when the repo is in the local cache, else :class:`ModelLoadError` at once
    (instead of the client's ~50 s of retries)."""
    from huggingface_hub import try_to_load_from_cache

    from .hub import hub_unreachable, offline_mode

    if kwargs.get("local_files_only") or offline_mode():
        return kwargs
    reason = hub_unreachable()
    if reason is None:
        return kwargs
    cached = try_to_load_from_cache(repo_id, CONFIG_NAME, cache_dir=kwargs.get("cache_dir"),
                                    revision=kwargs.get("revision"))
    if isinstance(cached, str):
        return {**kwargs, "local_files_only": True}
    raise ModelLoadError(
        f"could not load model {repo_id!r}: there is no local folder of that name, it is not in the Hugging Face "
        f"cache, and the Hub cannot be reached ({reason}). Pass a local folder with config.json + model.safetensors, "
        f"or the name of a bundled model (synthfaces); when online, check the repo id."
    )


def read_config(path: str | os.PathLike, where: str | None = None) -> dict:
    """A model folder's ``config.json`` as a dict, or :class:`ModelLoadError` in one line naming the file
    (``where``, default the path): unreadable, not JSON, not a JSON object, or missing a required setting."""
    where = where or str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ModelLoadError(f"{where} is not valid JSON (it is not UTF-8 text); restore the model's config.json") from None
    except OSError as err:
        raise ModelLoadError(f"cannot read {where}: {err.strerror or err}") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise ModelLoadError(
            f"{where} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); restore the model's "
            "config.json, as save_pretrained writes it"
        ) from None
    check_config(config, where)
    return config


def check_config(config, where: str) -> None:
    """:class:`ModelLoadError` naming ``where`` unless ``config`` is a JSON object with every required setting."""
    if not isinstance(config, dict):
        kind = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}.get(
            type(config), "null" if config is None else "something else")
        raise ModelLoadError(f"{where} holds {kind}, not an object of model settings like the one save_pretrained writes")
    missing = [k for k in REQUIRED_CONFIG_KEYS if k not in config]
    if missing:
        raise ModelLoadError(
            f"{where} lacks the model settings {name_list(missing)}: it does not describe its weights; restore the "
            "model's config.json, as save_pretrained writes it"
        )
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
# Set while a model is built only to receive saved weights: the latent average is not worth computing then.
_WEIGHTS_FOLLOW: ContextVar[bool] = ContextVar("sem2nerf_weights_follow", default=False)


@contextmanager
def _weights_follow():
    token = _WEIGHTS_FOLLOW.set(True)
    try:
        yield
    finally:
        _WEIGHTS_FOLLOW.reset(token)

MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

# Sem2NeRF: {{ title | default("semantic mask to neural radiance field", true) }}

This model turns one single-view semantic mask ({{ domain }} labels, scheme `{{ raw_scheme }}`) into a
neural radiance field that can be rendered from any viewpoint, following
*Sem2NeRF: Converting Single-View Semantic Masks to Neural Radiance Fields* (Chen et al., ECCV 2022,
{{ paper_url }}). It is a region-aware Swin Transformer encoder ({{ encoder_params }} parameters)
that predicts the FiLM code of a frozen pi-GAN decoder ({{ decoder_params }} parameters).

{{ description | default("", true) }}

## Usage

```python
from sem2nerf import Sem2NeRF

model = Sem2NeRF.from_pretrained("{{ repo_id | default("path/to/this/folder", true) }}")
scene = model.encode("mask.png")              # label-id PNG or palette-coloured mask
image = model.render(scene, yaw=20, pitch=0)  # PIL image; angles in degrees, (0, 0) is frontal
```

Library: {{ repo_url | default("sem2nerf", true) }}

## Configuration

| key | value |
|---|---|
{% for key, value in config_rows %}| `{{ key }}` | `{{ value }}` |
{% endfor %}

## Training data

{{ training_data | default("Not recorded.", true) }}

{% if training_command %}## Training command

```bash
{{ training_command }}
```
{% endif %}
## Evaluation

{{ metrics | default("Not recorded.", true) }}
"""


@dataclass(frozen=True)
class RegionalStyle:
    """The style of some classes only (:meth:`Sem2NeRF.mix_style` with ``regions``).

    Attributes:
        frequencies, phase_shifts: ``(1, code_dim)`` codes of the style, used where a point's label is in ``regions``.
        regions: raw label ids of the classes that take the style.
    """

    frequencies: torch.Tensor
    phase_shifts: torch.Tensor
    regions: tuple[int, ...]


@dataclass
class Scene:
    """A latent code for one subject, ready to render from any view.

    Attributes:
        frequencies, phase_shifts: ``(1, code_dim)`` raw pi-GAN codes (latent average included).
        mask: the input mask, when the scene was encoded from one.
        pose: the annotated pose ``(yaw, pitch)`` of the mask in public degrees, if known.
        style: how the code was style-mixed (``None`` for the encoder's own code).
        regional: a style for some classes only; the codes above hold every other point.
        carve: render the field carved to the mask's silhouette at its pose (:mod:`sem2nerf.carve`); needs ``mask``.
    """

    frequencies: torch.Tensor
    phase_shifts: torch.Tensor
    mask: LabelMask | None = None
    pose: tuple[float, float] | None = None
    style: dict | None = field(default=None)
    regional: RegionalStyle | None = None
    carve: bool = False
    # the scene's labels in 3D (Sem2NeRF.label_field), made on first use; a function of the codes, mask and pose above
    _labels: LabelField | None = field(default=None, repr=False, compare=False)


class Sem2NeRF(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="sem2nerf",
    tags=["sem2nerf", "nerf", "3d", "pi-gan", "semantic-image-synthesis", "image-to-3d"],
    repo_url="https://github.com/sem2nerf/sem2nerf",
    paper_url="https://arxiv.org/abs/2203.10821",
    license="mit",
    pipeline_tag="image-to-3d",
    model_card_template=MODEL_CARD_TEMPLATE,
):
    """Semantic mask -> neural radiance field (Sem2NeRF).

    Every argument is saved in ``config.json``; defaults are the official CelebAMask-HQ model
    (Swin-T encoder on 18 channels at 224 px, pi-GAN decoder 8 x 256): 32,996,734 parameters.

    Args:
        domain: data-set domain (``"celebamask_hq"`` or ``"catmask"``): label schemes, crop, camera.
        use_contour: append the contour and distance-field channels to the one-hot input.
        encoder_*: Swin arguments (size, patch, width, depths, heads, window, drop path).
        decoder_*: pi-GAN decoder arguments (width, FiLM layers, z size, mapping width/depth, box size).
        fov, ray_start, ray_end: camera defaults (``None``: the domain's).
        latent_avg_samples, latent_avg_seed: the seeded sample used to initialise the latent average.
        contour_skip: ``"background"`` (ours) or ``"smallest"`` (the official quirk), see :func:`contour_map`.
        encoder_region_stats: add the encoder's linear region head on each input class's area, centroid and
            spread (deviation, for small CPU encoders; see :class:`~sem2nerf.encoder.SwinEncoder`).
        encoder_region_grid: with ``encoder_region_stats``, the region head also reads each class's coverage of
            this many x this many cells (0: the statistics alone).
        carve: scenes that :meth:`encode` makes are carved to their mask's silhouette unless it is told otherwise
            (:mod:`sem2nerf.carve`; deviation, on in the bundled model; off for the official models).
    """

    def __init__(
        self,
        domain: str = "celebamask_hq",
        use_contour: bool = True,
        encoder_size: int = 224,
        encoder_patch_size: int = 4,
        encoder_embed_dim: int = 96,
        encoder_depths: Sequence[int] = (2, 2, 6, 2),
        encoder_num_heads: Sequence[int] = (3, 6, 12, 24),
        encoder_window_size: int = 7,
        encoder_drop_path_rate: float = 0.2,
        decoder_hidden_dim: int = 256,
        decoder_num_layers: int = 8,
        decoder_z_dim: int = 256,
        decoder_mapping_hidden_dim: int = 256,
        decoder_mapping_depth: int = 3,
        decoder_box_size: float = 0.24,
        fov: float | None = None,
        ray_start: float | None = None,
        ray_end: float | None = None,
        latent_avg_samples: int = 10000,
        latent_avg_seed: int = 0,
        contour_skip: str = "background",
        encoder_region_stats: bool = False,
        encoder_region_grid: int = 0,
        carve: bool = False,
    ) -> None:
        super().__init__()
        self.domain: Domain = get_domain(domain)
        self.use_contour = use_contour
        self.contour_skip = contour_skip
        self.encoder_size = encoder_size
        self.carve = bool(carve)
        self.fov = float(fov if fov is not None else self.domain.fov)
        self.ray_start = float(ray_start if ray_start is not None else self.domain.ray_start)
        self.ray_end = float(ray_end if ray_end is not None else self.domain.ray_end)
        self.decoder = PiGANDecoder(
            hidden_dim=decoder_hidden_dim,
            num_layers=decoder_num_layers,
            z_dim=decoder_z_dim,
            mapping_hidden_dim=decoder_mapping_hidden_dim,
            mapping_depth=decoder_mapping_depth,
            box_size=decoder_box_size,
        )
        self.encoder = SwinEncoder(
            in_chans=self.input_channels,
            code_dim=self.decoder.code_dim,
            img_size=encoder_size,
            patch_size=encoder_patch_size,
            embed_dim=encoder_embed_dim,
            depths=encoder_depths,
            num_heads=encoder_num_heads,
            window_size=encoder_window_size,
            drop_path_rate=encoder_drop_path_rate,
            region_classes=get_label_scheme(self.domain.input_scheme).num_classes if encoder_region_stats else 0,
            region_grid=encoder_region_grid,
        )
        if _WEIGHTS_FOLLOW.get():  # strict loading overwrites these buffers right away
            avg_freq, avg_phase = torch.zeros(1, self.decoder.code_dim), torch.zeros(1, self.decoder.code_dim)
        else:
            avg_freq, avg_phase = self.decoder.average_code(latent_avg_samples, latent_avg_seed)
        self.register_buffer("latent_avg_freq", avg_freq)
        self.register_buffer("latent_avg_phase", avg_phase)
        self.decoder.requires_grad_(False)

    # --- basic properties -----------------------------------------------------------------------

    @property
    def input_channels(self) -> int:
        """Encoder input channels: merged classes (+ contour + distance)."""
        return get_label_scheme(self.domain.input_scheme).num_classes + (2 if self.use_contour else 0)

    @property
    def device(self) -> torch.device:
        return self.latent_avg_freq.device

    def num_parameters(self) -> dict[str, int]:
        """Parameter counts: encoder, decoder, mapping network, total."""
        enc = sum(p.numel() for p in self.encoder.parameters())
        dec = sum(p.numel() for p in self.decoder.parameters())
        mapping = sum(p.numel() for p in self.decoder.mapping.parameters())
        return {"encoder": enc, "decoder": dec, "mapping": mapping, "total": enc + dec}

    def render_options(self, samples: int = 24, **overrides) -> RenderOptions:
        """The official inference render options for this model (hierarchical, view-locked, last_back), skipping
        the fine pass of rays that meet no matter (:data:`~sem2nerf.renderer.INFERENCE_SKIP_EMPTY`)."""
        return RenderOptions.for_inference(samples, self.ray_start, self.ray_end, **overrides)

    # --- encoding -------------------------------------------------------------------------------

    def prepare_input(self, mask, scheme: str | None = None) -> tuple[torch.Tensor, LabelMask]:
        """Read a mask (any supported input) and build the encoder input ``(1, C, S, S)``."""
        label_mask = load_mask(mask, scheme or self.domain.raw_scheme)
        if label_mask.is_empty():
            raise MaskError("the mask is empty (every pixel is background): draw or upload a mask with face regions")
        x = encoder_input(label_mask, self.domain, self.encoder_size, self.use_contour, self.contour_skip)
        return x[None].to(self.device), label_mask

    def encode_tensor(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder input ``(B, C, S, S)`` -> codes ``(B, code_dim)`` x 2, latent average added."""
        freq, phase = self.encoder.encode(x)
        return freq + self.latent_avg_freq, phase + self.latent_avg_phase

    @torch.no_grad()
    def encode(self, mask, scheme: str | None = None, pose: tuple[float, float] | None = None,
               carve: bool | None = None) -> Scene:
        """Encode a semantic mask into a :class:`Scene` (run once; render it as often as you like).

        Args:
            mask: path, PIL image, numpy array or tensor (see :func:`sem2nerf.masks.load_mask`).
            scheme: label scheme of the mask (default: the domain's raw scheme, e.g. CelebAMask-HQ 19 ids).
            pose: the mask's annotated (yaw, pitch) in degrees, kept with the scene.
            carve: carve the scene to the mask's silhouette at ``pose`` (:mod:`sem2nerf.carve`): no matter where
                the mask says background. ``None``: the model's ``carve`` setting (on in the bundled model).
        """
        x, label_mask = self.prepare_input(mask, scheme)
        was_training = self.training
        self.eval()
        freq, phase = self.encode_tensor(x)
        self.train(was_training)
        return Scene(freq, phase, label_mask, pose, carve=self.carve if carve is None else bool(carve))

    @torch.no_grad()
    def average_scene(self) -> Scene:
        """The "mean face": the decoder at the latent average, no encoder."""
        return Scene(self.latent_avg_freq.clone(), self.latent_avg_phase.clone())

    # --- style ----------------------------------------------------------------------------------

    @torch.no_grad()
    def style_code(self, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The pi-GAN code of ``z ~ N(0, I)`` drawn with ``torch.manual_seed(seed)`` semantics (as the official script)."""
        z = torch.randn(1, self.decoder.z_dim, generator=torch.Generator().manual_seed(int(seed)))
        return self.decoder.mapping(z.to(self.device))

    @torch.no_grad()
    def mix_style(
        self,
        scene: Scene,
        seed: int | None,
        layers: Iterable[int] | None = None,
        *,
        seed2: int | None = None,
        alpha: float = 0.0,
        regions: Iterable[str | int] | None = None,
    ) -> Scene:
        """Replace the codes of some FiLM layers with a random style (multi-modal synthesis).

        Args:
            seed: style seed (``None`` returns the scene unchanged).
            layers: FiLM layer indices: ``0`` to ``num_film_layers - 1`` (the bundled model has 5 FiLM layers, 0-4;
                the official one 9, 0-8, where 8 = colour only and 6-8 = texture); ``None`` = the colour layer (the
                last one), the official default.
            seed2, alpha: blend linearly between the styles of ``seed`` and ``seed2`` (paper Fig. 5):
                ``(1 - alpha) * style(seed) + alpha * style(seed2)``.
            regions: only these classes take the style (class names such as ``"hair"``, names of the merged scheme
                such as ``"eyes"``, or raw ids), in 3D: each sample point takes the style or keeps the scene's own
                code by its label (:meth:`label_field`), so the boundary is the same in every view. Needs a scene
                encoded from a mask. ``None``: the whole scene.
        """
        if seed is None:
            return scene
        seed = check_seed(seed)
        seed2 = None if seed2 is None else check_seed(seed2)
        alpha = check_finite(alpha, "alpha")
        n = self.decoder.num_film_layers
        layers = sorted({int(i) for i in layers}) if layers is not None else [n - 1]
        if not layers or layers[0] < 0 or layers[-1] >= n:
            raise ValueError(f"style layers must be a non-empty subset of 0-{n - 1}, got {layers}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        style_f, style_p = self.style_code(seed)
        if seed2 is not None and alpha > 0:
            f2, p2 = self.style_code(seed2)
            style_f, style_p = torch.lerp(style_f, f2, alpha), torch.lerp(style_p, p2, alpha)
        ids = None
        if regions is not None:
            if scene.mask is None:
                raise ValueError("a regional style needs a scene encoded from a mask (its labels say where the regions are)")
            ids = region_ids(scene.mask.scheme, [regions] if isinstance(regions, (str, int)) else regions)
        h = self.decoder.hidden_dim
        freq, phase = scene.frequencies.clone(), scene.phase_shifts.clone()
        for i in layers:
            freq[:, i * h : (i + 1) * h] = style_f[:, i * h : (i + 1) * h]
            phase[:, i * h : (i + 1) * h] = style_p[:, i * h : (i + 1) * h]
        style = {"seed": seed, "layers": layers, "seed2": seed2, "alpha": alpha}
        if ids is not None:  # the scene's own codes (and labels) stay; the style is kept beside them
            style["regions"] = [scene.mask.scheme.class_names[i] for i in ids]
            return replace(scene, style=style, regional=RegionalStyle(freq, phase, ids))
        return replace(scene, frequencies=freq, phase_shifts=phase, style=style, regional=None, _labels=None)

    # --- rendering ------------------------------------------------------------------------------

    def field(self, scene: Scene, lock_view_dependence: bool = True) -> Field:
        """The scene's radiance field with the FiLM code folded into the weights (a
        :class:`~sem2nerf.semantic.RegionStyleField` joining two of them for a regional style)."""
        locked = LOCKED_VIEW_DIRECTION if lock_view_dependence else None
        own = self.decoder.modulate(scene.frequencies.to(self.device), scene.phase_shifts.to(self.device), locked)
        field = own
        if scene.regional is not None:
            r = scene.regional
            styled = self.decoder.modulate(r.frequencies.to(self.device), r.phase_shifts.to(self.device), locked)
            field = RegionStyleField(own, styled, self.label_field(scene), r.regions)
        return self.carved(scene, field)

    def carved(self, scene: Scene, field: Field) -> Field:
        """``field`` carved to the scene's mask silhouette when the scene asks for it (``scene.carve``), else
        ``field`` itself: a :class:`~sem2nerf.carve.CarvedField` of the framed mask's foreground at its pose."""
        if not scene.carve:
            return field
        if scene.mask is None:
            raise ValueError("a carved scene needs its mask (the silhouette it is carved to)")
        merged = scene.mask.to_scheme(self.domain.input_scheme)
        framed = np.asarray(frame_to_domain(Image.fromarray(merged.labels, mode="L"), self.domain, CARVE_RESOLUTION))
        yaw, pitch = scene.pose if scene.pose is not None else (0.0, 0.0)
        c2w = camera_to_world(*angles_to_renderer(float(yaw), float(pitch)))
        return CarvedField(field, hull_image(framed != merged.scheme.background).to(self.device), c2w, self.fov)

    # --- the 3D semantic field ------------------------------------------------------------------

    def label_field(self, scene: Scene) -> LabelField:
        """The scene's labels at any 3D point (:class:`~sem2nerf.semantic.LabelField`): its input mask lifted with
        the depth of its own code at the mask's pose (frontal when the pose is unknown). Made once per scene."""
        if scene.mask is None:
            raise ValueError("the scene has no input mask (the mean face or a bare code): its labels are unknown")
        if scene._labels is None:
            own = replace(scene, regional=None, _labels=None)
            scene._labels = LabelField.from_field(
                self.field(own), scene.mask, scene.pose, self.fov, self.domain,
                self.render_options(LABEL_SAMPLES, deterministic=True), device=self.device,
            )
        return scene._labels

    @torch.no_grad()
    def render_labels(self, scene: Scene | BakedScene, yaw: float = 0.0, pitch: float = 0.0,
                      fov: float | None = None, size: int = 128, samples: int = LABEL_SAMPLES) -> np.ndarray:
        """The label map of a scene (or of its bake) at a view: ``(size, size)`` uint8 raw ids of the mask's scheme.

        Each pixel's surface point (the render's depth) takes the input mask's label where the mask's view sees it,
        else the label of the nearest surface point it does see; background where the view's opacity is below
        one half. A baked scene (:meth:`bake`) renders its depth from the grid.
        """
        check_view(size, samples)
        pose = Pose(yaw, pitch, self.fov if fov is None else fov)
        if isinstance(scene, BakedScene):  # its depth from the grid, its labels from the scene it was baked from
            if scene.scene is None:
                raise ValueError("this baked scene does not know the scene it was baked from (bake it with model.bake)")
            out = scene.render_output([pose], size, scene.render_options(samples, deterministic=True))[0]
            scene = scene.scene
        else:
            out = self.render_output(scene, [pose], size, self.render_options(samples, deterministic=True))[0]
        c2w = camera_to_world(*angles_to_renderer(pose.yaw, pose.pitch))
        return label_image(self.label_field(scene), c2w, out.depth[0], out.opacity[0], pose.fov)

    def label_mask(self, scene: Scene | BakedScene, yaw: float = 0.0, pitch: float = 0.0,
                   fov: float | None = None, size: int = 512, samples: int = LABEL_SAMPLES) -> LabelMask:
        """The label map of a view framed as a mask file of the domain: a :class:`LabelMask` of ``size`` pixels
        that :meth:`encode` (with ``pose=(yaw, pitch)``) reads back as that view ("edit from any view").

        The encoder sees a mask's central crop (CelebA: 80 %) at the model's field of view, so the map is rendered
        at the field of view that crop widens to (15.0 degrees for CelebA's 12): its central crop is the view."""
        return LabelMask(self.render_labels(scene, yaw, pitch, self.canvas_fov(fov), size, samples),
                         (scene.scene if isinstance(scene, BakedScene) else scene).mask.scheme)

    def canvas_fov(self, fov: float | None = None) -> float:
        """The field of view (degrees) of a whole mask file whose domain crop the encoder sees at ``fov`` (default:
        the model's): ``2 atan(tan(fov / 2) / crop_fraction)``."""
        half = math.radians(self.fov if fov is None else fov) / 2
        return math.degrees(2 * math.atan(math.tan(half) / self.domain.crop_fraction))

    @torch.no_grad()
    def render_output(
        self,
        scene: Scene,
        poses: Sequence[Pose],
        size: int = 128,
        options: RenderOptions | None = None,
        seed: int | None = 0,
    ) -> list[RenderOutput]:
        """Render raw outputs (tensors in [-1, 1], depth, opacity) for each pose, one field for all."""
        opts = options or self.render_options()
        return render_poses(self.field(scene, opts.lock_view_dependence), poses, size, opts, seed, self.device)

    def render(
        self,
        scene: Scene,
        yaw: float = 0.0,
        pitch: float = 0.0,
        fov: float | None = None,
        size: int = 128,
        samples: int = 24,
        seed: int | None = 0,
        *,
        hierarchical: bool = True,
        deterministic: bool = False,
        return_depth: bool = False,
        chunk_points: int | None = None,
    ) -> Image.Image | tuple[Image.Image, np.ndarray]:
        """Render one view of a scene as a PIL RGB image (and the depth map on request).

        Args:
            yaw, pitch: degrees in the CelebAMask-HQ annotation convention ((0, 0) is frontal).
            fov: field of view in degrees (default: the model's, 12 for CelebA).
            size: image side in pixels. samples: coarse samples per ray (as many fine ones with
                ``hierarchical``). seed: makes jitter and importance sampling reproducible
                (``None``: unseeded). deterministic: no jitter, deterministic importance sampling.
            return_depth: also return the depth along each ray, ``(size, size)`` float32.
        """
        view = render_images(self.view_source(scene), [Pose(yaw, pitch, self.fov if fov is None else fov)], size,
                             samples, seed, chunk_points=chunk_points, hierarchical=hierarchical,
                             deterministic=deterministic)[0]
        return (view.image, view.depth) if return_depth else view.image

    def render_views(
        self, scene: Scene, poses: Sequence[Pose], size: int = 128, samples: int = 24, seed: int | None = 0, **kwargs
    ) -> list[Image.Image]:
        """Render several views (e.g. :func:`~sem2nerf.trajectories.front_trajectory`) as PIL images."""
        return [v.image for v in render_images(self.view_source(scene), poses, size, samples, seed, **kwargs)]

    def view_source(self, scene: Scene) -> DirectView:
        """The scene rendered by the network, as a :class:`~sem2nerf.views.ViewSource` (a baked scene is one too)."""
        return DirectView(self, scene)

    # --- Hub I/O --------------------------------------------------------------------------------

    def generate_model_card(self, *args, **kwargs) -> ModelCard:
        counts = self.num_parameters()
        config = dict(self._hub_mixin_config or {})
        kwargs.setdefault("domain", self.domain.name)
        kwargs.setdefault("raw_scheme", self.domain.raw_scheme)
        kwargs.setdefault("encoder_params", f"{counts['encoder']:,}")
        kwargs.setdefault("decoder_params", f"{counts['decoder']:,}")
        kwargs.setdefault("config_rows", sorted(config.items()))
        return super().generate_model_card(*args, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> Sem2NeRF:
        """Load a model from a local folder, a Hugging Face Hub repo id (``config.json`` + ``model.safetensors``)
        or the name of a bundled model (``"synthfaces"``, the default model; see :mod:`sem2nerf.pretrained`).

        Loading is strict: missing, unexpected or mis-shaped weights raise :class:`ModelLoadError`
        naming them. Extra keyword arguments override the saved config (e.g. ``fov=18``) and
        ``map_location`` picks the device.
        """
        from .pretrained import resolve_preset

        name = os.fspath(pretrained_model_name_or_path)
        path = Path(name).expanduser()
        preset = resolve_preset(name)
        if preset is not None and not path.is_dir():  # a bundled model by name (a local folder of that name wins)
            if not (preset / WEIGHTS_NAME).is_file():
                raise ModelLoadError(f"the bundled model {name!r} is missing from this installation ({preset} has no {WEIGHTS_NAME})")
            path = preset
        if path.is_dir():
            missing = [f for f in (CONFIG_NAME, WEIGHTS_NAME) if not (path / f).is_file()]
            if missing:
                hint = ""
                if any(path.glob("*.pt")) or any(path.glob("*.pth")):
                    hint = " It holds .pt/.pth files: convert official checkpoints with `python -m sem2nerf convert`."
                raise ModelLoadError(f"model folder {path} has no {' or '.join(missing)}.{hint}")
            read_config(path / CONFIG_NAME)
            name = str(path)
        elif path.exists():
            raise ModelLoadError(
                f"{path} is a file; give the folder that holds config.json and model.safetensors"
                + (" (official .pt/.pth checkpoints must be converted first: `python -m sem2nerf convert`)" if path.suffix in (".pt", ".pth") else "")
            )
        elif not _REPO_ID.match(name) or name.startswith((".", "~")):
            raise ModelLoadError(f"no model folder at {path}, and {name!r} is not a Hugging Face repo id")
        else:
            kwargs = _hub_or_cache(name, kwargs)
        try:
            return super().from_pretrained(name, **kwargs)
        except ModelLoadError:
            raise
        except (AttributeError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as err:  # a Hub config.json
            raise ModelLoadError(
                f"{CONFIG_NAME} of {name!r} is not valid JSON or not an object of model settings like the one "
                "save_pretrained writes"
            ) from err
        except (OSError, EntryNotFoundError) as err:
            offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
            reason = "offline mode is on (HF_HUB_OFFLINE)" if offline else "no such repo, or the Hub could not be reached"
            raise ModelLoadError(
                f"could not load model {name!r}: there is no local folder of that name and the Hugging Face Hub "
                f"did not provide it ({reason}). Pass a local folder with config.json + model.safetensors; when "
                f"online, check the repo id (or download it with `hf download {name}`); to use the official "
                f"checkpoints, convert them with `python -m sem2nerf convert`."
            ) from err

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir,
        force_download: bool,
        local_files_only: bool,
        token,
        map_location: str | torch.device = "cpu",
        strict: bool = True,
        **model_kwargs,
    ) -> Sem2NeRF:
        check_config(model_kwargs, f"{CONFIG_NAME} of {model_id!r}")  # a Hub repo's (a folder's is read first)
        if os.path.isdir(model_id):
            weights_file = os.path.join(model_id, WEIGHTS_NAME)
        else:
            weights_file = hf_hub_download(
                repo_id=model_id, filename=WEIGHTS_NAME, revision=revision, cache_dir=cache_dir,
                force_download=force_download, token=token, local_files_only=local_files_only,
            )
        try:
            if strict:  # every buffer, the latent average included, is about to be overwritten
                with _weights_follow():
                    model = cls(**model_kwargs)
            else:
                model = cls(**model_kwargs)
        except (TypeError, KeyError, ValueError) as err:
            raise ModelLoadError(f"config.json of {model_id!r} does not describe a valid Sem2NeRF model: {err}") from err
        model.load_safetensors(weights_file, strict=strict)
        return model.to(map_location).eval()

    def load_safetensors(self, path: str | os.PathLike, strict: bool = True) -> None:
        """Load weights from a safetensors file, checking names and shapes against this model's config."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state = load_file(os.fspath(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as err:
            raise ModelLoadError(f"cannot read weights {path}: the file is missing, truncated or not safetensors ({err})") from err
        state = self.encoder.fill_unbounded_buffers(state, prefix="encoder.")  # clamp ranges added since it was saved
        load_state_strictly(self, state, strict=strict, source=str(path))

    # --- baking ---------------------------------------------------------------------------------

    def bake(self, scene: Scene, **kwargs) -> BakedScene:
        """Bake a scene into a radiance grid that renders new views in a fraction of a direct render's time.

        Keyword arguments go to :func:`sem2nerf.bake.bake` (``resolution``, ``fov``, ``levels``...).
        """
        return bake_scene(self, scene, **kwargs)


def name_list(items: Sequence[str], limit: int = 10) -> str:
    """``a, b, c and 4 more``: the first ``limit`` names of a list for an error message."""
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def state_problems(found: Mapping[str, torch.Tensor], expected: Mapping[str, tuple[int, ...]], prefix: str = "",
                   strict: bool = True) -> list[str]:
    """Missing, unexpected (only when ``strict``) and mis-shaped keys of a state dict, each named (with ``prefix``)."""
    missing = sorted(set(expected) - set(found)) if strict else []
    unexpected = sorted(set(found) - set(expected)) if strict else []
    mismatched = sorted(k for k in set(found) & set(expected) if tuple(found[k].shape) != tuple(expected[k]))
    problems = []
    if missing:
        problems.append(f"missing {len(missing)}: " + name_list([prefix + k for k in missing]))
    if unexpected:
        problems.append(f"unexpected {len(unexpected)}: " + name_list([prefix + k for k in unexpected]))
    if mismatched:
        problems.append(f"shape mismatch {len(mismatched)}: " + name_list(
            [f"{prefix}{k} {tuple(found[k].shape)} (expected {tuple(expected[k])})" for k in mismatched]))
    return problems


def load_state_strictly(module: nn.Module, state: dict[str, torch.Tensor], strict: bool = True, source: str = "weights") -> None:
    """``load_state_dict`` that names every missing, unexpected and mis-shaped key in one clear error."""
    problems = state_problems(state, {k: tuple(v.shape) for k, v in module.state_dict().items()}, strict=strict)
    if problems:
        raise ModelLoadError(
            f"{source} do not match the model config ({'; '.join(problems)}). The weights were saved for another "
            f"configuration: load them with their own config.json."
        )
    module.load_state_dict(state, strict=strict)


