"""Training configuration: typed sections, YAML files and ``key.sub=value`` command-line overrides.

Defaults are the official Sem2NeRF training options (official-sem2nerf.md 3 and 6) for the encoder
stage on CelebAMask-HQ. Unknown keys are errors (a typo never silently trains with a default).

The layout (:func:`config_layout` prints it): ``data``, ``model``, ``render``, ``optim`` and ``train`` are shared;
``loss`` holds the losses both stages use; ``encoder`` and ``generator`` hold each stage's own options. An option of
this project that has settings of its own is a *group* (``encoder.latent``, ``generator.geometry``, ``loss.part``,
...): on when present (a mapping of its keys, or ``true`` for its defaults), off when absent, ``null`` or ``false``.
Keys of the flat layout before the per-stage sections are errors that name their new key (``_MOVED``), and
:meth:`TrainConfig.flat` gives that flat layout back, which :meth:`TrainConfig.fingerprint` hashes: a config has the
fingerprint it had in the flat layout, so earlier runs (the bundled model's) still resume and match.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
import textwrap
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

__all__ = ["MASK_REALISM_MAX", "ConfigError", "TrainConfig", "apply_overrides", "config_layout", "load_config"]


class _Loader(yaml.SafeLoader):
    """YAML with the 1.2 booleans: only true/false (so ``mixed_precision: no`` stays the string "no")."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _load_yaml(text: str):
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass


class ConfigError(ValueError):
    """A training configuration that cannot be used (with a message saying why)."""


@dataclass
class DataConfig:
    """Where the data is and how it is framed.

    ``root`` holds the CelebAMask-HQ layout (``CelebA-HQ-img/``, ``masks/``, the pose file,
    optional ``train_paths.txt`` / ``test_paths.txt`` / ``identities.json``) or the CatMask layout
    (``images/``, ``masks/``, ``pose-pseudo.txt``); ``domain`` picks which.
    """

    root: str = "data/CelebAMask-HQ"
    """The data folder."""
    domain: str = "celebamask_hq"
    """The data set's layout, label scheme, framing and poses (``sem2nerf.domains``)."""
    train_list: str | None = "train_paths.txt"
    """Training image ids, one per line (None: every image with a mask)."""
    val_list: str | None = "test_paths.txt"
    """Encoder stage: the held-out image ids it validates on (the generator stage validates on training identities)."""
    image_size: int = 512
    """Ground-truth side after the domain crop (official output_size with patch_train)."""
    workers: int = 2
    """DataLoader worker processes (0: load in the training process)."""
    val_samples: int = 8
    """Validation items (each rendered at its pose and two novel yaws)."""


@dataclass
class ModelConfig:
    """Sem2NeRF constructor arguments (``decoder_*`` are the generator stage's new decoder; the encoder stage checks
    them against its decoder folder). The encoder's optional region head is an encoder-stage option
    (``encoder.region_head``)."""

    use_contour: bool = True
    """Encoder input: add the mask's contour channel."""
    contour_skip: str = "background"
    """The label the contour leaves out (deviation: the official code skips the smallest label, ``smallest``)."""
    encoder_size: int = 224
    """Side of the encoder's input mask."""
    encoder_patch_size: int = 4
    """Swin patch size."""
    encoder_embed_dim: int = 96
    """Swin embedding width (Swin-T: 96)."""
    encoder_depths: list[int] = field(default_factory=lambda: [2, 2, 6, 2])
    """Swin blocks per stage (Swin-T: 2-2-6-2)."""
    encoder_num_heads: list[int] = field(default_factory=lambda: [3, 6, 12, 24])
    """Swin attention heads per stage (Swin-T: 3-6-12-24)."""
    encoder_window_size: int = 7
    """Swin attention window."""
    encoder_drop_path_rate: float = 0.2
    """Swin stochastic depth."""
    decoder_hidden_dim: int = 256
    """pi-GAN SIREN width."""
    decoder_num_layers: int = 8
    """pi-GAN FiLM layers."""
    decoder_z_dim: int = 256
    """pi-GAN latent size."""
    decoder_mapping_hidden_dim: int = 256
    """pi-GAN mapping network width."""
    decoder_mapping_depth: int = 3
    """pi-GAN mapping network depth."""
    decoder_box_size: float = 0.24
    """Half-size of the box the decoder's field lives in."""
    latent_avg_samples: int = 10000
    """Encoder stage: random codes averaged into the latent average (the encoder predicts offsets from it)."""


