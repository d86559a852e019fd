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
    domain: str = "celebamask_hq"
    train_list: str | None = "train_paths.txt"  # image ids, one per line (None: every image with a mask)
    val_list: str | None = "test_paths.txt"
    image_size: int = 512  # ground-truth side after the domain crop (official output_size with patch_train)
    latent_extra: str | None = None  # encoder stage: another SynthFaces folder whose masks feed loss.latent only
    mask_realism: float = 0.0  # encoder stage: make the encoder's input masks (training and latent_extra, never
                               # validation) look hand-annotated (sem2nerf.training.augment): 0 = off, 1 = MaskRealism's
                               # defaults, up to MASK_REALISM_MAX times as strong; seeded by (seed, item, epoch)
    workers: int = 2
    val_samples: int = 8


@dataclass
class ModelConfig:
    """Sem2NeRF constructor arguments (``decoder_*`` are the generator stage's new decoder; the encoder
    stage takes them from its decoder folder)."""

    use_contour: bool = True
    contour_skip: str = "background"  # deviation: the official code skips the smallest label ("smallest")
    encoder_size: int = 224
    encoder_patch_size: int = 4
    encoder_embed_dim: int = 96
    encoder_depths: list[int] = field(default_factory=lambda: [2, 2, 6, 2])
    encoder_num_heads: list[int] = field(default_factory=lambda: [3, 6, 12, 24])
    encoder_window_size: int = 7
    encoder_drop_path_rate: float = 0.2
    encoder_region_stats: bool = False  # deviation: a linear region head (class areas, centroids, spreads)
    decoder_hidden_dim: int = 256
    decoder_num_layers: int = 8
    decoder_z_dim: int = 256
    decoder_mapping_hidden_dim: int = 256
    decoder_mapping_depth: int = 3
    decoder_box_size: float = 0.24
    latent_avg_samples: int = 10000


@dataclass
class RenderConfig:
    """Training renders (official: 28 coarse samples, no hierarchy, no view locking, 128-ray patches)."""

    num_samples: int = 28
    hierarchical: bool = False
    lock_view_dependence: bool = False
    patch_resolution: int = 128
    min_scale: float = 0.125
    max_scale: float = 1.0
    anneal: float = 0.0019
    random_shift: bool = True
    patch_mode: str = "independent"  # deviation: "official" shares one scale per batch and shifts along the diagonal
    val_size: int = 128
    val_samples: int = 24


@dataclass
class LossConfig:
    """Loss weights. Encoder stage: official defaults; generator stage: ``recon``/``adv``/``z_reg``."""

    l2: float = 1.0
    lpips: float = 0.8
    w_norm: float = 0.005
    gan: float = 0.08
    r1: float = 10.0
    random_pose_prob: float | None = None  # None: the domain's (0.2 faces, 0.5 cats)
    recon: float = 1.0  # generator stage: multi-view reconstruction (needs identities.json)
    adv: float = 0.0  # generator stage: pi-GAN adversarial objective on random codes and poses
    z_reg: float = 1e-3  # generator stage: pull per-identity latents toward N(0, I)
    recon_every: int = 1  # generator stage: render the reconstruction loss on every k-th step only (geometry on all)
    geometry: float = 0.0  # generator stage on SynthFaces: 3D density/colour targets (sem2nerf.synthfaces.targets)
    geometry_points: int = 2048  # 3D points per item for loss.geometry
    geometry_reach: float = 0.0  # loss.geometry: a quarter of the points uniform in the ball of this radius (0: the box only)
    geometry_focus: float = 0.0  # loss.geometry: this fraction of the near-surface points around the eyes, brows and mouth
                                 # (SynthHead.detail_spheres; deviation: at 0.5 the eyes get ~30 x, eyes + brows + mouth ~12 x the points)
    silhouette: float = 0.0  # both stages: rendered opacity vs the mask's foreground at its pose (background rays stay empty)
    latent: float = 0.0  # encoder stage: regress the FiLM codes of the generator stage's identity latents (deviation)
    latent_target: str = "identity"  # loss.latent regresses: identity = each identity's code; params = its linear read-out
                                     # from the identity's mask-visible SynthFaces parameters (the part a mask can tell);
                                     # params_adjusted = the same fitted on every parameter (colours as covariates) and
                                     # read out with the mask-invisible ones at their mean: far less noise from colours
    latent_params: float = 0.0  # encoder stage, latent_target params/params_adjusted: loss.latent also weighs, this many
                                # times, the code error mapped back to the read-out's standardised parameters, so a
                                # small part's parameter (eye size) counts as much as hair length (0: the code error only)
    latent_extra_batch: int = 16  # masks of data.latent_extra per step (their targets are the params read-out)
    part_weight: float = 0.0  # both stages: pixels of loss.part_labels weigh 1 + part_weight in the L2 (deviation;
                              # 0: the plain mean). Small parts (eyes, mouth) are ~2 % of a frame and the L2 barely sees them
    part_labels: list[str] | None = None  # raw-scheme class names for loss.part_weight (None: the domain's small_parts)


