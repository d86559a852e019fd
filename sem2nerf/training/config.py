"""Training configuration: typed sections, YAML files and ``key.sub=value`` command-line overrides.

Defaults are the official Sem2NeRF training options (official-sem2nerf.md 3 and 6) for the encoder
stage on CelebAMask-HQ. Unknown keys are errors (a typo never silently trains with a default).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

__all__ = ["MASK_REALISM_MAX", "ConfigError", "TrainConfig", "apply_overrides", "load_config"]


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
    latent_extra: str | None = None
    """Encoder stage, with ``loss.latent``: another SynthFaces folder whose masks feed ``loss.latent`` only (deviation)."""
    mask_realism: float = 0.0
    """Encoder stage: make the encoder's input masks (training and ``latent_extra``, never validation) look
    hand-annotated (``sem2nerf.training.augment``): 0 = off, 1 = MaskRealism's defaults, up to ``MASK_REALISM_MAX``
    times as strong; seeded by (seed, item, epoch)."""
    workers: int = 2
    """DataLoader worker processes (0: load in the training process)."""
    val_samples: int = 8
    """Validation items (each rendered at its pose and two novel yaws)."""


@dataclass
class ModelConfig:
    """Sem2NeRF constructor arguments (``decoder_*`` are the generator stage's new decoder; the encoder stage checks
    them against its decoder folder)."""

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
    encoder_region_stats: bool = False
    """Encoder stage (deviation): a linear region head on each class's area, centroid and spread, fitted by least
    squares before the first step and kept at that fit; its inputs and output are clamped to their range over the
    training masks."""
    encoder_region_grid: int = 0
    """Encoder stage, with ``encoder_region_stats`` (deviation): the region head also reads each class's coverage of
    a grid of this many x this many cells (the outline of hair, face and clothes, not just their extent; 0: the
    five statistics alone)."""
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
class LossConfig:
    """Loss weights (0: off). Encoder stage: ``l2``, ``lpips``, ``w_norm``, ``gan``, ``r1``, ``random_pose_prob`` (the
    paper's), ``silhouette``, ``part_weight``, ``latent``; generator stage: ``recon`` (with ``l2`` / ``lpips``),
    ``adv`` (with ``r1``), ``z_reg``, ``geometry``, ``silhouette``, ``part_weight``."""

    l2: float = 1.0
    """Both stages: patch L2."""
    lpips: float = 0.8
    """Both stages: patch LPIPS (AlexNet; needs torchvision's ImageNet AlexNet weights)."""
    w_norm: float = 0.005
    """Encoder stage: W-norm of the predicted code offsets."""
    gan: float = 0.08
    """Encoder stage: patch GAN."""
    r1: float = 10.0
    """Both stages: R1 penalty of the patch discriminator."""
    random_pose_prob: float | None = None
    """Encoder stage: probability of a GAN-only step at a random pose (None: the domain's, 0.2 faces, 0.5 cats)."""
    recon: float = 1.0
    """Generator stage: multi-view reconstruction through per-identity latents (needs identities.json); scales l2
    and lpips."""
    adv: float = 0.0
    """Generator stage: pi-GAN adversarial objective on random codes and poses."""
    z_reg: float = 1e-3
    """Generator stage: pull per-identity latents toward N(0, I)."""
    recon_every: int = 1
    """Generator stage: render the reconstruction loss on every k-th step only (geometry on all)."""
    geometry: float = 0.0
    """Generator stage on SynthFaces: 3D density/colour targets (``sem2nerf.synthfaces.targets``)."""
    geometry_points: int = 2048
    """3D points per item for ``loss.geometry``."""
    geometry_reach: float = 0.0
    """``loss.geometry``: a quarter of the points uniform in the ball of this radius (0: the box only)."""
    geometry_focus: float = 0.0
    """``loss.geometry``: this fraction of the near-surface points around the eyes, brows and mouth
    (``SynthHead.detail_spheres``; deviation: at 0.5 the eyes get ~30 x, eyes + brows + mouth ~12 x the points)."""
    silhouette: float = 0.0
    """Both stages: rendered opacity vs the mask's foreground at its pose (background rays stay empty)."""
    latent: float = 0.0
    """Encoder stage (deviation): regress each mask's code to the linear read-out of its identity's generator-stage
    code from the identity's SynthFaces parameters, fitted on all of them and read out with those a mask cannot
    show (colours) at their mean (needs the decoder folder's identity latents)."""
    latent_params: float = 0.0
    """Encoder stage, with ``loss.latent``: also weigh, this many times, the code error mapped back to the read-out's
    standardised parameters, so a small part's parameter (eye size) counts as much as hair length (0: the code
    error only)."""
    latent_extra_batch: int = 16
    """Masks of ``data.latent_extra`` per step."""
    part_weight: float = 0.0
    """Both stages (deviation): pixels of ``loss.part_labels`` weigh 1 + part_weight in the L2 (0: the plain mean).
    Small parts (eyes, mouth) are ~2 % of a frame and the L2 barely sees them."""
    part_labels: list[str] | None = None
    """Raw-scheme class names for ``loss.part_weight`` (None: the domain's small_parts)."""


@dataclass
class OptimConfig:
    """Optimisers (Ranger = RAdam + Lookahead + gradient centralisation, as the official code)."""

    name: str = "ranger"
    """ranger | adam | adamw."""
    lr: float = 1e-4
    """Learning rate of the trained network (the encoder, or the generator stage's decoder)."""
    lr_dis: float = 2e-5
    """Learning rate of the patch discriminator."""
    lr_latent: float = 1e-3
    """Generator stage: learning rate of the per-identity latents."""
    latent_init: str = "random"
    """Generator stage: per-identity latents start at N(0, I) (``random``) or at a projection of the SynthFaces
    parameters (``params``)."""
    latent_linear: bool = False
    """Generator stage, ``latent_init=params``: the latents stay a learned linear map of the parameters (deviation:
    no per-identity freedom, so each parameter has one exact direction in z)."""
    density_lr_scale: float = 1.0
    """Generator stage: lr multiplier of the density read-out (its outputs reach ~100)."""
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
    latent_warmup_steps: int = 0
    """Encoder stage, with ``loss.latent``: the first steps train ``loss.latent`` (and W-norm) only: no renders, no GAN."""
    log_every: int = 50
    """Steps between lines of metrics.jsonl."""
    val_every: int = 2500
    """Steps between validations."""
    save_every: int = 20_000
    """Steps between checkpoints."""
    keep_checkpoints: int = 2
    """Checkpoints kept (the oldest are deleted)."""


# data.mask_realism above this is no longer a sloppy annotator: at 3 the per-class probabilities reach ~0.5 and the
# polygon tolerance (4.5 px of a 512 px mask) and vertex jitter (3 px) start to flatten eyes and lips of small masks.
MASK_REALISM_MAX = 3.0

# Keys added after the bundled model's runs were fingerprinted, with the value that means "off": a config with the
# key off hashes as if the key did not exist, so the bundled model's recorded fingerprints (training.json) are the
# shipped configs' and its runs resume.
_UNHASHED_WHEN_OFF: dict[tuple[str, str], Any] = {
    ("loss", "latent"): 0.0,
    ("loss", "geometry_reach"): 0.0,
    ("loss", "geometry_focus"): 0.0,
    ("optim", "latent_init"): "random",
    ("optim", "latent_linear"): False,
    ("loss", "latent_extra_batch"): 16,
    ("data", "latent_extra"): None,
    ("train", "latent_warmup_steps"): 0,
    ("loss", "part_labels"): None,
    ("loss", "latent_params"): 0.0,
    ("model", "encoder_region_stats"): False,
    ("model", "encoder_region_grid"): 0,
    ("data", "mask_realism"): 0.0,
}

# Keys removed since (a config that sets one is an error saying why). The bundled encoder's fingerprint hashes the
# value its behaviour had then: see TrainConfig.fingerprint.
_REMOVED: dict[tuple[str, str], str] = {
    ("loss", "latent_target"): "loss.latent always regresses the read-out of the identity's code with the parameters "
                               "a mask cannot show at their mean (the former params_adjusted); the identity and params "
                               "targets were removed: delete the key",
    ("optim", "region_lr_scale"): "the region head (model.encoder_region_stats) always keeps its least-squares fit "
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
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainLoopConfig = field(default_factory=TrainLoopConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fingerprint(self) -> str:
        """Hash of everything that defines the trained weights (not step counts, intervals or paths)."""
        d = self.to_dict()
        for key in ("output_dir",):
            d.pop(key)
        d["train"] = {k: v for k, v in d["train"].items() if k not in ("max_steps", "log_every", "val_every", "save_every", "keep_checkpoints")}
        d["data"] = {k: v for k, v in d["data"].items() if k not in ("root", "workers")}
        # the removed keys (_REMOVED) at the value that meant today's behaviour, where that was not their "off" value
        if self.loss.latent > 0:
            d["loss"]["latent_target"] = "params_adjusted"
        if self.model.encoder_region_stats:
            d["optim"]["region_lr_scale"] = 0.0
        for (section, key), off in _UNHASHED_WHEN_OFF.items():
            if d[section].get(key) == off:
                d[section].pop(key)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def validate(self) -> None:
        """Raise :class:`ConfigError` for values that cannot work."""
        for check in (_check_choices, _check_ranges, _check_stage_options, _check_part_labels):
            check(self)


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
        "optim.latent_init": (c.optim.latent_init, ("random", "params")),
        "optim.scheduler": (c.optim.scheduler, ("none", "cosine")),
        "render.patch_mode": (c.render.patch_mode, ("independent", "official")),
    }
    for key, (value, allowed) in choices.items():
        if value not in allowed:
            raise ConfigError(f"{key} must be {', '.join(allowed[:-1])} or {allowed[-1]}, got {value!r}")


def _check_ranges(c: TrainConfig) -> None:
    """Numbers that must be positive, non-negative or within a range."""
    if c.train.max_steps < 1 or c.train.batch_size < 1 or c.train.grad_accum < 1:
        raise ConfigError("train.max_steps, train.batch_size and train.grad_accum must be positive")
    res = c.render.patch_resolution
    if res < 16 or res & (res - 1):
        raise ConfigError(f"render.patch_resolution must be a power of two >= 16 (the patch discriminator halves it), got {res}")
    if not 0.0 <= c.data.mask_realism <= MASK_REALISM_MAX:
        raise ConfigError(f"data.mask_realism is a strength from 0 (off) to {MASK_REALISM_MAX:g} (1: the defaults of "
                          f"sem2nerf.training.augment.MaskRealism), got {c.data.mask_realism}")
    if not 0.0 <= c.loss.geometry_focus <= 1.0:
        raise ConfigError(f"loss.geometry_focus is a fraction of the near-surface points (0 to 1), got {c.loss.geometry_focus}")
    at_least = {"loss.latent_params": (c.loss.latent_params, 0), "train.latent_warmup_steps": (c.train.latent_warmup_steps, 0),
                "loss.latent_extra_batch": (c.loss.latent_extra_batch, 1), "loss.recon_every": (c.loss.recon_every, 1)}
    for key, (value, low) in at_least.items():
        if value < low:
            raise ConfigError(f"{key} must be >= {low}, got {value}")
    if c.loss.geometry > 0 and c.loss.geometry_points < 1:
        raise ConfigError(f"loss.geometry_points must be >= 1 when loss.geometry > 0, got {c.loss.geometry_points}")
    if c.optim.density_lr_scale <= 0:
        raise ConfigError(f"optim.density_lr_scale must be > 0, got {c.optim.density_lr_scale}")
    for name in ("l2", "lpips", "w_norm", "gan", "r1", "recon", "adv", "z_reg", "geometry", "latent", "geometry_reach",
                 "silhouette", "part_weight"):
        if getattr(c.loss, name) < 0:
            raise ConfigError(f"loss.{name} must be >= 0")


def _check_stage_options(c: TrainConfig) -> None:
    """Options of one stage, and options that need another ("X needs Y")."""
    from ..domains import get_domain

    encoder, loss = c.stage == "encoder", c.loss
    if encoder and not c.decoder:
        raise ConfigError(
            "the encoder stage needs a frozen decoder: set decoder=<folder> (a generator-stage export, "
            "or an official pi-GAN checkpoint converted with `python -m sem2nerf convert`)"
        )
    if not encoder and loss.recon <= 0 and loss.adv <= 0 and loss.geometry <= 0:
        raise ConfigError("the generator stage needs loss.recon > 0, loss.adv > 0 or loss.geometry > 0")
    rules = [  # (set, what it needs, why)
        (loss.latent > 0, encoder,
         "loss.latent is an encoder-stage loss (it regresses the codes of the generator stage's identities)"),
        (bool(c.data.latent_extra), loss.latent > 0,
         "data.latent_extra feeds loss.latent with read-out targets: it needs loss.latent > 0"),
        (loss.latent_params > 0, loss.latent > 0,
         "loss.latent_params maps code errors to the read-out's parameters: it needs loss.latent > 0"),
        (c.train.latent_warmup_steps > 0, encoder and loss.latent > 0,
         "train.latent_warmup_steps trains the encoder stage on loss.latent alone: it needs stage=encoder and loss.latent > 0"),
        (c.data.mask_realism > 0, encoder, "data.mask_realism augments the encoder's input masks: it needs stage=encoder"),
        (loss.silhouette > 0 and not encoder, loss.recon > 0,
         "loss.silhouette in the generator stage is on the reconstruction renders (needs loss.recon > 0)"),
        (loss.geometry > 0, not encoder,
         "loss.geometry is a generator-stage loss (the encoder stage trains through renders only)"),
        (c.model.encoder_region_grid > 0, c.model.encoder_region_stats,
         "model.encoder_region_grid adds cells to the region head: set model.encoder_region_stats=true"),
        (c.optim.latent_linear, c.optim.latent_init == "params",
         "optim.latent_linear maps the SynthFaces parameters to the latents: set optim.latent_init=params"),
    ]
    for is_set, needs, why in rules:
        if is_set and not needs:
            raise ConfigError(why)
    if c.data.mask_realism > 0 and get_domain(c.data.domain).raw_scheme != "celebamask_hq_raw":
        raise ConfigError(f"data.mask_realism imitates CelebAMask-HQ annotations (raw ids 0-18): domain "
                          f"{c.data.domain} has masks of another scheme")


def _check_part_labels(c: TrainConfig) -> None:
    """``loss.part_labels``: class names of the domain's raw scheme, for ``loss.part_weight``."""
    if c.loss.part_labels is None:
        return
    from ..domains import get_domain
    from ..labels import get_label_scheme

    if c.loss.part_weight <= 0:
        raise ConfigError("loss.part_labels names the pixels loss.part_weight weighs up: set loss.part_weight > 0")
    if not isinstance(c.loss.part_labels, list) or not c.loss.part_labels:
        raise ConfigError(f"loss.part_labels must be a non-empty list of class names, got {c.loss.part_labels!r}")
    scheme = get_label_scheme(get_domain(c.data.domain).raw_scheme)
    unknown = [n for n in c.loss.part_labels if n not in scheme.class_names]
    if unknown:
        raise ConfigError(f"loss.part_labels: {', '.join(map(str, unknown))} not in {scheme.name} "
                          f"(classes: {', '.join(scheme.class_names)})")


def _build(cls, values: dict[str, Any], where: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{where or 'the config'} must be a mapping, got {type(values).__name__}")
    known = {f.name: f for f in fields(cls)}
    for name in values:
        if (where.rstrip("."), name) in _REMOVED:
            raise ConfigError(f"config key {where}{name} was removed: {_REMOVED[where.rstrip('.'), name]}")
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(f'{where}{k}' for k in unknown)}; known: {', '.join(f'{where}{k}' for k in known)}")
    defaults = cls()
    kwargs = {}
    for name, value in values.items():
        default = getattr(defaults, name)
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value or {}, f"{where}{name}.")
        else:
            kwargs[name] = _coerce(value, default, f"{where}{name}")
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
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot set {dotted}: {part} is not a section")
    node[parts[-1]] = value


def apply_overrides(tree: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings (values parsed as YAML: ``loss.lpips=0``, ``model.encoder_depths=[2,2,2,2]``)."""
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
