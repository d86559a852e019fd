"""The training loop of both stages, on Accelerate (one CPU to many GPUs).

* **encoder stage** (the paper): a frozen decoder; the Swin encoder learns to predict FiLM codes
  from masks, supervised on region-aware patches (L2, LPIPS, W-norm, patch GAN with R1,
  random-pose GAN-only steps); optionally a regression of codes (``loss.latent``, with code-only warm-up steps).
* **generator stage**: trains a pi-GAN decoder for a new domain, with multi-view reconstruction
  through per-identity latents (data with several views per identity, e.g. SynthFaces) and/or the
  pi-GAN adversarial objective on random codes and poses. Its export is a decoder folder.

Every random number of a step comes from generators seeded by ``(seed, step, micro-step, rank)``
and batches from :class:`~sem2nerf.training.data.StepBatchSampler`, so ``--resume`` continues
exactly where the run stopped.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from PIL import Image
from torch import nn

from ..camera import LOCKED_VIEW_DIRECTION, PatchSchedule, angles_to_renderer, camera_to_world, sample_patch_pattern
from ..decoder import PiGANDecoder
from ..decoder_folder import DECODER_KEYS, IDENTITY_LATENTS_NAME, load_decoder, load_identity_latents, save_decoder
from ..domains import get_domain
from ..encoder import region_statistics
from ..labels import get_label_scheme
from ..model import Sem2NeRF, _weights_follow, to_pil
from ..renderer import RenderOptions, render_patch, render_poses
from ..trajectories import Pose
from .config import ConfigError, TrainConfig
from .data import MaskImageDataset, StepBatchSampler
from .losses import PatchDiscriminator, d_loss_nonsaturating, g_loss_nonsaturating, load_lpips, r1_penalty, w_norm
from .optim import learning_rate, make_optimizer, set_learning_rate

__all__ = ["EncoderStage", "GeneratorStage", "train"]

STATE_FILE = "train_state.json"
CONFIG_FILE = "config.yaml"
NOVEL_YAWS = (-25.0, 25.0)


class EncoderStage(nn.Module):
    """Mask encoder input -> rendered patch, through the trainable encoder and the frozen decoder."""

    def __init__(self, model: Sem2NeRF, opts: RenderOptions, full_size: int) -> None:
        super().__init__()
        self.model, self.opts, self.full_size = model, opts, full_size

    def forward(self, x, cam2world, pattern, generator=None, extra_x=None):
        """Render the codes of ``x`` at ``cam2world`` (``None``: no render, rgb and opacity are ``None``); ``extra_x``
        (masks for ``loss.latent`` only) is encoded in the same call but not rendered. Returns (rgb, opacity, delta_f,
        delta_p) with the deltas of ``x`` then ``extra_x``."""
        b = x.shape[0]
        delta_f, delta_p = self.model.encoder.encode(x if extra_x is None else torch.cat((x, extra_x)))
        if cam2world is None:  # codes only (train.latent_warmup_steps)
            return None, None, delta_f, delta_p
        freq, phase = delta_f[:b] + self.model.latent_avg_freq, delta_p[:b] + self.model.latent_avg_phase
        locked = LOCKED_VIEW_DIRECTION if self.opts.lock_view_dependence else None
        field = self.model.decoder.modulate(freq, phase, locked)
        out = render_patch(field, cam2world, pattern, self.full_size, self.model.fov, self.opts, generator)
        return out.rgb, out.opacity, delta_f, delta_p


class LinearLatents(nn.Module):
    """Identity latents that are a learned linear map of fixed per-identity features: ``z_i = features_i @ W``.

    Called with identity indices like an ``nn.Embedding``; ``weight`` is the ``(num_identities, z_dim)`` table.
    Every identity's latent moves with ``W``, so each feature has one direction in z shared by all identities.
    """

    def __init__(self, features: torch.Tensor, projection: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("features", features.float().clone())
        self.map = nn.Parameter(projection.float().clone())

    @property
    def weight(self) -> torch.Tensor:
        return self.features @ self.map

    def forward(self, identity: torch.Tensor) -> torch.Tensor:
        return self.features[identity] @ self.map


class GeneratorStage(nn.Module):
    """Latents (per-identity embeddings and/or random z) -> rendered patches, through a trainable decoder."""

    def __init__(self, decoder: PiGANDecoder, num_identities: int, opts: RenderOptions, full_size: int, fov: float, seed: int,
                 features: torch.Tensor | None = None, linear: bool = False) -> None:
        """``features`` ``(num_identities, F)`` (standardised): latents start at their fixed random projection to
        ``z_dim`` (unit variance), so that similar identities start with similar codes; ``None``: N(0, I).
        ``linear`` (with ``features``): the latents stay a learned linear map of the features (:class:`LinearLatents`)."""
        super().__init__()
        self.decoder, self.opts, self.full_size, self.fov = decoder, opts, full_size, fov
        self.latents = None
        if linear and features is None:
            raise ValueError("linear latents need the identities' features")
        if num_identities > 0:
            gen = torch.Generator().manual_seed(seed)
            if features is None:
                self.latents = nn.Embedding(num_identities, decoder.z_dim)
                with torch.no_grad():
                    self.latents.weight.copy_(torch.randn(num_identities, decoder.z_dim, generator=gen))
                return
            projection = torch.randn(features.shape[1], decoder.z_dim, generator=gen) / features.shape[1] ** 0.5
            if linear:
                self.latents = LinearLatents(features, projection)
            else:
                self.latents = nn.Embedding(num_identities, decoder.z_dim)
                with torch.no_grad():
                    self.latents.weight.copy_(features.float() @ projection)

    def forward(self, identity, z_random, cam2world, pattern, generator=None, points=None):
        """Patches rendered for ``[identity latents; z_random]`` at ``cam2world`` (``None``: no render) and their
        opacity, the codes ``z``, and with ``points`` ``(B_id, N, 3)`` the identity fields there ``(B_id, N, 4)``
        (else ``None``): ``(rgb, opacity, z, at_points)``."""
        parts = []
        if identity is not None:
            parts.append(self.latents(identity))
        if z_random is not None:
            parts.append(z_random)
        z = torch.cat(parts)
        freq, phase = self.decoder.mapping(z)
        locked = LOCKED_VIEW_DIRECTION if self.opts.lock_view_dependence else None
        rgb = opacity = at_points = None
        if cam2world is not None:
            field = self.decoder.modulate(freq, phase, locked)
            out = render_patch(field, cam2world, pattern, self.full_size, self.fov, self.opts, generator)
            rgb, opacity = out.rgb, out.opacity
        if points is not None:
            n = points.shape[0]
            at_points = self.decoder.modulate(freq[:n], phase[:n], locked)(points)
        return rgb, opacity, z, at_points


# --- helpers ------------------------------------------------------------------------------------


def _step_generator(seed: int, step: int, micro: int, rank: int) -> torch.Generator:
    return torch.Generator().manual_seed(((seed * 1_000_003 + step) * 64 + micro) * 4096 + rank)


def _cameras(yaw: torch.Tensor, pitch: torch.Tensor, device) -> torch.Tensor:
    theta, phi = angles_to_renderer(yaw.float().cpu(), pitch.float().cpu())
    return camera_to_world(theta, phi).to(device)


def random_poses(batch: int, domain_name: str, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Official random poses (6.5): 4 x batch candidates (yaw left/right, pitch up/down), ``batch`` picked with replacement.

    Returns public ``(yaw, pitch)`` in degrees.
    """
    domain = get_domain(domain_name)
    (h_lo, h_hi), (v_lo, v_hi) = domain.random_yaw_range, domain.random_pitch_range

    def u(lo, hi):
        return lo + (hi - lo) * torch.rand(batch, generator=generator)

    zero = torch.zeros(batch)
    d_theta = torch.cat((-u(h_lo, h_hi), u(h_lo, h_hi), zero, zero))
    d_phi = torch.cat((zero, zero, -u(v_lo, v_hi), u(v_lo, v_hi)))
    pick = torch.randint(0, 4 * batch, (batch,), generator=generator)
    # renderer theta = pi/2 + d_theta -> yaw = -d_theta; phi = pi/2 + d_phi -> pitch = d_phi
    return torch.rad2deg(-d_theta[pick]), torch.rad2deg(d_phi[pick])