# Config keys added after runs were checkpointed, with the value that means "off": a config with the key off
# has the fingerprint it had before the key existed, so those runs still resume.
_ADDED_LATER: dict[tuple[str, str], Any] = {
    ("loss", "latent"): 0.0,
    ("loss", "geometry_reach"): 0.0,
    ("loss", "geometry_focus"): 0.0,
    ("loss", "silhouette"): 0.0,
    ("optim", "latent_init"): "random",
    ("optim", "latent_linear"): False,
    ("loss", "latent_target"): "identity",
    ("loss", "latent_extra_batch"): 16,
    ("data", "latent_extra"): None,
    ("train", "latent_warmup_steps"): 0,
    ("loss", "part_weight"): 0.0,
    ("loss", "part_labels"): None,
    ("loss", "latent_params"): 0.0,
    ("model", "encoder_region_stats"): False,
    ("optim", "region_lr_scale"): 1.0,
    ("data", "mask_realism"): 0.0,
}

# data.mask_realism above this is no longer a sloppy annotator: at 3 the per-class probabilities reach ~0.5 and the
# polygon tolerance (4.5 px of a 512 px mask) and vertex jitter (3 px) start to flatten eyes and lips of small masks.
MASK_REALISM_MAX = 3.0


@dataclass
class OptimConfig:
    """Optimisers (Ranger = RAdam + Lookahead + gradient centralisation, as the official code)."""

    name: str = "ranger"  # ranger | adam | adamw
    lr: float = 1e-4
    lr_dis: float = 2e-5
    lr_latent: float = 1e-3  # generator stage: per-identity latents
    latent_init: str = "random"  # generator stage: per-identity latents start at N(0, I) or at a projection of the SynthFaces parameters (params)
    latent_linear: bool = False  # generator stage, latent_init=params: the latents stay a learned linear map of the parameters
                                 # (deviation: no per-identity freedom, so each parameter has one exact direction in z)
    density_lr_scale: float = 1.0  # generator stage: lr multiplier of the density read-out (its outputs reach ~100)
    region_lr_scale: float = 1.0  # encoder stage: lr multiplier of the region head (0: it keeps its least-squares fit)
    scheduler: str = "none"  # none | cosine (timm CosineLRScheduler semantics: lr_min = lr / 100)
    betas: list[float] = field(default_factory=lambda: [0.95, 0.999])
    weight_decay: float = 0.0


@dataclass
class TrainLoopConfig:
    """Steps, batch, precision and how often to log, validate and save."""

    max_steps: int = 800_000
    batch_size: int = 1  # per process (the official code uses 1 per GPU on 8 GPUs)
    grad_accum: int = 1
    mixed_precision: str = "no"  # no | fp16 | bf16 (never bf16 on CPU: ~100x slower there)
    latent_warmup_steps: int = 0  # encoder stage: the first steps train loss.latent (and W-norm) only: no renders, no GAN
    log_every: int = 50
    val_every: int = 2500
    save_every: int = 20_000
    keep_checkpoints: int = 2