@dataclass
class RenderConfig:
    """Training renders (official: 28 coarse samples, no hierarchy, no view locking, 128-ray patches)."""

    num_samples: int = 28
    """Samples per training ray."""
    hierarchical: bool = False
    """Hierarchical (fine) sampling in training renders."""
    lock_view_dependence: bool = False
    """Render every ray with one fixed view direction."""
    patch_resolution: int = 128
    """Rays per patch side (a power of two >= 16: the patch discriminator halves it)."""
    min_scale: float = 0.125
    """Smallest patch scale (fraction of the frame) at the end of annealing."""
    max_scale: float = 1.0
    """Largest patch scale."""
    anneal: float = 0.0019
    """Patch-scale annealing per 1000 steps (0: none)."""
    random_shift: bool = True
    """Shift patches randomly within the frame."""
    patch_mode: str = "independent"
    """``independent``: a scale and shift per sample (deviation); ``official``: one scale per batch, shifted along the
    diagonal."""
    val_size: int = 128
    """Side of the full-frame validation renders."""
    val_samples: int = 24
    """Samples per validation ray."""


@dataclass
class PartLossConfig:
    """``loss.part`` (both stages, deviation): the patch L2 with the pixels of small parts weighed up. Small parts
    (eyes, mouth) are ~2 % of a frame and the plain L2 barely sees them."""

    weight: float = 1.0
    """Pixels of ``labels`` weigh 1 + weight in the L2 (> 0; the loss is normalised, so it keeps its scale)."""
    labels: list[str] | None = None
    """Raw-scheme class names (None: the domain's small_parts)."""


@dataclass
class LossConfig:
    """Loss weights that both stages use (0: off); each stage's own are in ``encoder`` and ``generator``."""

    l2: float = 1.0
    """Patch L2 (the generator stage scales it by ``generator.recon.weight``)."""
    lpips: float = 0.8
    """Patch LPIPS (AlexNet; needs torchvision's ImageNet AlexNet weights; the generator stage scales it by
    ``generator.recon.weight``)."""
    r1: float = 10.0
    """R1 penalty of the patch discriminator (``encoder.gan``, ``generator.adv``)."""
    silhouette: float = 0.0
    """Rendered opacity vs the mask's foreground at its pose (background rays stay empty; the generator stage's is on
    its reconstruction renders, so it needs ``generator.recon``)."""
    part: PartLossConfig | None = None
    """Small parts weighed up in the L2 (:class:`PartLossConfig`; absent or null: the plain mean)."""


@dataclass
class LatentExtraConfig:
    """``encoder.latent.extra`` (deviation): masks of another SynthFaces set, encoded in the same forward pass for
    ``encoder.latent`` only (never rendered)."""

    root: str = ""
    """The other SynthFaces folder (make one with ``python -m sem2nerf synth --views 1``)."""
    batch: int = 16
    """Its masks per step."""


@dataclass
class LatentLossConfig:
    """``encoder.latent`` (deviation): regress each mask's code to the linear read-out of its identity's
    generator-stage code from the identity's SynthFaces parameters, fitted on all of them and read out with those a
    mask cannot show (colours) at their mean (needs the decoder folder's identity latents)."""

    weight: float = 1.0
    """The loss's weight (> 0)."""
    params: float = 0.0
    """Also weigh, this many times, the code error mapped back to the read-out's standardised parameters, so a small
    part's parameter (eye size) counts as much as hair length (0: the code error only)."""
    warmup_steps: int = 0
    """The first steps train this loss (and W-norm) only: no renders, no GAN."""
    extra: LatentExtraConfig | None = None
    """Extra masks for this loss only (:class:`LatentExtraConfig`; absent or null: the training masks alone)."""


