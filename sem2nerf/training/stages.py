"""The two training stages, as objects that the generic loop of :func:`sem2nerf.training.trainer.train` drives.

* :class:`EncoderStage` (the paper): a frozen decoder; the Swin encoder learns to predict FiLM codes from masks,
  supervised on region-aware patches (L2, LPIPS, W-norm, patch GAN with R1, random-pose GAN-only steps); optionally a
  regression of codes (``encoder.latent``, with code-only warm-up steps) and a region head fitted before the first step
  (``encoder.region_head``).
* :class:`GeneratorStage`: trains a pi-GAN decoder for a new domain, with multi-view reconstruction through
  per-identity latents (``generator.recon``; data with several views per identity, e.g. SynthFaces), 3D targets
  (``generator.geometry``) and/or the pi-GAN adversarial objective on random codes and poses (``generator.adv``). Its
  export is a decoder folder.

A stage owns its network (what the optimiser trains; :class:`EncoderNetwork` / :class:`GeneratorNetwork`), its
parameter groups, the losses of one micro-step (:meth:`Stage.step`), what a validation item renders and its export.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..camera import LOCKED_VIEW_DIRECTION, angles_to_renderer, camera_to_world
from ..decoder import PiGANDecoder
from ..decoder_folder import DECODER_KEYS, load_decoder, save_decoder
from ..domains import get_domain
from ..model import Sem2NeRF, _weights_follow
from ..renderer import RenderOptions, render_patch
from .config import ConfigError, TrainConfig
from .data import MaskImageDataset, StepBatchSampler
from .losses import code_loss, geometry_loss, patch_l2, silhouette_loss, w_norm
from .readout import fit_readout_targets, fit_region_head, identity_code_targets, set_region_output_range

__all__ = ["EncoderNetwork", "EncoderStage", "GeneratorNetwork", "GeneratorStage", "LinearLatents", "Stage", "StepResult",
           "make_stage", "random_poses"]


class EncoderNetwork(nn.Module):
    """Mask encoder input -> rendered patch, through the trainable encoder and the frozen decoder."""

    def __init__(self, model: Sem2NeRF, opts: RenderOptions, full_size: int) -> None:
        super().__init__()
        self.model, self.opts, self.full_size = model, opts, full_size

    def forward(self, x, cam2world, pattern, generator=None, extra_x=None):
        """Render the codes of ``x`` at ``cam2world`` (``None``: no render, rgb and opacity are ``None``); ``extra_x``
        (masks for ``encoder.latent`` only) is encoded in the same call but not rendered. Returns (rgb, opacity, delta_f,
        delta_p) with the deltas of ``x`` then ``extra_x``."""
        b = x.shape[0]
        delta_f, delta_p = self.model.encoder.encode(x if extra_x is None else torch.cat((x, extra_x)))
        if cam2world is None:  # codes only (encoder.latent.warmup_steps)
            return None, None, delta_f, delta_p
        freq, phase = delta_f[:b] + self.model.latent_avg_freq, delta_p[:b] + self.model.latent_avg_phase
        locked = LOCKED_VIEW_DIRECTION if self.opts.lock_view_dependence else None
        field = self.model.decoder.modulate(freq, phase, locked)
        out = render_patch(field, cam2world, pattern, self.full_size, self.model.fov, self.opts, generator)
        return out.rgb, out.opacity, delta_f, delta_p


class LinearLatents(nn.Module):
    """Identity latents that are a learned linear map of fixed per-identity features: ``z_i = features_i @ W``
    (with ``residual``, plus a learned per-identity ``r_i``, zero at the start).

    Called with identity indices like an ``nn.Embedding``; ``weight`` is the ``(num_identities, z_dim)`` table.
    Every identity's latent moves with ``W``, so each feature has one direction in z shared by all identities.
    """

    def __init__(self, features: torch.Tensor, projection: torch.Tensor, residual: bool = False) -> None:
        super().__init__()
        self.register_buffer("features", features.float().clone())
        self.map = nn.Parameter(projection.float().clone())
        self.residual = nn.Parameter(torch.zeros(features.shape[0], projection.shape[1])) if residual else None

    @property
    def weight(self) -> torch.Tensor:
        z = self.features @ self.map
        return z if self.residual is None else z + self.residual

    def forward(self, identity: torch.Tensor) -> torch.Tensor:
        z = self.features[identity] @ self.map
        return z if self.residual is None else z + self.residual[identity]


class GeneratorNetwork(nn.Module):
    """Latents (per-identity embeddings and/or random z) -> rendered patches, through a trainable decoder."""

    def __init__(self, decoder: PiGANDecoder, num_identities: int, opts: RenderOptions, full_size: int, fov: float, seed: int,
                 features: torch.Tensor | None = None, linear: bool = False, residual: bool = False) -> None:
        """``features`` ``(num_identities, F)`` (standardised): latents start at their fixed random projection to
        ``z_dim`` (unit variance), so that similar identities start with similar codes; ``None``: N(0, I).
        ``linear`` (with ``features``): the latents stay a learned linear map of the features (:class:`LinearLatents`),
        with ``residual`` plus a learned per-identity residual."""
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
                self.latents = LinearLatents(features, projection, residual)
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


def cameras(yaw: torch.Tensor, pitch: torch.Tensor, device) -> torch.Tensor:
    """Camera-to-world matrices of public ``(yaw, pitch)`` in degrees."""
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


@dataclass
class StepResult:
    """What one micro-step of a stage produced (before the adversary's part)."""

    losses: dict[str, torch.Tensor]
    """The weighted losses, in the order they are summed."""
    adv_fake: torch.Tensor | None
    """Rendered patches for the patch GAN (``None``: no GAN this step)."""
    recon: torch.Tensor | None
    """The patches that ``losses["l2"]`` compared with the ground truth (for ``psnr_patch``), else ``None``."""


class Stage:
    """What the generic training loop needs of a stage. Subclasses set ``network``, ``gan_weight`` and ``fov``."""

    name: str
    network: nn.Module
    gan_weight: float
    fov: float

    def __init__(self, config: TrainConfig, train_set: MaskImageDataset, device: torch.device, lpips: nn.Module | None) -> None:
        self.config, self.train_set, self.device, self.lpips = config, train_set, device, lpips
        self.domain = get_domain(config.data.domain)

    def _set_render_options(self, ray_start: float, ray_end: float) -> None:
        """The training renders (``opts``) and the validation renders (``val_opts``) between these depths."""
        r = self.config.render
        self.opts = RenderOptions(
            num_samples=r.num_samples, hierarchical=r.hierarchical, ray_start=ray_start, ray_end=ray_end,
            lock_view_dependence=r.lock_view_dependence, last_back=self.domain.last_back_train,
        )
        self.val_opts = RenderOptions(num_samples=r.val_samples, ray_start=ray_start, ray_end=ray_end, deterministic=True)

    def param_groups(self) -> list[dict]:
        """The optimiser's parameter groups, each with its base learning rate ``lr``."""
        raise NotImplementedError

    def open_streams(self, start_draw: int, rank: int, world: int, loader) -> None:
        """Start data streams of the stage's own (``loader(dataset, sampler)`` makes a DataLoader) at draw ``start_draw``."""

    def train_mode(self, module: nn.Module) -> None:
        """Put the (wrapped) network in training mode, frozen parts excepted."""
        module.train()

    def step(self, module: nn.Module, batch: dict, step: int, pattern: torch.Tensor, real: torch.Tensor,
             generator: torch.Generator, autocast) -> StepResult:
        """The losses of one micro-step: ``module`` is the (wrapped) network, ``real`` the ground-truth patches cut
        with ``pattern``, ``generator`` the step's seeded generator, ``autocast`` Accelerate's context factory."""
        raise NotImplementedError

    def validation_field(self, item: dict):
        """The radiance field that a validation item renders (the network is in eval mode, without gradients)."""
        raise NotImplementedError

    def export(self, folder: Path, meta: dict, seconds: float) -> Path:
        """Write the stage's export with metadata ``meta`` (``seconds``: the wall time of the run); returns the folder."""
        raise NotImplementedError

    def reconstruction_losses(self, fake: torch.Tensor, opacity: torch.Tensor, real: torch.Tensor, batch: dict,
                              pattern: torch.Tensor, scale: float = 1.0) -> dict[str, torch.Tensor]:
        """The losses of patches rendered at the data's pose: L2 and LPIPS (times ``scale``), silhouette."""
        cfg = self.config.loss
        part_weight = cfg.part.weight if cfg.part is not None else 0.0
        losses = {"l2": scale * cfg.l2 * patch_l2(fake, real, batch.get("parts"), pattern, part_weight)}
        if cfg.silhouette > 0:  # the mask's own foreground at its own pose
            losses["silhouette"] = cfg.silhouette * silhouette_loss(opacity, batch["foreground"], pattern)
        if self.lpips is not None:
            losses["lpips"] = scale * cfg.lpips * self.lpips(fake, real).mean()
        return losses


class EncoderStage(Stage):
    """The paper's stage: masks -> FiLM codes through the trainable encoder, rendered by the frozen decoder."""

    name = "encoder"

    def __init__(self, config: TrainConfig, train_set: MaskImageDataset, device: torch.device, lpips: nn.Module | None,
                 common: dict, fit_region: bool = True) -> None:
        """``common``: the data sets' shared arguments (for ``encoder.latent.extra``); ``fit_region``: fit the region
        head before the first step (a resumed run loads it with its state instead)."""
        super().__init__(config, train_set, device, lpips)
        head = config.encoder.region_head
        model_kwargs = {**vars(config.model), "encoder_region_stats": head is not None,
                        "encoder_region_grid": head.grid if head is not None else 0}
        expect = {k: model_kwargs[k] for k in DECODER_KEYS}
        expect["domain"] = self.domain.name
        decoder, dcfg = load_decoder(config.decoder, expect=expect)
        with _weights_follow():  # the decoder and its latent average are set right below
            model = Sem2NeRF(domain=self.domain.name, fov=dcfg.get("fov"), ray_start=dcfg.get("ray_start"),
                             ray_end=dcfg.get("ray_end"), **model_kwargs)
        model.decoder.load_state_dict(decoder.state_dict())
        avg_f, avg_p = model.decoder.average_code(config.model.latent_avg_samples, config.seed)
        model.latent_avg_freq.copy_(avg_f)
        model.latent_avg_phase.copy_(avg_p)
        self.model, self.fov = model, model.fov
        self._set_render_options(model.ray_start, model.ray_end)
        self.network = EncoderNetwork(model, self.opts, config.data.image_size)
        self.gan_weight = config.encoder.gan
        prob = config.encoder.random_pose_prob
        self.random_pose_prob = prob if prob is not None else self.domain.random_pose_prob
        self.region = list(model.encoder.region_head.parameters()) if model.encoder.region_head is not None else []
        for p in self.region:  # the region head keeps the least-squares fit it starts from
            p.requires_grad_(False)
        self.code_targets = self.code_scale = self.feature_map = None
        self.extra_set = self.extra_targets = self.extra_batches = None  # encoder.latent.extra: masks for the loss only
        if config.encoder.latent is not None:
            self._set_code_targets(common)
        if self.region and fit_region:
            sources = [(train_set, self.code_targets)]
            if self.extra_set is not None:
                sources.append((self.extra_set, self.extra_targets))
            start = torch.cat((model.latent_avg_freq, model.latent_avg_phase), 1)[0]
            fit_region_head(model.encoder, sources, start, batch_size=64, workers=config.data.workers)

    def _set_code_targets(self, common: dict) -> None:
        """``encoder.latent``: each training identity's code read out from what its mask can tell (and the extra masks')."""
        config, device, latent = self.config, self.device, self.config.encoder.latent
        codes, scale = identity_code_targets(config.decoder, self.model.decoder, self.train_set)
        targets = fit_readout_targets(codes, self.train_set)
        self.code_targets, self.code_scale = targets.codes(self.train_set).to(device), scale.to(device)
        if latent.params > 0:
            self.feature_map = targets.readout.feature_error_map(scale).to(device)
        if latent.extra is not None:
            self.extra_set = MaskImageDataset(**{**common, "root": latent.extra.root}, id_list=config.data.train_list,
                                              mask_realism=config.encoder.mask_realism, realism_seed=config.seed + 1)
            self.extra_targets = targets.codes(self.extra_set).to(device)

    def param_groups(self) -> list[dict]:
        encoder = self.model.encoder.parameters()
        return [{"params": [p for p in encoder if all(p is not q for q in self.region)], "lr": self.config.optim.lr}]

    def open_streams(self, start_draw: int, rank: int, world: int, loader) -> None:
        if self.extra_set is not None:  # its own seeded stream, so --resume continues it exactly too
            config = self.config
            sampler = StepBatchSampler(len(self.extra_set), config.encoder.latent.extra.batch, config.seed + 1, rank, world,
                                       start_draw, config.encoder.mask_realism > 0)
            self.extra_batches = iter(loader(self.extra_set, sampler))

    def train_mode(self, module: nn.Module) -> None:
        module.train()
        self.model.decoder.eval()

    def _code_loss(self, delta_f: torch.Tensor, delta_p: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        latent, model = self.config.encoder.latent, self.model
        code = torch.cat((delta_f + model.latent_avg_freq, delta_p + model.latent_avg_phase), 1)
        return latent.weight * code_loss(code, target, self.code_scale, self.feature_map, latent.params)

    def step(self, module, batch, step, pattern, real, generator, autocast) -> StepResult:
        cfg, device, b = self.config.encoder, self.device, real.shape[0]
        warmup = cfg.latent is not None and step < cfg.latent.warmup_steps  # codes only: no render, no GAN
        prob = self.random_pose_prob
        random_step = not warmup and prob > 0 and float(torch.rand(1, generator=generator)) < prob
        yaw, pitch = random_poses(b, self.domain.name, generator) if random_step else (batch["yaw"], batch["pitch"])
        extra = next(self.extra_batches) if self.extra_batches is not None else None
        extra_x = extra["x"].to(device) if extra is not None else None
        cams = None if warmup else cameras(yaw, pitch, device)
        with autocast():
            fake, opacity, delta_f, delta_p = module(batch["x"].to(device), cams, pattern, generator, extra_x)
        losses: dict[str, torch.Tensor] = {}
        if extra is not None:  # the extra masks' codes are only regressed, never rendered
            losses["latent_extra"] = self._code_loss(delta_f[b:], delta_p[b:], self.extra_targets[extra["identity"].to(device)])
            delta_f, delta_p = delta_f[:b], delta_p[:b]
        fake = fake.float() if fake is not None else None
        recon = fake if fake is not None and not random_step else None
        if recon is not None:
            losses.update(self.reconstruction_losses(recon, opacity, real, batch, pattern))
        if cfg.w_norm > 0:
            losses["w_norm"] = cfg.w_norm * w_norm(delta_f, delta_p, self.model.decoder.num_film_layers)
        if cfg.latent is not None:  # the mask's identity code from the generator stage (any pose)
            losses["latent"] = self._code_loss(delta_f, delta_p, self.code_targets[batch["identity"].to(device)])
        return StepResult(losses, fake, recon)

    def validation_field(self, item: dict):
        freq, phase = self.model.encode_tensor(item["x"][None].to(self.device))
        return self.model.decoder.modulate(freq, phase)

    def export(self, folder: Path, meta: dict, seconds: float) -> Path:
        config, model, metrics = self.config, self.model, meta["validation"]
        if model.encoder.region_head is not None:  # the head is final now: clamp its output to its training range
            region_sets = [self.train_set] + ([self.extra_set] if self.extra_set is not None else [])
            set_region_output_range(model.encoder, region_sets, workers=config.data.workers)
        metric_text = (
            f"Validation after {config.train.max_steps} steps ({metrics.get('count', 0)} held-out masks, full "
            f"{config.render.val_size}px renders at the annotated pose): PSNR {metrics.get('psnr', float('nan')):.2f} dB, "
            f"L2 {metrics.get('l2', float('nan')):.5f}."
        )
        training = f"\n\nTrained for {config.train.max_steps} steps in {seconds / 60:.1f} min on {meta['hardware']}."
        model.save_pretrained(folder, model_card_kwargs={
            "training_data": meta["data"] + training, "training_command": meta["training_command"] or "",
            "metrics": metric_text,
        })
        (folder / "training.json").write_text(json.dumps(meta, indent=2) + "\n")
        return folder


class GeneratorStage(Stage):
    """Decoder pre-training: per-identity latents and/or random codes -> patches through a trainable pi-GAN decoder."""

    name = "generator"

    def __init__(self, config: TrainConfig, train_set: MaskImageDataset, device: torch.device, lpips: nn.Module | None) -> None:
        super().__init__(config, train_set, device, lpips)
        cfg = config.generator
        decoder = PiGANDecoder(**{arg: getattr(config.model, key) for key, arg in DECODER_KEYS.items()})
        self.fov = self.domain.fov
        self._set_render_options(self.domain.ray_start, self.domain.ray_end)
        if cfg.recon is not None and not train_set.has_identities:
            raise ConfigError(
                f"generator.recon needs identities.json in {config.data.root} (several views per identity, e.g. SynthFaces); "
                "for single-view collections use generator.recon=null generator.adv=1"
            )
        n_ids = train_set.num_identities if cfg.recon is not None or cfg.geometry is not None else 0
        features = train_set.identity_features() if n_ids and cfg.latents.init == "params" else None
        self.network = GeneratorNetwork(decoder, n_ids, self.opts, config.data.image_size, self.fov, config.seed, features,
                                        cfg.latents.linear, cfg.latents.residual > 0)
        self.decoder = decoder
        self.gan_weight = cfg.adv

    def param_groups(self) -> list[dict]:
        lr, cfg, density = self.config.optim.lr, self.config.generator, list(self.decoder.density.parameters())
        groups = [
            {"params": [p for p in self.decoder.parameters() if all(p is not q for q in density)], "lr": lr},
            {"params": density, "lr": lr * cfg.density_lr_scale},
        ]
        latents = self.network.latents
        if latents is not None:
            residual = getattr(latents, "residual", None)
            groups.append({"params": [p for p in latents.parameters() if p is not residual], "lr": cfg.latents.lr})
            if residual is not None:
                groups.append({"params": [residual], "lr": cfg.latents.residual_lr})
        return groups

    def step(self, module, batch, step, pattern, real, generator, autocast) -> StepResult:
        cfg, device, b = self.config.generator, self.device, real.shape[0]
        ids = batch["identity"].to(device) if self.network.latents is not None else None
        z_rand = torch.randn(b, self.decoder.z_dim, generator=generator).to(device) if cfg.adv > 0 else None
        yaw, pitch = batch["yaw"], batch["pitch"]
        render_ids = ids is not None and cfg.recon is not None and step % cfg.recon.every == 0
        cams = cameras(yaw, pitch, device) if render_ids else None
        if z_rand is not None:  # random codes at poses of the data (the empirical pose distribution)
            perm = torch.randperm(b, generator=generator)
            adv_cams = cameras(yaw[perm], pitch[perm], device)
            if ids is not None and not render_ids:  # identity codes ride along unrendered: render them too
                cams = cameras(yaw, pitch, device)
            cams = torch.cat((cams, adv_cams)) if ids is not None else adv_cams
        n_parts = (ids is not None) + (z_rand is not None) if cams is not None else 0
        points = batch["points"].to(device) if self.train_set.geometry_points else None
        with autocast():
            fake, opacity, z, at_points = module(ids, z_rand, cams, pattern.repeat(max(n_parts, 1), 1, 1, 1), generator, points)
        fake = fake.float() if fake is not None else None
        losses: dict[str, torch.Tensor] = {}
        recon = None
        if ids is not None:
            if render_ids:
                recon = fake[:b]
                losses.update(self.reconstruction_losses(recon, opacity[:b], real, batch, pattern, cfg.recon.weight))
            losses["z_reg"] = cfg.z_reg * z[:b].pow(2).mean()
            residual = getattr(self.network.latents, "residual", None)
            if residual is not None:
                losses["latent_residual"] = cfg.latents.residual * residual[ids].pow(2).mean()
        if at_points is not None:
            losses["geometry"] = cfg.geometry.weight * geometry_loss(
                at_points.float(), batch["point_rgb"].to(device), batch["point_sigma"].to(device),
            )
        return StepResult(losses, fake[-b:] if z_rand is not None else None, recon)

    def validation_field(self, item: dict):
        latents = self.network.latents
        z = latents(item["identity"][None].to(self.device)) if latents is not None else \
            torch.zeros(1, self.decoder.z_dim, device=self.device)
        freq, phase = self.decoder.mapping(z)
        return self.decoder.modulate(freq, phase)

    def export(self, folder: Path, meta: dict, seconds: float) -> Path:
        latents, data = None, self.train_set
        if self.network.latents is not None and data.identity_names is not None:  # by name, for the encoder's encoder.latent
            trained = sorted(set(data.identity))
            latents = ([data.identity_names[k] for k in trained], self.network.latents.weight.detach()[torch.tensor(trained)])
        return save_decoder(self.decoder, folder, domain=self.config.data.domain, metadata=meta, identity_latents=latents)


def make_stage(config: TrainConfig, train_set: MaskImageDataset, device: torch.device, lpips: nn.Module | None,
               common: dict, resuming: bool = False) -> Stage:
    """The stage ``config.stage`` names, built (and for the encoder stage, fitted) for ``train_set``."""
    if config.stage == "encoder":
        return EncoderStage(config, train_set, device, lpips, common, fit_region=not resuming)
    return GeneratorStage(config, train_set, device, lpips)