@dataclass
class TrainConfig:
    """The whole configuration of one training run."""

    stage: str = "encoder"  # encoder | generator
    seed: int = 0
    output_dir: str = "runs/sem2nerf"
    decoder: str | None = None  # encoder stage: decoder folder (generator-stage export or converted pi-GAN)
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
        for (section, key), off in _ADDED_LATER.items():  # keys added after runs were written: off = not there
            if d[section].get(key) == off:
                d[section].pop(key)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def validate(self) -> None:
        """Raise :class:`ConfigError` for values that cannot work."""
        from ..domains import list_domains

        if self.stage not in ("encoder", "generator"):
            raise ConfigError(f"stage must be 'encoder' or 'generator', got {self.stage!r}")
        if self.data.domain not in list_domains():
            raise ConfigError(f"data.domain {self.data.domain!r} is unknown; known: {', '.join(list_domains())}")
        if self.stage == "encoder" and not self.decoder:
            raise ConfigError(
                "the encoder stage needs a frozen decoder: set decoder=<folder> (a generator-stage export, "
                "or an official pi-GAN checkpoint converted with `python -m sem2nerf convert`)"
            )
        if self.train.max_steps < 1 or self.train.batch_size < 1 or self.train.grad_accum < 1:
            raise ConfigError("train.max_steps, train.batch_size and train.grad_accum must be positive")
        if self.train.mixed_precision not in ("no", "fp16", "bf16"):
            raise ConfigError(f"train.mixed_precision must be no, fp16 or bf16, got {self.train.mixed_precision!r}")
        if self.optim.name not in ("ranger", "adam", "adamw"):
            raise ConfigError(f"optim.name must be ranger, adam or adamw, got {self.optim.name!r}")
        if self.optim.latent_init not in ("random", "params"):
            raise ConfigError(f"optim.latent_init must be random or params, got {self.optim.latent_init!r}")
        if self.optim.latent_linear and self.optim.latent_init != "params":
            raise ConfigError("optim.latent_linear maps the SynthFaces parameters to the latents: set optim.latent_init=params")
        if self.optim.scheduler not in ("none", "cosine"):
            raise ConfigError(f"optim.scheduler must be none or cosine, got {self.optim.scheduler!r}")
        if self.render.patch_mode not in ("independent", "official"):
            raise ConfigError(f"render.patch_mode must be independent or official, got {self.render.patch_mode!r}")
        res = self.render.patch_resolution
        if res < 16 or res & (res - 1):
            raise ConfigError(f"render.patch_resolution must be a power of two >= 16 (the patch discriminator halves it), got {res}")
        if self.stage == "generator" and self.loss.recon <= 0 and self.loss.adv <= 0 and self.loss.geometry <= 0:
            raise ConfigError("the generator stage needs loss.recon > 0, loss.adv > 0 or loss.geometry > 0")
        if self.loss.latent > 0 and self.stage != "encoder":
            raise ConfigError("loss.latent is an encoder-stage loss (it regresses the codes of the generator stage's identities)")
        if self.loss.latent_target not in ("identity", "params", "params_adjusted"):
            raise ConfigError(f"loss.latent_target must be identity, params or params_adjusted, got {self.loss.latent_target!r}")
        if self.data.latent_extra and (self.loss.latent <= 0 or self.loss.latent_target == "identity"):
            raise ConfigError("data.latent_extra feeds loss.latent with read-out targets: it needs loss.latent > 0 and "
                              "loss.latent_target=params or params_adjusted (other identities have no code of their own)")
        if not 0.0 <= self.data.mask_realism <= MASK_REALISM_MAX:
            raise ConfigError(f"data.mask_realism is a strength from 0 (off) to {MASK_REALISM_MAX:g} (1: the defaults of "
                              f"sem2nerf.training.augment.MaskRealism), got {self.data.mask_realism}")
        if self.data.mask_realism > 0:
            from ..domains import get_domain

            if self.stage != "encoder":
                raise ConfigError("data.mask_realism augments the encoder's input masks: it needs stage=encoder")
            if get_domain(self.data.domain).raw_scheme != "celebamask_hq_raw":
                raise ConfigError(f"data.mask_realism imitates CelebAMask-HQ annotations (raw ids 0-18): domain "
                                  f"{self.data.domain} has masks of another scheme")
        if self.loss.latent_params < 0:
            raise ConfigError(f"loss.latent_params must be >= 0, got {self.loss.latent_params}")
        if self.loss.latent_params > 0 and (self.loss.latent <= 0 or self.loss.latent_target == "identity"):
            raise ConfigError("loss.latent_params maps code errors to the read-out's parameters: it needs loss.latent > 0 and "
                              "loss.latent_target=params or params_adjusted")
        if self.train.latent_warmup_steps < 0:
            raise ConfigError(f"train.latent_warmup_steps must be >= 0, got {self.train.latent_warmup_steps}")
        if self.train.latent_warmup_steps > 0 and (self.stage != "encoder" or self.loss.latent <= 0):
            raise ConfigError("train.latent_warmup_steps trains the encoder stage on loss.latent alone: it needs "
                              "stage=encoder and loss.latent > 0")
        if self.loss.latent_extra_batch < 1:
            raise ConfigError(f"loss.latent_extra_batch must be >= 1, got {self.loss.latent_extra_batch}")
        if self.loss.silhouette > 0 and self.stage == "generator" and self.loss.recon <= 0:
            raise ConfigError("loss.silhouette in the generator stage is on the reconstruction renders (needs loss.recon > 0)")
        if self.loss.geometry > 0 and self.stage != "generator":
            raise ConfigError("loss.geometry is a generator-stage loss (the encoder stage trains through renders only)")
        if not 0.0 <= self.loss.geometry_focus <= 1.0:
            raise ConfigError(f"loss.geometry_focus is a fraction of the near-surface points (0 to 1), got {self.loss.geometry_focus}")
        if self.loss.geometry > 0 and self.loss.geometry_points < 1:
            raise ConfigError(f"loss.geometry_points must be >= 1 when loss.geometry > 0, got {self.loss.geometry_points}")
        if self.loss.recon_every < 1:
            raise ConfigError(f"loss.recon_every must be >= 1, got {self.loss.recon_every}")
        if self.optim.region_lr_scale < 0:
            raise ConfigError(f"optim.region_lr_scale must be >= 0, got {self.optim.region_lr_scale}")
        if self.optim.region_lr_scale != 1.0 and not self.model.encoder_region_stats:
            raise ConfigError("optim.region_lr_scale needs the region head: set model.encoder_region_stats=true")
        if self.optim.density_lr_scale <= 0:
            raise ConfigError(f"optim.density_lr_scale must be > 0, got {self.optim.density_lr_scale}")
        if self.loss.part_labels is not None:
            from ..domains import get_domain
            from ..labels import get_label_scheme

            if self.loss.part_weight <= 0:
                raise ConfigError("loss.part_labels names the pixels loss.part_weight weighs up: set loss.part_weight > 0")
            if not isinstance(self.loss.part_labels, list) or not self.loss.part_labels:
                raise ConfigError(f"loss.part_labels must be a non-empty list of class names, got {self.loss.part_labels!r}")
            scheme = get_label_scheme(get_domain(self.data.domain).raw_scheme)
            unknown = [n for n in self.loss.part_labels if n not in scheme.class_names]
            if unknown:
                raise ConfigError(f"loss.part_labels: {', '.join(map(str, unknown))} not in {scheme.name} "
                                  f"(classes: {', '.join(scheme.class_names)})")
        for name in ("l2", "lpips", "w_norm", "gan", "r1", "recon", "adv", "z_reg", "geometry", "latent", "geometry_reach",
                     "silhouette", "part_weight"):
            if getattr(self.loss, name) < 0:
                raise ConfigError(f"loss.{name} must be >= 0")


def _build(cls, values: dict[str, Any], where: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{where or 'the config'} must be a mapping, got {type(values).__name__}")
    known = {f.name: f for f in fields(cls)}
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