@dataclass
class RegionHeadConfig:
    """``encoder.region_head`` (deviation): a linear region head on each class's area, centroid and spread, fitted by
    least squares before the first step and kept at that fit; its inputs and output are clamped to their range over
    the training masks."""

    grid: int = 0
    """The head also reads each class's coverage of a grid of this many x this many cells (the outline of hair, face
    and clothes, not just their extent; 0: the five statistics alone)."""


@dataclass
class EncoderConfig:
    """Encoder-stage options: the paper's loss weights (0: off) and this project's options; the generator stage
    ignores the paper's and refuses the others."""

    w_norm: float = 0.005
    """W-norm of the predicted code offsets."""
    gan: float = 0.08
    """Patch GAN (with ``loss.r1``)."""
    random_pose_prob: float | None = None
    """Probability of a GAN-only step at a random pose (None: the domain's, 0.2 faces, 0.5 cats)."""
    mask_realism: float = 0.0
    """Make the encoder's input masks (training and ``encoder.latent.extra``, never validation) look hand-annotated
    (``sem2nerf.training.augment``): 0 = off, 1 = MaskRealism's defaults, up to ``MASK_REALISM_MAX`` times as strong;
    seeded by (seed, item, epoch)."""
    latent: LatentLossConfig | None = None
    """The code regression (:class:`LatentLossConfig`; absent or null: off)."""
    region_head: RegionHeadConfig | None = None
    """The encoder's region head (:class:`RegionHeadConfig`; absent or null: none)."""


@dataclass
class ReconLossConfig:
    """``generator.recon``: multi-view reconstruction through per-identity latents (needs identities.json)."""

    weight: float = 1.0
    """Scales ``loss.l2`` and ``loss.lpips`` of the reconstruction renders (> 0)."""
    every: int = 1
    """Render the reconstruction on every k-th step only (``generator.geometry`` on all)."""


@dataclass
class GeometryLossConfig:
    """``generator.geometry`` (SynthFaces, deviation): 3D density/colour targets (``sem2nerf.synthfaces.targets``)."""

    weight: float = 1.0
    """The loss's weight (> 0)."""
    points: int = 2048
    """3D points per item."""
    reach: float = 0.0
    """A quarter of the points uniform in the ball of this radius (0: the box only)."""
    focus: float = 0.0
    """This fraction of the near-surface points around the eyes, brows and mouth (``SynthHead.detail_spheres``;
    deviation: at 0.5 the eyes get ~30 x, eyes + brows + mouth ~12 x the points)."""


@dataclass
class LatentsConfig:
    """``generator.latents``: the per-identity latents of ``generator.recon`` and ``generator.geometry``."""

    init: str = "random"
    """Start at N(0, I) (``random``) or at a projection of the SynthFaces parameters (``params``)."""
    linear: bool = False
    """With ``init=params``: stay a learned linear map of the parameters (deviation: no per-identity freedom, so each
    parameter has one exact direction in z)."""
    residual: float = 0.0
    """With ``linear``: add a learned per-identity residual to each latent (zero at the start), its squared size
    penalised with this weight (0: none, the latents are the map alone): what the parameters cannot say."""
    residual_lr: float = 5e-2
    """The residuals' learning rate (each identity's is updated only in the steps that draw it)."""
    lr: float = 1e-3
    """Their learning rate."""


@dataclass
class GeneratorConfig:
    """Generator-stage options (decoder pre-training); the encoder stage ignores them and refuses
    ``generator.geometry``. The stage needs ``recon``, ``adv > 0`` or ``geometry``."""

    recon: ReconLossConfig | None = field(default_factory=ReconLossConfig)
    """Multi-view reconstruction (:class:`ReconLossConfig`; on by default; null: off)."""
    adv: float = 0.0
    """pi-GAN adversarial objective on random codes and poses (with ``loss.r1``)."""
    z_reg: float = 1e-3
    """Pull per-identity latents toward N(0, I)."""
    geometry: GeometryLossConfig | None = None
    """3D targets (:class:`GeometryLossConfig`; absent or null: off)."""
    latents: LatentsConfig = field(default_factory=LatentsConfig)
    """The per-identity latents."""
    density_lr_scale: float = 1.0
    """lr multiplier of the density read-out (its outputs reach ~100)."""