def geometry_loss(at_points: torch.Tensor, rgb: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """3D supervision: squared density error in units of the targets' opaque density, plus squared colour error
    weighted by the target's opacity (the colour of empty space is never seen)."""
    from ..synthfaces.targets import SIGMA_MAX

    density = (at_points[..., 3] - sigma).div(SIGMA_MAX).pow(2).mean()
    weight = sigma / SIGMA_MAX
    colour = ((at_points[..., :3] - rgb).pow(2).sum(-1) * weight).sum() / weight.sum().clamp_min(1e-6) / 3
    return density + colour


class CodeReadout:
    """A linear read-out ``features (M, F) -> codes (M, D)`` (call it), fitted by :func:`fit_code_readout`, and the
    map of code errors back to its standardised features (:meth:`feature_error_map`)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, keep: torch.Tensor, weights: torch.Tensor,
                 code_mean: torch.Tensor, dtype: torch.dtype) -> None:
        self.mean, self.std, self.keep, self.weights, self.code_mean, self.dtype = mean, std, keep, weights, code_mean, dtype

    def standardise(self, features: torch.Tensor) -> torch.Tensor:
        """``(M, F)`` features standardised as in the fit, constant features dropped: ``(M, K)``."""
        return (features.double()[:, self.keep] - self.mean[self.keep]) / self.std[self.keep]

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        """``(M, F)`` features -> ``(M, D)`` codes."""
        return (self.standardise(features) @ self.weights + self.code_mean).to(self.dtype)

    def feature_error_map(self, scale: torch.Tensor, rel_ridge: float = 1e-2) -> torch.Tensor:
        """``(D, K)``: maps a code error divided by ``scale`` ``(D,)`` to the standardised features that would explain
        it (a ridge-regularised inverse of the read-out, ridge ``rel_ridge`` x the mean eigenvalue, so a feature the
        codes barely depend on is amplified at most ~``rel_ridge ** -0.5`` times more than an average one). A unit
        error in any feature then costs the same, however small its effect on the codes (eye size as much as hair
        length)."""
        w = self.weights / scale.double()  # (K, D) in the scaled code space
        gram = w @ w.T
        ridge = rel_ridge * float(torch.diagonal(gram).mean())
        inverse = torch.linalg.solve(gram + ridge * torch.eye(len(gram), dtype=gram.dtype), w)  # (K, D)
        return inverse.T.to(self.dtype)


def fit_code_readout(features: torch.Tensor, codes: torch.Tensor, ridge: float = 1e-2) -> CodeReadout:
    """Linear least-squares read-out ``features (N, F) -> codes (N, D)`` (ridge ``ridge * N`` on the standardised
    features; constant features are dropped): the part of each code that the features explain. Returns a
    :class:`CodeReadout`, a function that maps any ``(M, F)`` features to ``(M, D)`` codes."""
    feats = features.double()
    mean, std = feats.mean(0), feats.std(0) if len(feats) > 1 else torch.zeros(feats.shape[1], dtype=feats.dtype)
    keep = std > 1e-6
    x = (feats[:, keep] - mean[keep]) / std[keep]
    y = codes.double()
    y_mean = y.mean(0)
    gram = x.T @ x + ridge * len(x) * torch.eye(x.shape[1], dtype=x.dtype)
    weights = torch.linalg.solve(gram, x.T @ (y - y_mean))
    return CodeReadout(mean, std, keep, weights, y_mean, codes.dtype)


def identity_code_targets(decoder_dir, decoder: PiGANDecoder, dataset: MaskImageDataset) -> tuple[torch.Tensor, torch.Tensor]:
    """FiLM codes ``[freq, phase]`` of the generator stage's identity latents, one row per identity of ``dataset``
    (its ``identity`` index), and the per-group scale ``(D,)`` (the std of frequencies and of phases over the
    identities) that ``loss.latent`` divides errors by."""
    table = load_identity_latents(decoder_dir)
    if table is None:
        raise ConfigError(
            f"loss.latent > 0 needs {IDENTITY_LATENTS_NAME} in the decoder folder {decoder_dir}: the identity latents that "
            "this project's generator stage exports when it trains by reconstruction; set loss.latent=0 for other decoders"
        )
    if dataset.identity_names is None:
        raise ConfigError(f"loss.latent > 0 needs identities.json in {dataset.root} (the identities the decoder was trained on)")
    names, z = table
    row = {name: i for i, name in enumerate(names)}
    index = torch.tensor([row.get(name, -1) for name in dataset.identity_names])
    used = sorted(set(dataset.identity))
    missing = [dataset.identity_names[k] for k in used if index[k] < 0]
    if missing:
        raise ConfigError(
            f"{len(missing)} training identities have no latent in {decoder_dir} (first: {missing[:3]}): loss.latent needs "
            "the data set the decoder was trained on"
        )
    with torch.no_grad():
        freq, phase = decoder.mapping(z)
    scale = torch.cat([torch.full((c.shape[1],), float(c.std()) if c.numel() > 1 else 1.0) for c in (freq, phase)])
    return torch.cat((freq, phase), 1)[index.clamp_min(0)], scale.clamp_min(1e-6)


class ReadoutTargets:
    """``loss.latent_target=params`` / ``params_adjusted``: the code read-out (a :class:`CodeReadout`) and how each
    identity's features are read through it (see :func:`fit_readout_targets`)."""

    def __init__(self, readout: CodeReadout, visible_only: bool, hidden: dict | None) -> None:
        self.readout, self.visible_only, self.hidden = readout, visible_only, hidden

    def features(self, dataset: MaskImageDataset) -> torch.Tensor:
        """``(num_identities, F)`` unstandardised features of a SynthFaces data set's identities, as read out."""
        return dataset.identity_features(visible_only=self.visible_only, standardise=False, hidden=self.hidden)

    def param_features(self, params) -> torch.Tensor:
        """``(1, F)`` features of one :class:`~sem2nerf.synthfaces.FaceParams`, as read out."""
        return torch.from_numpy(params.features(self.visible_only, self.hidden))[None]

    def codes(self, dataset: MaskImageDataset) -> torch.Tensor:
        """``(num_identities, D)`` target codes of a data set's identities."""
        return self.readout(self.features(dataset))


def fit_readout_targets(target: str, codes: torch.Tensor, dataset: MaskImageDataset) -> ReadoutTargets:
    """Fit the read-out of ``codes`` (``(num_identities, D)``, :func:`identity_code_targets`) over the identities
    that ``dataset`` uses. ``params``: fitted on, and read from, the mask-visible parameters alone;
    ``params_adjusted``: fitted on every parameter, read out with the hidden ones at their mean over those
    identities."""
    trained = torch.tensor(sorted(set(dataset.identity)))
    if target == "params":
        visible_only, hidden = True, None
    elif target == "params_adjusted":
        from ..synthfaces import mean_hidden_params

        params = dataset.identity_params()
        visible_only, hidden = False, mean_hidden_params([params[k] for k in trained.tolist()])
    else:
        raise ValueError(f"fit_readout_targets: unknown target {target!r} (params or params_adjusted)")
    fit_features = dataset.identity_features(visible_only=visible_only, standardise=False)  # each head's own values
    return ReadoutTargets(fit_code_readout(fit_features[trained], codes[trained]), visible_only, hidden)


@torch.no_grad()
def collect_region_statistics(sources: list, classes: int, device="cpu", batch_size: int = 64,
                              workers: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """:func:`~sem2nerf.encoder.region_statistics` of the first ``classes`` channels of every mask of the
    ``(dataset, targets)`` pairs in ``sources``, in order: ``(N, 5 classes)`` float64 on the CPU, and the masks'
    target rows ``(N, D)`` (``targets[identity]``) when every pair has targets, else ``None``."""
    feats, codes = [], []
    for dataset, targets in sources:
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
        for batch in loader:
            feats.append(region_statistics(batch["x"][:, :classes].to(device)).double().cpu())
            codes.append(None if targets is None else targets[batch["identity"].to(targets.device)].double().cpu())
    with_targets = bool(codes) and all(c is not None for c in codes)
    return torch.cat(feats), torch.cat(codes) if with_targets else None


def region_buffers(stats: torch.Tensor) -> dict[str, torch.Tensor]:
    """The region head's buffers for training statistics ``(N, K)``: their range (``region_low`` /
    ``region_high``), mean and standard deviation (1 for a constant statistic, whose head weight stays 0)."""
    std = stats.std(0) if len(stats) > 1 else torch.zeros(stats.shape[1], dtype=stats.dtype)
    return {"region_low": stats.min(0).values, "region_high": stats.max(0).values, "region_mean": stats.mean(0),
            "region_std": torch.where(std > 1e-6, std, torch.ones_like(std))}


@torch.no_grad()
def region_output_buffers(encoder, stats: torch.Tensor) -> dict[str, torch.Tensor]:
    """The range of an encoder's region-head output over training statistics ``(N, K)`` (``region_out_low`` /
    ``region_out_high``, per code dimension), for the head as it is now: set at export, when training is over."""
    out = encoder.region_head(encoder.standardise_statistics(stats))
    return {"region_out_low": out.min(0).values, "region_out_high": out.max(0).values}


def set_region_output_range(encoder, datasets: list, batch_size: int = 64, workers: int = 0) -> None:
    """Set ``encoder``'s region-head output range from the masks of ``datasets`` (its training masks), on which the
    clamp then changes nothing. A pass of its own over the masks (about 30 s for the default model's 5,580 on 2 CPU
    cores), because a resumed run never ran ``fit_region_head``'s pass and the head may have trained since."""
    stats, _ = collect_region_statistics([(d, None) for d in datasets], encoder.region_classes,
                                         encoder.region_head.weight.device, batch_size, workers)
    for name, value in region_output_buffers(encoder, stats).items():
        getattr(encoder, name).copy_(value)


@torch.no_grad()
def fit_region_head(encoder, sources: list, start_code: torch.Tensor | None = None, batch_size: int = 64,
                    workers: int = 0, ridge: float = 1e-2) -> CodeReadout | None:
    """Set an encoder's region head from data before training (``model.encoder_region_stats``).

    ``sources``: ``(dataset, targets)`` pairs, datasets of encoder inputs ``x`` with ``identity`` indices and
    targets ``(num_identities, 2 * code_dim)`` codes (``None``: only standardise). The statistics of every
    mask set the buffers of :func:`region_buffers` (so the clamp to their range changes no training mask); with
    targets, the head becomes the ridge least-squares map from them to the targets minus ``start_code`` (the
    latent average), so that the first step starts from the best linear guess (the Swin head is still zero).
    Returns that fit (a :class:`CodeReadout`) or ``None``."""
    head = encoder.region_head
    if head is None:
        raise ValueError("fit_region_head: this encoder has no region head (model.encoder_region_stats=false)")
    stats, target = collect_region_statistics(sources, encoder.region_classes, head.weight.device, batch_size, workers)
    for name, value in region_buffers(stats).items():
        getattr(encoder, name).copy_(value)
    head.weight.zero_()
    head.bias.zero_()
    if target is None:  # standardisation only (no loss.latent targets)
        return None
    if start_code is not None:
        target = target - start_code.double().cpu()
    readout = fit_code_readout(stats, target, ridge=ridge)
    weight = torch.zeros(head.weight.shape, dtype=torch.float64)
    weight[:, readout.keep] = readout.weights.T  # dropped (constant) statistics keep weight 0
    head.weight.copy_(weight.to(head.weight))
    head.bias.copy_(readout.code_mean.to(head.bias))
    return readout


def cut_patch(image: torch.Tensor, pattern: torch.Tensor) -> torch.Tensor:
    """The ground-truth patch at a sampling pattern: bilinear, ``align_corners=True`` (the rays' own convention)."""
    return F.grid_sample(image, pattern.to(image.dtype), mode="bilinear", align_corners=True)


def weights_digest(*modules: nn.Module) -> str:
    """SHA-256 of every parameter and buffer of ``modules`` (identical on every rank when DDP keeps them in sync)."""
    import hashlib

    h = hashlib.sha256()
    for module in modules:
        for key, value in sorted(module.state_dict().items()):
            h.update(key.encode())
            h.update(value.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR of tensors in [-1, 1] (peak-to-peak 2)."""
    mse = (a - b).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return 10.0 * torch.log10(4.0 / mse)


class _Logger:
    """Metrics to ``metrics.jsonl`` (always) and to Accelerate's trackers (TensorBoard when installed)."""

    def __init__(self, accelerator, out: Path) -> None:
        self.accelerator, self.path = accelerator, out / "metrics.jsonl"

    def log(self, record: dict, step: int) -> None:
        if not self.accelerator.is_main_process:
            return
        record = {"step": step, "time": round(time.time(), 3), **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in record.items()}}
        with self.path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
        numbers = {k: v for k, v in record.items() if isinstance(v, (int, float)) and k not in ("step", "time")}
        if self.accelerator.trackers:
            self.accelerator.log(numbers, step=step)


# --- the run ------------------------------------------------------------------------------------


def _resolve_resume(out: Path, resume: str | None) -> Path | None:
    if resume is None:
        return None
    if resume == "latest":
        ckpts = sorted((out / "checkpoints").glob("step_*")) if (out / "checkpoints").is_dir() else []
        if not ckpts:
            raise ConfigError(f"--resume latest: no checkpoint in {out / 'checkpoints'}")
        return ckpts[-1]
    path = Path(resume)
    if not (path / STATE_FILE).is_file():
        raise ConfigError(f"--resume {resume}: not a checkpoint folder of this training script (no {STATE_FILE})")
    return path


def build_datasets(config: TrainConfig) -> tuple[MaskImageDataset, MaskImageDataset, dict]:
    """The training and validation sets a config asks for, and the keyword arguments they share (for more sets).

    The training set carries what the config's losses read: foreground (``loss.silhouette``), part fractions
    (``loss.part_weight``) and, in the generator stage, 3D points (``loss.geometry`` with its points, reach and focus).
    ``data.mask_realism`` augments the training set's encoder input (seeded by ``config.seed``), never the validation
    set's; ``common`` leaves it out (a set built from it reads exact masks unless given ``mask_realism``).
    """
    cfg_loss = config.loss
    domain = get_domain(config.data.domain)
    encoder_size = config.model.encoder_size if config.stage == "encoder" else None
    common = {
        "root": config.data.root, "domain": domain, "image_size": config.data.image_size, "encoder_size": encoder_size,
        "use_contour": config.model.use_contour, "contour_skip": config.model.contour_skip,
    }
    part_labels = None
    if cfg_loss.part_weight > 0:
        part_labels = cfg_loss.part_labels or list(domain.small_parts)
        if not part_labels:
            raise ConfigError(f"loss.part_weight: domain {config.data.domain} names no small_parts; set loss.part_labels")
    geometry_points = cfg_loss.geometry_points if config.stage == "generator" and cfg_loss.geometry > 0 else 0
    train_set = MaskImageDataset(id_list=config.data.train_list, geometry_points=geometry_points,
                                 geometry_reach=cfg_loss.geometry_reach or None, geometry_focus=cfg_loss.geometry_focus,
                                 with_foreground=cfg_loss.silhouette > 0, part_labels=part_labels,
                                 mask_realism=config.data.mask_realism, realism_seed=config.seed, **common)
    val_list = config.data.val_list if config.stage == "encoder" else config.data.train_list
    val_set = MaskImageDataset(id_list=val_list, limit=config.data.val_samples, with_mask=True, **common)
    return train_set, val_set, common


def train(config: TrainConfig, resume: str | None = None, command: str | None = None) -> Path:
    """Run one training stage; returns the export folder (a Hub model folder or a decoder folder)."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    try:
        from accelerate.utils import is_tensorboard_available
    except ImportError:  # pragma: no cover
        def is_tensorboard_available() -> bool:
            return False

    out = Path(config.output_dir)
    resume_dir = _resolve_resume(out, resume)
    if resume_dir is not None:
        state = json.loads((resume_dir / STATE_FILE).read_text())
        if state.get("fingerprint") != config.fingerprint():
            raise ConfigError(
                f"--resume {resume_dir}: that checkpoint was written with another config (fingerprint {state.get('fingerprint')} "
                f"!= {config.fingerprint()}); resume with the same config (only max_steps, intervals and paths may change)"
            )
    trackers = "tensorboard" if is_tensorboard_available() else None
    accelerator = Accelerator(
        mixed_precision=config.train.mixed_precision,
        gradient_accumulation_steps=config.train.grad_accum,
        log_with=trackers,
        project_dir=str(out),
    )
    if config.train.mixed_precision == "bf16" and accelerator.device.type == "cpu":
        raise ConfigError("train.mixed_precision=bf16 on a CPU is ~100x slower than fp32 here: use 'no' on CPU")
    set_seed(config.seed)
    device, rank, world = accelerator.device, accelerator.process_index, accelerator.num_processes
    domain = get_domain(config.data.domain)
    cfg_loss, cfg_render = config.loss, config.render

    # ---- fail fast: data, decoder, LPIPS ----
    train_set, val_set, common = build_datasets(config)
    lpips_model = load_lpips(device) if cfg_loss.lpips > 0 else None

    model_kwargs = {k: v for k, v in vars(config.model).items()}
    if config.stage == "encoder":
        expect = {k: model_kwargs[k] for k in DECODER_KEYS}
        expect["domain"] = domain.name
        decoder, dcfg = load_decoder(config.decoder, expect=expect)
        with _weights_follow():  # the decoder and its latent average are set right below
            model = Sem2NeRF(
                domain=domain.name, fov=dcfg.get("fov"), ray_start=dcfg.get("ray_start"), ray_end=dcfg.get("ray_end"), **model_kwargs,
            )
        model.decoder.load_state_dict(decoder.state_dict())
        avg_f, avg_p = model.decoder.average_code(config.model.latent_avg_samples, config.seed)
        model.latent_avg_freq.copy_(avg_f)
        model.latent_avg_phase.copy_(avg_p)
        fov, ray_start, ray_end = model.fov, model.ray_start, model.ray_end
    else:
        decoder = PiGANDecoder(**{arg: model_kwargs[key] for key, arg in DECODER_KEYS.items()})
        fov, ray_start, ray_end = domain.fov, domain.ray_start, domain.ray_end
        if cfg_loss.recon > 0 and not train_set.has_identities:
            raise ConfigError(
                f"loss.recon > 0 needs identities.json in {config.data.root} (several views per identity, e.g. SynthFaces); "
                "for single-view collections use loss.recon=0 loss.adv=1"
            )

    opts = RenderOptions(
        num_samples=cfg_render.num_samples, hierarchical=cfg_render.hierarchical, ray_start=ray_start, ray_end=ray_end,
        lock_view_dependence=cfg_render.lock_view_dependence, last_back=domain.last_back_train,
    )
    val_opts = RenderOptions(num_samples=cfg_render.val_samples, ray_start=ray_start, ray_end=ray_end, deterministic=True)
    schedule = PatchSchedule(
        resolution=cfg_render.patch_resolution, min_scale=cfg_render.min_scale, max_scale=cfg_render.max_scale,
        anneal=cfg_render.anneal, random_shift=cfg_render.random_shift, mode=cfg_render.patch_mode,
    )
    full_size = config.data.image_size

    extra_set = None  # data.latent_extra: masks for loss.latent only
    feature_map = None  # loss.latent_params: code errors -> read-out features
    if config.stage == "encoder":
        module = EncoderStage(model, opts, full_size)
        region = list(model.encoder.region_head.parameters()) if model.encoder.region_head is not None else []
        groups = [{"params": [p for p in model.encoder.parameters() if all(p is not q for q in region)], "lr": config.optim.lr}]
        if region and config.optim.region_lr_scale > 0:
            groups.append({"params": region, "lr": config.optim.lr * config.optim.region_lr_scale})
        elif region:  # optim.region_lr_scale=0: the head keeps the least-squares fit it starts from
            for p in region:
                p.requires_grad_(False)
        gan_weight = cfg_loss.gan
        if cfg_loss.latent > 0:
            code_targets, code_scale = identity_code_targets(config.decoder, model.decoder, train_set)
            if cfg_loss.latent_target != "identity":  # what the masks can tell: a read-out from visible parameters
                targets = fit_readout_targets(cfg_loss.latent_target, code_targets, train_set)
                code_targets = targets.codes(train_set)
                if cfg_loss.latent_params > 0:
                    feature_map = targets.readout.feature_error_map(code_scale).to(device)
                if config.data.latent_extra:
                    extra_set = MaskImageDataset(**{**common, "root": config.data.latent_extra}, id_list=config.data.train_list,
                                                 mask_realism=config.data.mask_realism, realism_seed=config.seed + 1)
                    extra_targets = targets.codes(extra_set).to(device)
            code_targets, code_scale = code_targets.to(device), code_scale.to(device)
        if model.encoder.region_head is not None and resume_dir is None:  # a resumed run loads it with its state
            sources = [(train_set, code_targets if cfg_loss.latent > 0 else None)]
            if extra_set is not None:
                sources.append((extra_set, extra_targets))
            start = torch.cat((model.latent_avg_freq, model.latent_avg_phase), 1)[0]
            fit_region_head(model.encoder, sources, start, batch_size=64, workers=config.data.workers)
    else:
        n_ids = train_set.num_identities if cfg_loss.recon > 0 or cfg_loss.geometry > 0 else 0
        features = train_set.identity_features() if n_ids and config.optim.latent_init == "params" else None
        module = GeneratorStage(decoder, n_ids, opts, full_size, fov, config.seed, features, config.optim.latent_linear)
        density = list(decoder.density.parameters())
        groups = [
            {"params": [p for p in decoder.parameters() if all(p is not q for q in density)], "lr": config.optim.lr},
            {"params": density, "lr": config.optim.lr * config.optim.density_lr_scale},
        ]
        if module.latents is not None:
            groups.append({"params": list(module.latents.parameters()), "lr": config.optim.lr_latent})
        gan_weight = cfg_loss.adv
    base_lrs = [g["lr"] for g in groups]
    optimizer = make_optimizer(groups, config.optim.lr, config.optim)
    disc = d_opt = None
    if gan_weight > 0:
        disc = PatchDiscriminator(cfg_render.patch_resolution).to(device)
        d_opt = make_optimizer(disc.parameters(), config.optim.lr_dis, config.optim)
        d_opt = accelerator.prepare(d_opt)
        accelerator.register_for_checkpointing(disc)
    module, optimizer = accelerator.prepare(module, optimizer)
    raw = accelerator.unwrap_model(module)

    start_step = 0
    if resume_dir is not None:
        accelerator.load_state(str(resume_dir))
        start_step = int(json.loads((resume_dir / STATE_FILE).read_text())["step"])
    accum = config.train.grad_accum
    with_draw = config.data.mask_realism > 0  # items come as (index, epoch): the seed of their mask realism
    sampler = StepBatchSampler(len(train_set), config.train.batch_size, config.seed, rank, world, start_step * accum, with_draw)
    loader = torch.utils.data.DataLoader(
        train_set, batch_sampler=sampler, num_workers=config.data.workers,
        persistent_workers=config.data.workers > 0, pin_memory=device.type == "cuda",
    )
    batches = iter(loader)
    extra_batches = None
    if extra_set is not None:  # its own seeded stream, so --resume continues it exactly too
        extra_sampler = StepBatchSampler(len(extra_set), cfg_loss.latent_extra_batch, config.seed + 1, rank, world,
                                         start_step * accum, with_draw)
        extra_batches = iter(torch.utils.data.DataLoader(
            extra_set, batch_sampler=extra_sampler, num_workers=config.data.workers,
            persistent_workers=config.data.workers > 0, pin_memory=device.type == "cuda",
        ))
    logger = _Logger(accelerator, out)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / CONFIG_FILE).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
        if command:
            (out / "command.txt").write_text(command + "\n")
    if trackers:
        accelerator.init_trackers("sem2nerf", config={k: str(v) for k, v in config.to_dict().items()})

    rand_prob = cfg_loss.random_pose_prob if cfg_loss.random_pose_prob is not None else domain.random_pose_prob
    progress = None
    if accelerator.is_main_process:
        from tqdm.auto import tqdm

        progress = tqdm(total=config.train.max_steps, initial=start_step, desc=f"{config.stage} stage", dynamic_ncols=True)
    started, last_log, last_log_step = time.time(), time.time(), start_step
    running: dict[str, float] = {}
    counts: dict[str, float] = {}  # per key: the steps that had it (recon_every, random-pose steps)

    def accumulate(key: str, value: float) -> None:
        running[key] = running.get(key, 0.0) + value / accum
        counts[key] = counts.get(key, 0.0) + 1.0 / accum
    metrics: dict[str, float] = {}
    module.train()
    if config.stage == "encoder":
        raw.model.decoder.eval()

    for step in range(start_step, config.train.max_steps):
        lrs = [learning_rate(b, step, config.train.max_steps, config.optim.scheduler) for b in base_lrs]
        set_learning_rate(optimizer, lrs)
        if d_opt is not None:
            set_learning_rate(d_opt, [learning_rate(config.optim.lr_dis, step, config.train.max_steps, config.optim.scheduler)])
        for micro in range(accum):
            batch = next(batches)
            gen = _step_generator(config.seed, step, micro, rank)
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))  # drop-path and other global draws
            image = batch["image"].to(device)
            b = image.shape[0]
            pattern = sample_patch_pattern(b, step, schedule, generator=gen, device=device)
            real = cut_patch(image, pattern)
            with accelerator.accumulate(module):
                losses: dict[str, torch.Tensor] = {}
                if config.stage == "encoder":
                    warmup = step < config.train.latent_warmup_steps  # codes only: no render, no GAN
                    random_step = not warmup and rand_prob > 0 and float(torch.rand(1, generator=gen)) < rand_prob
                    yaw, pitch = random_poses(b, domain.name, gen) if random_step else (batch["yaw"], batch["pitch"])
                    extra = next(extra_batches) if extra_batches is not None else None
                    extra_x = extra["x"].to(device) if extra is not None else None
                    cams = None if warmup else _cameras(yaw, pitch, device)
                    with accelerator.autocast():
                        fake, opacity, delta_f, delta_p = module(batch["x"].to(device), cams, pattern, gen, extra_x)
                    if extra is not None:  # the extra masks' codes are only regressed, never rendered
                        target = extra_targets[extra["identity"].to(device)]
                        losses["latent_extra"] = cfg_loss.latent * _code_loss(raw.model, delta_f[b:], delta_p[b:], target, code_scale,
                                                                              feature_map, cfg_loss.latent_params)
                        delta_f, delta_p = delta_f[:b], delta_p[:b]
                    fake = fake.float() if fake is not None else None
                    if fake is not None and not random_step:
                        losses["l2"] = cfg_loss.l2 * _l2_loss(fake, real, batch, pattern, cfg_loss.part_weight)
                        if cfg_loss.silhouette > 0:  # the mask's own foreground at its own pose
                            losses["silhouette"] = cfg_loss.silhouette * _silhouette_loss(opacity, batch, pattern)
                        if lpips_model is not None:
                            losses["lpips"] = cfg_loss.lpips * lpips_model(fake, real).mean()
                    if cfg_loss.w_norm > 0:
                        losses["w_norm"] = cfg_loss.w_norm * w_norm(delta_f, delta_p, raw.model.decoder.num_film_layers)
                    if cfg_loss.latent > 0:  # the mask's identity code from the generator stage (any pose)
                        target = code_targets[batch["identity"].to(device)]
                        losses["latent"] = cfg_loss.latent * _code_loss(raw.model, delta_f, delta_p, target, code_scale,
                                                                        feature_map, cfg_loss.latent_params)
                    adv_fake = fake
                else:
                    ids = batch["identity"].to(device) if raw.latents is not None else None
                    z_rand = None
                    if cfg_loss.adv > 0:
                        z_rand = torch.randn(b, raw.decoder.z_dim, generator=gen).to(device)
                    yaw, pitch = batch["yaw"], batch["pitch"]
                    render_ids = ids is not None and cfg_loss.recon > 0 and step % cfg_loss.recon_every == 0
                    cams = _cameras(yaw, pitch, device) if render_ids else None
                    if z_rand is not None:  # random codes at poses of the data (the empirical pose distribution)
                        perm = torch.randperm(b, generator=gen)
                        adv_cams = _cameras(yaw[perm], pitch[perm], device)
                        if ids is not None and not render_ids:  # identity codes ride along unrendered: render them too
                            cams = _cameras(yaw, pitch, device)
                        cams = torch.cat((cams, adv_cams)) if ids is not None else adv_cams
                    n_parts = (ids is not None) + (z_rand is not None) if cams is not None else 0
                    points = batch["points"].to(device) if train_set.geometry_points else None
                    with accelerator.autocast():
                        fake_all, opacity_all, z, at_points = module(
                            ids, z_rand, cams, pattern.repeat(max(n_parts, 1), 1, 1, 1), gen, points,
                        )
                    fake_all = fake_all.float() if fake_all is not None else None
                    adv_fake = fake_all[-b:] if z_rand is not None else None
                    fake = None
                    if ids is not None:
                        if render_ids:
                            fake = fake_all[:b]
                            losses["l2"] = cfg_loss.recon * cfg_loss.l2 * _l2_loss(fake, real, batch, pattern,
                                                                                    cfg_loss.part_weight)
                            if cfg_loss.silhouette > 0:
                                losses["silhouette"] = cfg_loss.silhouette * _silhouette_loss(opacity_all[:b], batch, pattern)
                            if lpips_model is not None:
                                losses["lpips"] = cfg_loss.recon * cfg_loss.lpips * lpips_model(fake, real).mean()
                        losses["z_reg"] = cfg_loss.z_reg * z[:b].pow(2).mean()
                    else:
                        fake = adv_fake
                    if at_points is not None:
                        losses["geometry"] = cfg_loss.geometry * geometry_loss(
                            at_points.float(), batch["point_rgb"].to(device), batch["point_sigma"].to(device),
                        )
                if disc is not None and adv_fake is not None:
                    disc.requires_grad_(False)
                    losses["g_gan"] = gan_weight * g_loss_nonsaturating(disc(adv_fake))
                total = sum(losses.values())
                if not torch.isfinite(total):
                    raise FloatingPointError(f"step {step}: the loss is not finite ({ {k: float(v) for k, v in losses.items()} })")
                accelerator.backward(total)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)

                if disc is not None and adv_fake is not None:
                    disc.requires_grad_(True)
                    real_in = real.detach().requires_grad_(True)
                    real_logits = disc(real_in)
                    fake_logits = disc(adv_fake.detach())
                    d_gan = d_loss_nonsaturating(real_logits, fake_logits)
                    r1 = r1_penalty(real_logits, real_in, cfg_loss.r1) if cfg_loss.r1 > 0 else torch.zeros((), device=device)
                    accelerator.backward((d_gan + r1) * gan_weight)
                    if accelerator.sync_gradients and world > 1:
                        for p in disc.parameters():
                            if p.grad is not None:
                                p.grad.copy_(accelerator.reduce(p.grad, reduction="mean"))
                    d_opt.step()
                    d_opt.zero_grad(set_to_none=True)
                    losses["d_gan"] = d_gan.detach() * gan_weight
                    losses["r1"] = r1.detach() * gan_weight
            for k, v in losses.items():
                accumulate(k, float(v.detach()))
            accumulate("total", float(total.detach()))
            with torch.no_grad():
                if fake is not None and "l2" in losses:  # reconstruction steps only
                    accumulate("psnr_patch", float(_psnr(fake, real).mean()))
        done = step + 1
        if progress is not None:
            progress.update(1)
            if done % max(1, min(10, config.train.log_every)) == 0:
                progress.set_postfix(loss=f"{running.get('total', 0.0) / max(counts.get('total', 0.0), 1e-9):.4f}")
        if done % config.train.log_every == 0 or done == config.train.max_steps:
            now = time.time()
            record = {k: v / counts[k] for k, v in running.items()}
            record.update(lr=lrs[0], steps_per_s=(done - last_log_step) / max(now - last_log, 1e-9), elapsed_s=now - started)
            logger.log(record, done)
            running.clear()
            counts.clear()
            last_log, last_log_step = now, done
        if done % config.train.val_every == 0 or done == config.train.max_steps:
            metrics = validate(config, raw, val_set, val_opts, accelerator, out, done, fov)
            logger.log({f"val_{k}": v for k, v in metrics.items()}, done)
            module.train()
            if config.stage == "encoder":
                raw.model.decoder.eval()
        if done % config.train.save_every == 0 or done == config.train.max_steps:
            save_checkpoint(accelerator, out, done, config, tuple(m for m in (raw, disc) if m is not None))
    if progress is not None:
        progress.close()
    accelerator.wait_for_everyone()
    export = out / "export"
    if accelerator.is_main_process:
        region_sets = [train_set] + ([extra_set] if extra_set is not None else [])  # the region head's training masks
        export = _export(config, raw, export, metrics, command, time.time() - started, start_step, train_set, region_sets)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return export


def save_checkpoint(accelerator, out: Path, step: int, config: TrainConfig, digest_modules: tuple = ()) -> Path:
    """``accelerator.save_state`` (models, optimisers, RNG, the discriminator) plus the step, the config fingerprint
    and every rank's weights digest (they must agree: a check that the processes stayed in sync)."""
    path = out / "checkpoints" / f"step_{step:08d}"
    accelerator.save_state(str(path))
    digest = weights_digest(*digest_modules)
    digests = [digest]
    if accelerator.num_processes > 1:
        digests = [None] * accelerator.num_processes
        torch.distributed.all_gather_object(digests, digest)
    if accelerator.is_main_process:
        state = {"step": step, "fingerprint": config.fingerprint(), "num_processes": accelerator.num_processes, "rank_digests": digests}
        (path / STATE_FILE).write_text(json.dumps(state) + "\n")
        if len(set(digests)) > 1:
            print(f"warning: the processes' weights differ at step {step}: {digests}", file=sys.stderr)
        ckpts = sorted((out / "checkpoints").glob("step_*"))
        for old in ckpts[: max(0, len(ckpts) - config.train.keep_checkpoints)]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return path


@torch.no_grad()
def validate(config: TrainConfig, raw: nn.Module, val_set: MaskImageDataset, opts: RenderOptions, accelerator, out: Path, step: int, fov: float) -> dict[str, float]:
    """Full-frame renders of the validation items at their poses: PSNR/L2 gathered over processes; a PNG sheet on the main process.

    Encoder stage: held-out masks through the encoder. Generator stage: training identities through their latents.
    """
    rank, world, device = accelerator.process_index, accelerator.num_processes, accelerator.device
    size = config.render.val_size
    raw.eval()
    indices = list(range(rank, len(val_set), world))
    per_item_psnr, per_item_l2, rows = [], [], []
    for i in indices:
        item = val_set[i]
        if config.stage == "encoder":
            model = raw.model
            freq, phase = model.encode_tensor(item["x"][None].to(device))
            decoder = model.decoder
        else:
            decoder = raw.decoder
            z = raw.latents(item["identity"][None].to(device)) if raw.latents is not None else torch.zeros(1, decoder.z_dim, device=device)
            freq, phase = decoder.mapping(z)
        field = decoder.modulate(freq, phase)
        yaw, pitch = float(item["yaw"]), float(item["pitch"])
        poses = [Pose(yaw + dyaw, pitch, fov) for dyaw in (0.0, *NOVEL_YAWS)]
        views = [out.rgb[0] for out in render_poses(field, poses, size, opts, seed=None, device=device)]
        gt = F.interpolate(item["image"][None], size=(size, size), mode="bilinear", align_corners=False)[0].to(device)
        per_item_psnr.append(_psnr(views[0][None], gt[None])[0])
        per_item_l2.append(F.mse_loss(views[0], gt))
        colour = get_label_scheme(val_set.domain.raw_scheme).colorize(item["mask"].numpy())
        cells = [colour, *(np.asarray(to_pil(v)) for v in (*views, gt))]
        rows.append((int(item["index"]), [np.asarray(Image.fromarray(c).resize((size, size), Image.NEAREST)) for c in cells]))
    psnr = torch.stack(per_item_psnr) if per_item_psnr else torch.zeros(0, device=device)
    l2 = torch.stack(per_item_l2) if per_item_l2 else torch.zeros(0, device=device)
    psnr, l2 = accelerator.gather_for_metrics((psnr, l2), use_gather_object=False) if world > 1 else (psnr, l2)
    if world > 1:
        gathered = [None] * world
        torch.distributed.all_gather_object(gathered, rows)
        rows = [r for part in gathered for r in part]
    if accelerator.is_main_process and rows:
        rows.sort(key=lambda r: r[0])
        sheet = np.concatenate([np.concatenate(cells, axis=1) for _, cells in rows], axis=0)
        (out / "val").mkdir(parents=True, exist_ok=True)
        Image.fromarray(sheet).save(out / "val" / f"step_{step:08d}.png")
    return {"psnr": float(psnr.mean()) if psnr.numel() else math.nan, "l2": float(l2.mean()) if l2.numel() else math.nan, "count": int(psnr.numel())}


def _export(config: TrainConfig, raw: nn.Module, export: Path, metrics: dict, command: str | None, seconds: float, start_step: int, train_set,
            region_sets: list) -> Path:
    data_desc = _describe_data(config, train_set)
    hardware = f"{torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else f"CPU{_cpu_name()} ({os.cpu_count()} logical cores, {torch.get_num_threads()} torch threads)"
    meta = {
        "training_command": command,
        "stage": config.stage,
        "steps": config.train.max_steps,
        "resumed_from_step": start_step,
        "wall_time_s": round(seconds, 1),
        "hardware": hardware,
        "data": data_desc,
        "validation": metrics,
        "config_fingerprint": config.fingerprint(),
    }
    if config.stage == "generator":
        latents = None
        if raw.latents is not None and train_set.identity_names is not None:  # by name, for the encoder's loss.latent
            trained = sorted(set(train_set.identity))
            names = [train_set.identity_names[k] for k in trained]
            latents = (names, raw.latents.weight.detach()[torch.tensor(trained)])
        return save_decoder(raw.decoder, export, domain=config.data.domain, metadata=meta, identity_latents=latents)
    model: Sem2NeRF = raw.model
    if model.encoder.region_head is not None:  # the head is final now: clamp its output to its training range
        set_region_output_range(model.encoder, region_sets, workers=config.data.workers)
    metric_text = (
        f"Validation after {config.train.max_steps} steps ({metrics.get('count', 0)} held-out masks, full {config.render.val_size}px "
        f"renders at the annotated pose): PSNR {metrics.get('psnr', float('nan')):.2f} dB, L2 {metrics.get('l2', float('nan')):.5f}."
    )
    model.save_pretrained(
        export,
        model_card_kwargs={
            "training_data": data_desc + f"\n\nTrained for {config.train.max_steps} steps in {seconds / 60:.1f} min on {hardware}.",
            "training_command": command or "",
            "metrics": metric_text,
        },
    )
    (export / "training.json").write_text(json.dumps(meta, indent=2) + "\n")
    return export


def _code_loss(model: Sem2NeRF, delta_f: torch.Tensor, delta_p: torch.Tensor, target: torch.Tensor,
               scale: torch.Tensor, feature_map: torch.Tensor | None = None, feature_weight: float = 0.0) -> torch.Tensor:
    """``loss.latent`` before its weight: mean squared error of the codes (deltas plus the latent average) against
    ``target`` ``(B, 2 * code_dim)``, each dimension divided by ``scale``; with ``feature_map`` (``(D, K)``, see
    :meth:`CodeReadout.feature_error_map`) plus ``feature_weight`` x the mean squared error of the read-out features
    that the code error amounts to (``loss.latent_params``)."""
    code = torch.cat((delta_f + model.latent_avg_freq, delta_p + model.latent_avg_phase), 1)
    error = (code.float() - target) / scale
    loss = error.pow(2).mean()
    if feature_map is not None:
        loss = loss + feature_weight * (error @ feature_map).pow(2).mean()
    return loss


def _l2_loss(fake: torch.Tensor, real: torch.Tensor, batch: dict, pattern: torch.Tensor, part_weight: float) -> torch.Tensor:
    """The patch L2 (``loss.l2``, either stage): the mean squared error, or with ``part_weight`` > 0 the mean in which
    pixels of ``loss.part_labels`` (the batch's ``parts`` fraction, cut with ``pattern``) weigh ``1 + part_weight``."""
    if part_weight <= 0:
        return F.mse_loss(fake, real)
    weight = 1.0 + part_weight * cut_patch(batch["parts"].to(fake.device), pattern)
    return ((fake - real).pow(2) * weight).mean() / weight.mean()


def _silhouette_loss(opacity: torch.Tensor, batch: dict, pattern: torch.Tensor) -> torch.Tensor:
    """Mean squared error of rendered patch opacity ``(B, R, R)`` against the masks' foreground fraction cut with
    the same ``pattern`` (``loss.silhouette``, either stage)."""
    target = cut_patch(batch["foreground"].to(opacity.device), pattern)[:, 0]
    return F.mse_loss(opacity.float(), target)


def _cpu_name() -> str:
    """`` <model name>`` of the CPU where the OS tells it (Linux), else empty."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return " " + line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _describe_data(config: TrainConfig, train_set) -> str:
    desc = f"{len(train_set)} training images from `{Path(config.data.root).name}` ({config.data.domain} layout)"
    info = Path(config.data.root) / "synthfaces.json"
    if info.is_file():
        s = json.loads(info.read_text())
        desc += (
            f": SynthFaces generator version {s.get('version')}, seed {s.get('seed')}, {s.get('identities')} identities x "
            f"{s.get('views_per_identity')} views at {s.get('image_size')} px"
        )
    return desc + "."


def command_line() -> str:
    """The command that started this process (for model cards)."""
    argv = [os.path.basename(sys.argv[0]) or "train_accelerate.py", *sys.argv[1:]]
    return " ".join(argv)