@dataclass
class OptimConfig:
    """Optimisers (Ranger = RAdam + Lookahead + gradient centralisation, as the official code)."""

    name: str = "ranger"
    """ranger | adam | adamw."""
    lr: float = 1e-4
    """Learning rate of the trained network (the encoder, or the generator stage's decoder)."""
    lr_dis: float = 2e-5
    """Learning rate of the patch discriminator."""
    scheduler: str = "none"
    """none | cosine (timm CosineLRScheduler semantics: lr_min = lr / 100)."""
    betas: list[float] = field(default_factory=lambda: [0.95, 0.999])
    """Adam betas."""
    weight_decay: float = 0.0
    """Weight decay (AdamW: 0 means the official 0.05)."""


@dataclass
class TrainLoopConfig:
    """Steps, batch, precision and how often to log, validate and save."""

    max_steps: int = 800_000
    """Optimiser steps."""
    batch_size: int = 1
    """Per process (the official code uses 1 per GPU on 8 GPUs)."""
    grad_accum: int = 1
    """Micro-batches per optimiser step."""
    mixed_precision: str = "no"
    """no | fp16 | bf16 (never bf16 on CPU: ~100x slower there)."""
    log_every: int = 50
    """Steps between lines of metrics.jsonl."""
    val_every: int = 2500
    """Steps between validations."""
    save_every: int = 20_000
    """Steps between checkpoints."""
    keep_checkpoints: int = 2
    """Checkpoints kept (the oldest are deleted)."""


# encoder.mask_realism above this is no longer a sloppy annotator: at 3 the per-class probabilities reach ~0.5 and the
# polygon tolerance (4.5 px of a 512 px mask) and vertex jitter (3 px) start to flatten eyes and lips of small masks.
MASK_REALISM_MAX = 3.0

# Keys of the flat layout (before the per-stage sections) -> their key now. A config that sets one is an error naming
# the new key; TrainConfig.flat gives the flat layout back from these (for the fingerprint).
_MOVED: dict[str, str] = {
    "loss.w_norm": "encoder.w_norm",
    "loss.gan": "encoder.gan",
    "loss.random_pose_prob": "encoder.random_pose_prob",
    "data.mask_realism": "encoder.mask_realism",
    "loss.latent": "encoder.latent.weight",
    "loss.latent_params": "encoder.latent.params",
    "train.latent_warmup_steps": "encoder.latent.warmup_steps",
    "data.latent_extra": "encoder.latent.extra.root",
    "loss.latent_extra_batch": "encoder.latent.extra.batch",
    "model.encoder_region_stats": "encoder.region_head",
    "model.encoder_region_grid": "encoder.region_head.grid",
    "loss.recon": "generator.recon.weight",
    "loss.recon_every": "generator.recon.every",
    "loss.adv": "generator.adv",
    "loss.z_reg": "generator.z_reg",
    "loss.geometry": "generator.geometry.weight",
    "loss.geometry_points": "generator.geometry.points",
    "loss.geometry_reach": "generator.geometry.reach",
    "loss.geometry_focus": "generator.geometry.focus",
    "optim.latent_init": "generator.latents.init",
    "optim.latent_linear": "generator.latents.linear",
    "optim.latent_residual": "generator.latents.residual",
    "optim.latent_residual_lr": "generator.latents.residual_lr",
    "optim.lr_latent": "generator.latents.lr",
    "optim.density_lr_scale": "generator.density_lr_scale",
    "loss.part_weight": "loss.part.weight",
    "loss.part_labels": "loss.part.labels",
}

# The flat layout's value of a moved key whose group is off (absent): the value that meant "off" there, or its default
# where the key had no effect while off.
_FLAT_OFF: dict[str, Any] = {
    "loss.latent": 0.0,
    "loss.latent_params": 0.0,
    "train.latent_warmup_steps": 0,
    "data.latent_extra": None,
    "loss.latent_extra_batch": 16,
    "model.encoder_region_stats": False,
    "model.encoder_region_grid": 0,
    "loss.recon": 0.0,
    "loss.recon_every": 1,
    "loss.geometry": 0.0,
    "loss.geometry_points": 2048,
    "loss.geometry_reach": 0.0,
    "loss.geometry_focus": 0.0,
    "loss.part_weight": 0.0,
    "loss.part_labels": None,
}

# Flat-layout keys added after the bundled model's runs were fingerprinted, with the value that means "off": a config
# with the key off hashes as if the key did not exist, so the bundled model's recorded fingerprints (training.json)
# are the shipped configs' and its runs resume.
_UNHASHED_WHEN_OFF: dict[str, Any] = {
    "loss.latent": 0.0,
    "loss.geometry_reach": 0.0,
    "loss.geometry_focus": 0.0,
    "optim.latent_init": "random",
    "optim.latent_linear": False,
    "optim.latent_residual": 0.0,
    "optim.latent_residual_lr": 5e-2,
    "loss.latent_extra_batch": 16,
    "data.latent_extra": None,
    "train.latent_warmup_steps": 0,
    "loss.part_labels": None,
    "loss.latent_params": 0.0,
    "model.encoder_region_stats": False,
    "model.encoder_region_grid": 0,
    "data.mask_realism": 0.0,
}

# Keys removed since (a config that sets one is an error saying why). The bundled encoder's fingerprint hashes the
# value its behaviour had then: see TrainConfig.fingerprint.
_REMOVED: dict[str, str] = {
    "loss.latent_target": "encoder.latent always regresses the read-out of the identity's code with the parameters "
                          "a mask cannot show at their mean (the former params_adjusted); the identity and params "
                          "targets were removed: delete the key",
    "optim.region_lr_scale": "the region head (encoder.region_head) always keeps its least-squares fit "
                             "(the former region_lr_scale=0): delete the key",
}


@dataclass
class TrainConfig:
    """The whole configuration of one training run."""

    stage: str = "encoder"
    """encoder | generator."""
    seed: int = 0
    """Seeds every random number of the run (with the step, micro-step and rank)."""
    output_dir: str = "runs/sem2nerf"
    """Where metrics, validation sheets, checkpoints and the export go."""
    decoder: str | None = None
    """Encoder stage: the frozen decoder folder (a generator-stage export or a converted pi-GAN)."""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainLoopConfig = field(default_factory=TrainLoopConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def flat(self) -> dict[str, Any]:
        """The config in the flat layout of before the per-stage sections (``to_dict`` of that layout: sections
        ``data``, ``model``, ``render``, ``loss``, ``optim``, ``train`` with their old keys; an option that is off has
        the value that meant off there). :meth:`fingerprint` hashes it."""
        tree, flat = self.to_dict(), self.to_dict()
        for new in _MOVED.values():  # what the flat layout did not have: the stage sections and loss.part
            section, key = new.split(".")[:2]
            if section in ("encoder", "generator"):
                flat.pop(section, None)
            else:
                flat[section].pop(key, None)
        for old, new in _MOVED.items():
            section, key = old.split(".")
            flat[section][key] = _flat_value(tree, new, _FLAT_OFF.get(old))
        return flat

    def fingerprint(self) -> str:
        """Hash of everything that defines the trained weights (not step counts, intervals or paths), of the
        :meth:`flat` layout: the same as before the per-stage sections."""
        d = self.flat()
        for key in ("output_dir",):
            d.pop(key)
        d["train"] = {k: v for k, v in d["train"].items() if k not in ("max_steps", "log_every", "val_every", "save_every", "keep_checkpoints")}
        d["data"] = {k: v for k, v in d["data"].items() if k not in ("root", "workers")}
        # the removed keys (_REMOVED) at the value that meant today's behaviour, where that was not their "off" value
        if d["loss"]["latent"] > 0:
            d["loss"]["latent_target"] = "params_adjusted"
        if d["model"]["encoder_region_stats"]:
            d["optim"]["region_lr_scale"] = 0.0
        for dotted, off in _UNHASHED_WHEN_OFF.items():
            section, key = dotted.split(".")
            if d[section].get(key) == off:
                d[section].pop(key)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def validate(self) -> None:
        """Raise :class:`ConfigError` for values that cannot work."""
        for check in (_check_choices, _check_ranges, _check_groups, _check_stage_options, _check_part_labels):
            check(self)


def _flat_value(tree: dict[str, Any], dotted: str, off: Any) -> Any:
    """The value at ``dotted`` in a nested ``to_dict`` (``off`` where a group on the way is off; ``True`` for a group
    that is on)."""
    node: Any = tree
    for part in dotted.split("."):
        if node is None:
            return off
        node = node[part]
    if node is None:
        return off
    return True if isinstance(node, dict) else node


def _check_choices(c: TrainConfig) -> None:
    """Names and fixed choices."""
    from ..domains import list_domains

    if c.stage not in ("encoder", "generator"):
        raise ConfigError(f"stage must be 'encoder' or 'generator', got {c.stage!r}")
    if c.data.domain not in list_domains():
        raise ConfigError(f"data.domain {c.data.domain!r} is unknown; known: {', '.join(list_domains())}")
    choices = {
        "train.mixed_precision": (c.train.mixed_precision, ("no", "fp16", "bf16")),
        "optim.name": (c.optim.name, ("ranger", "adam", "adamw")),
        "generator.latents.init": (c.generator.latents.init, ("random", "params")),
        "optim.scheduler": (c.optim.scheduler, ("none", "cosine")),
        "render.patch_mode": (c.render.patch_mode, ("independent", "official")),
    }
    for key, (value, allowed) in choices.items():
        if value not in allowed:
            raise ConfigError(f"{key} must be {', '.join(allowed[:-1])} or {allowed[-1]}, got {value!r}")


def _check_ranges(c: TrainConfig) -> None:
    """Numbers outside the groups that must be positive, non-negative or within a range."""
    if c.train.max_steps < 1 or c.train.batch_size < 1 or c.train.grad_accum < 1:
        raise ConfigError("train.max_steps, train.batch_size and train.grad_accum must be positive")
    res = c.render.patch_resolution
    if res < 16 or res & (res - 1):
        raise ConfigError(f"render.patch_resolution must be a power of two >= 16 (the patch discriminator halves it), got {res}")
    if not 0.0 <= c.encoder.mask_realism <= MASK_REALISM_MAX:
        raise ConfigError(f"encoder.mask_realism is a strength from 0 (off) to {MASK_REALISM_MAX:g} (1: the defaults of "
                          f"sem2nerf.training.augment.MaskRealism), got {c.encoder.mask_realism}")
    if not c.generator.latents.residual >= 0:
        raise ConfigError(f"generator.latents.residual must be >= 0, got {c.generator.latents.residual}")
    if c.generator.density_lr_scale <= 0:
        raise ConfigError(f"generator.density_lr_scale must be > 0, got {c.generator.density_lr_scale}")
    weights = {"loss": ("l2", "lpips", "r1", "silhouette"), "encoder": ("w_norm", "gan"), "generator": ("adv", "z_reg")}
    for section, names in weights.items():
        for name in names:
            if getattr(getattr(c, section), name) < 0:
                raise ConfigError(f"{section}.{name} must be >= 0")


def _check_groups(c: TrainConfig) -> None:
    """The settings of the option groups that are on (a group is off by being absent, so its weight must be > 0)."""
    e, g = c.encoder, c.generator
    for key, group in {"loss.part": c.loss.part, "encoder.latent": e.latent, "generator.recon": g.recon,
                       "generator.geometry": g.geometry}.items():
        if group is not None and not group.weight > 0:
            raise ConfigError(f"{key}.weight must be > 0, got {group.weight} (to switch {key} off, leave it out or set "
                              f"{key}=null)")
    at_least: dict[str, tuple[float, int]] = {}
    if e.latent is not None:
        at_least.update({"encoder.latent.params": (e.latent.params, 0), "encoder.latent.warmup_steps": (e.latent.warmup_steps, 0)})
        if e.latent.extra is not None:
            if not e.latent.extra.root:
                raise ConfigError("encoder.latent.extra.root must name a SynthFaces folder (or leave encoder.latent.extra out)")
            at_least["encoder.latent.extra.batch"] = (e.latent.extra.batch, 1)
    if e.region_head is not None:
        at_least["encoder.region_head.grid"] = (e.region_head.grid, 0)
    if g.recon is not None:
        at_least["generator.recon.every"] = (g.recon.every, 1)
    if g.geometry is not None:
        at_least.update({"generator.geometry.points": (g.geometry.points, 1), "generator.geometry.reach": (g.geometry.reach, 0)})
        if not 0.0 <= g.geometry.focus <= 1.0:
            raise ConfigError(f"generator.geometry.focus is a fraction of the near-surface points (0 to 1), got {g.geometry.focus}")
    for key, (value, low) in at_least.items():
        if value < low:
            raise ConfigError(f"{key} must be >= {low}, got {value}")


def _check_stage_options(c: TrainConfig) -> None:
    """Options of one stage set for the other, and options that need another ("X needs Y")."""
    from ..domains import get_domain

    encoder, e, g = c.stage == "encoder", c.encoder, c.generator
    if encoder and not c.decoder:
        raise ConfigError(
            "the encoder stage needs a frozen decoder: set decoder=<folder> (a generator-stage export, "
            "or an official pi-GAN checkpoint converted with `python -m sem2nerf convert`)"
        )
    if not encoder and g.recon is None and g.adv <= 0 and g.geometry is None:
        raise ConfigError("the generator stage needs generator.recon, generator.adv > 0 or generator.geometry")
    rules = [  # (set, what it needs, why)
        (e.latent is not None, encoder,
         "encoder.latent is an encoder-stage loss (it regresses the codes of the generator stage's identities): it needs stage=encoder"),
        (e.mask_realism > 0, encoder, "encoder.mask_realism augments the encoder's input masks: it needs stage=encoder"),
        (e.region_head is not None, encoder,
         "encoder.region_head is part of the encoder that the encoder stage trains: it needs stage=encoder"),
        (g.geometry is not None, not encoder,
         "generator.geometry is a generator-stage loss (the encoder stage trains through renders only): it needs stage=generator"),
        (c.loss.silhouette > 0 and not encoder, g.recon is not None,
         "loss.silhouette in the generator stage is on the reconstruction renders: it needs generator.recon"),
        (g.latents.linear, g.latents.init == "params",
         "generator.latents.linear maps the SynthFaces parameters to the latents: set generator.latents.init=params"),
        (g.latents.residual > 0, g.latents.linear,
         "generator.latents.residual is added to the linear map of the parameters: set generator.latents.linear=true"),
    ]
    for is_set, needs, why in rules:
        if is_set and not needs:
            raise ConfigError(why)
    if e.mask_realism > 0 and get_domain(c.data.domain).raw_scheme != "celebamask_hq_raw":
        raise ConfigError(f"encoder.mask_realism imitates CelebAMask-HQ annotations (raw ids 0-18): domain "
                          f"{c.data.domain} has masks of another scheme")


def _check_part_labels(c: TrainConfig) -> None:
    """``loss.part.labels``: class names of the domain's raw scheme."""
    if c.loss.part is None or c.loss.part.labels is None:
        return
    from ..domains import get_domain
    from ..labels import get_label_scheme

    labels = c.loss.part.labels
    if not isinstance(labels, list) or not labels:
        raise ConfigError(f"loss.part.labels must be a non-empty list of class names (null: the domain's small_parts), "
                          f"got {labels!r}")
    scheme = get_label_scheme(get_domain(c.data.domain).raw_scheme)
    unknown = [n for n in labels if n not in scheme.class_names]
    if unknown:
        raise ConfigError(f"loss.part.labels: {', '.join(map(str, unknown))} not in {scheme.name} "
                          f"(classes: {', '.join(scheme.class_names)})")


@functools.cache
def _fields_of(cls) -> dict[str, tuple[Any, type | None, bool]]:
    """Per field of a config dataclass: (its default, the dataclass it holds or None, whether it may be None)."""
    hints, defaults = typing.get_type_hints(cls), cls()
    out = {}
    for f in fields(cls):
        hint = hints[f.name]
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union else (hint,)
        group = next((a for a in args if dataclasses.is_dataclass(a)), None)
        out[f.name] = (getattr(defaults, f.name), group, type(None) in args)
    return out


def _field_at(dotted: str) -> tuple[type | None, bool]:
    """The dataclass a dotted key holds (None for a plain value) and whether it may be None (an option group)."""
    cls, group, optional = TrainConfig, None, False
    for part in dotted.split("."):
        _, group, optional = _fields_of(cls)[part]
        cls = group
    return group, optional


def _moved_message(old: str) -> str:
    new = _MOVED[old]
    parts = new.split(".")
    groups = [p for p in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if _field_at(p)[1]]
    if groups and groups[-1] == new:
        how = (f"config key {old} moved: the option is now the group {new}, on when present ({new}=true, or a mapping "
               f"of its keys) and off when absent or null")
    else:
        how = f"config key {old} moved to {new}"
        if groups:
            how += f" (the group {groups[0]} is on when present and off when absent or null)"
    return how + "; `python train_accelerate.py --help` shows the layout"


def _build(cls, values: dict[str, Any], where: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{where.rstrip('.') or 'the config'} must be a mapping, got {type(values).__name__}")
    known = _fields_of(cls)
    for name in values:
        if f"{where}{name}" in _REMOVED:
            raise ConfigError(f"config key {where}{name} was removed: {_REMOVED[f'{where}{name}']}")
        if f"{where}{name}" in _MOVED:
            raise ConfigError(_moved_message(f"{where}{name}"))
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(f'{where}{k}' for k in unknown)}; known: {', '.join(f'{where}{k}' for k in known)}")
    kwargs = {}
    for name, value in values.items():
        default, group, optional = known[name]
        key = f"{where}{name}"
        if group is None:
            kwargs[name] = _coerce(value, default, key)
        elif optional and (value is None or value is False):
            kwargs[name] = None  # an option group switched off
        elif optional and value is True:
            kwargs[name] = group()  # on, with its defaults
        elif optional and not isinstance(value, dict):
            raise ConfigError(f"{key} is an option group: a mapping of its keys, true (its defaults) or null (off), "
                              f"got {value!r}")
        else:
            kwargs[name] = _build(group, {} if value is None else value, f"{key}.")
    return cls(**kwargs)


def _coerce(value: Any, default: Any, key: str) -> Any:
    if value is None or default is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if isinstance(default, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, int) and isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(default, float) and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if isinstance(default, list) and isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(default, str) and isinstance(value, str):
        return value
    raise ConfigError(f"{key} must be a {type(default).__name__}, got {value!r}")


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``dotted`` in a YAML tree; a group on the way that is off (absent, null, true or false) becomes a mapping,
    so setting one of its keys switches it on."""
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if child is None or isinstance(child, bool):
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set {dotted}: {part} is not a section")
        node = child
    node[parts[-1]] = value


def apply_overrides(tree: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings (values parsed as YAML: ``loss.lpips=0``, ``model.encoder_depths=[2,2,2,2]``,
    ``encoder.latent.weight=1`` switches the group on, ``encoder.latent=null`` off)."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value (e.g. train.max_steps=1000)")
        key, raw = item.split("=", 1)
        try:
            value = _load_yaml(raw) if raw != "" else None
        except yaml.YAMLError as err:
            raise ConfigError(f"override {item!r}: cannot parse the value ({err})") from err
        _set(tree, key.strip(), value)
    return tree


def config_layout(width: int = 110) -> str:
    """The sections and keys of a config, one section a paragraph: ``name={keys}|null`` is an option group (on when
    present, off when absent or null)."""

    def keys(cls, sep: str) -> str:
        out = []
        for name, (_, group, optional) in _fields_of(cls).items():
            out.append(name if group is None else f"{name}={{{keys(group, ',~')}}}" + ("|null" if optional else ""))
        return sep.join(out)

    top = [name for name, (_, group, _) in _fields_of(TrainConfig).items() if group is None]
    lines = [f"top level: {', '.join(top)}"]
    for name, (_, group, _) in _fields_of(TrainConfig).items():
        if group is not None:  # "~" keeps a group's keys on one line
            lines.append(textwrap.fill(f"{name}: {keys(group, ', ')}", width, subsequent_indent="    ").replace("~", " "))
    return "\n".join(lines)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config (or start from the defaults), apply overrides, validate."""
    tree: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            tree = _load_yaml(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path} is not valid YAML: {err}") from err
    tree = apply_overrides(tree, overrides or [])
    config = _build(TrainConfig, tree, "")
    config.validate()
    return config
