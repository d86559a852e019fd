"""The training loop of both stages, on Accelerate (one CPU to many GPUs).

:func:`train` is one generic loop; what differs between the stages (the network, its parameter groups, the losses
of a step, what validation renders, the export) is the stage object's (:mod:`sem2nerf.training.stages`). Every
random number of a step comes from generators seeded by ``(seed, step, micro-step, rank)`` and batches from
:class:`~sem2nerf.training.data.StepBatchSampler`, so ``--resume`` continues exactly where the run stopped.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from PIL import Image

from ..camera import PatchSchedule, sample_patch_pattern
from ..domains import get_domain
from ..labels import get_label_scheme
from ..renderer import render_poses
from ..trajectories import Pose
from ..views import to_pil
from .checkpoints import resolve_resume, save_checkpoint
from .config import ConfigError, TrainConfig
from .data import MaskImageDataset, StepBatchSampler
from .losses import PatchAdversary, cut_patch, load_lpips, psnr
from .optim import learning_rate, make_optimizer, set_learning_rate
from .stages import Stage, make_stage

__all__ = ["build_datasets", "command_line", "train", "validate"]

CONFIG_FILE = "config.yaml"
NOVEL_YAWS = (-25.0, 25.0)  # validation sheets: each item also at these yaw offsets


def step_generator(seed: int, step: int, micro: int, rank: int) -> torch.Generator:
    """The generator of one micro-step of one process (patches, random poses, codes, ray jitter)."""
    return torch.Generator().manual_seed(((seed * 1_000_003 + step) * 64 + micro) * 4096 + rank)


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


class _RunningMeans:
    """Per key, the mean over the steps since the last log that had it (``generator.recon.every``, random-pose steps)."""

    def __init__(self, accum: int) -> None:
        self.accum, self.sums, self.counts = accum, {}, {}

    def add(self, key: str, value: float) -> None:
        self.sums[key] = self.sums.get(key, 0.0) + value / self.accum
        self.counts[key] = self.counts.get(key, 0.0) + 1.0 / self.accum

    def add_step(self, losses: dict, total: torch.Tensor, recon: torch.Tensor | None, real: torch.Tensor) -> None:
        """A micro-step's losses, their total and (reconstruction steps) the patches' PSNR."""
        for k, v in losses.items():
            self.add(k, float(v.detach()))
        self.add("total", float(total.detach()))
        if recon is not None:
            with torch.no_grad():
                self.add("psnr_patch", float(psnr(recon, real).mean()))

    def mean(self, key: str) -> float:
        return self.sums.get(key, 0.0) / max(self.counts.get(key, 0.0), 1e-9)

    def pop(self) -> dict[str, float]:
        means = {k: v / self.counts[k] for k, v in self.sums.items()}
        self.sums, self.counts = {}, {}
        return means


def build_datasets(config: TrainConfig) -> tuple[MaskImageDataset, MaskImageDataset, dict]:
    """The training and validation sets a config asks for, and the keyword arguments they share (for more sets).

    The training set carries what the config's losses read: foreground (``loss.silhouette``), part fractions
    (``loss.part``) and, in the generator stage, 3D points (``generator.geometry`` with its points, reach and focus).
    ``encoder.mask_realism`` augments the training set's encoder input (seeded by ``config.seed``), never the
    validation set's; ``common`` leaves it out (a set built from it reads exact masks unless given ``mask_realism``).
    The encoder stage validates on held-out masks, the generator stage on its training identities.
    """
    part, geometry = config.loss.part, config.generator.geometry
    domain = get_domain(config.data.domain)
    encoder_size = config.model.encoder_size if config.stage == "encoder" else None
    common = {
        "root": config.data.root, "domain": domain, "image_size": config.data.image_size, "encoder_size": encoder_size,
        "use_contour": config.model.use_contour, "contour_skip": config.model.contour_skip,
    }
    part_labels = None
    if part is not None:
        part_labels = part.labels or list(domain.small_parts)
        if not part_labels:
            raise ConfigError(f"loss.part: domain {config.data.domain} names no small_parts; set loss.part.labels")
    with_geometry = config.stage == "generator" and geometry is not None
    train_set = MaskImageDataset(id_list=config.data.train_list, geometry_points=geometry.points if with_geometry else 0,
                                 geometry_reach=(geometry.reach or None) if geometry is not None else None,
                                 geometry_focus=geometry.focus if geometry is not None else 0.0,
                                 with_foreground=config.loss.silhouette > 0, part_labels=part_labels,
                                 mask_realism=config.encoder.mask_realism, realism_seed=config.seed, **common)
    val_list = config.data.val_list if config.stage == "encoder" else config.data.train_list
    val_set = MaskImageDataset(id_list=val_list, limit=config.data.val_samples, with_mask=True, **common)
    return train_set, val_set, common


def _accelerator(config: TrainConfig, out: Path):
    """Accelerate's ``Accelerator`` for the run (TensorBoard tracking when installed) and the tracker name or ``None``."""
    from accelerate import Accelerator

    try:
        from accelerate.utils import is_tensorboard_available
    except ImportError:  # pragma: no cover
        def is_tensorboard_available() -> bool:
            return False

    trackers = "tensorboard" if is_tensorboard_available() else None
    accelerator = Accelerator(mixed_precision=config.train.mixed_precision, gradient_accumulation_steps=config.train.grad_accum,
                              log_with=trackers, project_dir=str(out))
    if config.train.mixed_precision == "bf16" and accelerator.device.type == "cpu":
        raise ConfigError("train.mixed_precision=bf16 on a CPU is ~100x slower than fp32 here: use 'no' on CPU")
    return accelerator, trackers


def _loader(dataset, sampler, workers: int, pin: bool) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=workers, persistent_workers=workers > 0,
                                       pin_memory=pin)


def train(config: TrainConfig, resume: str | None = None, command: str | None = None) -> Path:
    """Run one training stage; returns the export folder (a Hub model folder or a decoder folder)."""
    from accelerate.utils import set_seed

    out = Path(config.output_dir)
    resume_dir, start_step = resolve_resume(out, resume, config)
    accelerator, trackers = _accelerator(config, out)
    set_seed(config.seed)
    device, rank, world = accelerator.device, accelerator.process_index, accelerator.num_processes
    loop, r = config.train, config.render

    # fail fast: data, decoder, LPIPS
    train_set, val_set, common = build_datasets(config)
    lpips_model = load_lpips(device) if config.loss.lpips > 0 else None
    stage = make_stage(config, train_set, device, lpips_model, common, resuming=resume_dir is not None)
    schedule = PatchSchedule(resolution=r.patch_resolution, min_scale=r.min_scale, max_scale=r.max_scale, anneal=r.anneal,
                             random_shift=r.random_shift, mode=r.patch_mode)
    groups = stage.param_groups()
    base_lrs = [g["lr"] for g in groups]
    optimizer = make_optimizer(groups, config.optim.lr, config.optim)
    adversary = None
    if stage.gan_weight > 0:
        adversary = PatchAdversary(accelerator, r.patch_resolution, stage.gan_weight, config.loss.r1, config.optim.lr_dis,
                                   config.optim)
    module, optimizer = accelerator.prepare(stage.network, optimizer)
    if resume_dir is not None:
        accelerator.load_state(str(resume_dir))
    accum = loop.grad_accum
    loader = partial(_loader, workers=config.data.workers, pin=device.type == "cuda")
    with_draw = config.encoder.mask_realism > 0  # items come as (index, epoch): the seed of their mask realism
    batches = iter(loader(train_set, StepBatchSampler(len(train_set), loop.batch_size, config.seed, rank, world,
                                                      start_step * accum, with_draw)))
    stage.open_streams(start_step * accum, rank, world, loader)
    logger, progress = _Logger(accelerator, out), None
    if accelerator.is_main_process:
        from tqdm.auto import tqdm

        out.mkdir(parents=True, exist_ok=True)
        (out / CONFIG_FILE).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
        if command:
            (out / "command.txt").write_text(command + "\n")
        progress = tqdm(total=loop.max_steps, initial=start_step, desc=f"{config.stage} stage", dynamic_ncols=True)
    if trackers:
        accelerator.init_trackers("sem2nerf", config={k: str(v) for k, v in config.to_dict().items()})

    started, last_log, last_log_step = time.time(), time.time(), start_step
    means, metrics = _RunningMeans(accum), {}
    stage.train_mode(module)
    for step in range(start_step, loop.max_steps):
        lrs = [learning_rate(b, step, loop.max_steps, config.optim.scheduler) for b in base_lrs]
        set_learning_rate(optimizer, lrs)
        if adversary is not None:
            set_learning_rate(adversary.optimizer, [learning_rate(config.optim.lr_dis, step, loop.max_steps, config.optim.scheduler)])
        for micro in range(accum):
            batch = next(batches)
            gen = step_generator(config.seed, step, micro, rank)
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))  # drop-path and other global draws
            image = batch["image"].to(device)
            pattern = sample_patch_pattern(image.shape[0], step, schedule, generator=gen, device=device)
            real = cut_patch(image, pattern)
            with accelerator.accumulate(module):
                result = stage.step(module, batch, step, pattern, real, gen, accelerator.autocast)
                losses, adversarial = result.losses, adversary is not None and result.adv_fake is not None
                if adversarial:
                    losses["g_gan"] = adversary.generator_loss(result.adv_fake)
                total = sum(losses.values())
                if not torch.isfinite(total):
                    raise FloatingPointError(f"step {step}: the loss is not finite ({ {k: float(v) for k, v in losses.items()} })")
                accelerator.backward(total)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                if adversarial:
                    losses.update(adversary.update(real, result.adv_fake))
            means.add_step(losses, total, result.recon, real)
        done = step + 1
        if progress is not None:
            progress.update(1)
            if done % max(1, min(10, loop.log_every)) == 0:
                progress.set_postfix(loss=f"{means.mean('total'):.4f}")
        if done % loop.log_every == 0 or done == loop.max_steps:
            now = time.time()
            logger.log({**means.pop(), "lr": lrs[0], "steps_per_s": (done - last_log_step) / max(now - last_log, 1e-9),
                        "elapsed_s": now - started}, done)
            last_log, last_log_step = now, done
        if done % loop.val_every == 0 or done == loop.max_steps:
            metrics = validate(stage, val_set, accelerator, out, done)
            logger.log({f"val_{k}": v for k, v in metrics.items()}, done)
            stage.train_mode(module)
        if done % loop.save_every == 0 or done == loop.max_steps:
            save_checkpoint(accelerator, out, done, config, (stage.network, *([adversary.disc] if adversary else [])))
    if progress is not None:
        progress.close()
    accelerator.wait_for_everyone()
    export = out / "export"
    if accelerator.is_main_process:
        export = _export(stage, export, metrics, command, time.time() - started, start_step)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return export


@torch.no_grad()
def validate(stage: Stage, val_set: MaskImageDataset, accelerator, out: Path, step: int) -> dict[str, float]:
    """Full-frame renders of the validation items at their poses: PSNR/L2 gathered over processes; a PNG sheet on the
    main process (per item: the mask, the render at its pose and at ``NOVEL_YAWS``, the ground truth)."""
    rank, world, device = accelerator.process_index, accelerator.num_processes, accelerator.device
    size = stage.config.render.val_size
    stage.network.eval()
    per_item_psnr, per_item_l2, rows = [], [], []
    for i in range(rank, len(val_set), world):
        item = val_set[i]
        field = stage.validation_field(item)
        yaw, pitch = float(item["yaw"]), float(item["pitch"])
        poses = [Pose(yaw + dyaw, pitch, stage.fov) for dyaw in (0.0, *NOVEL_YAWS)]
        views = [o.rgb[0] for o in render_poses(field, poses, size, stage.val_opts, seed=None, device=device)]
        gt = F.interpolate(item["image"][None], size=(size, size), mode="bilinear", align_corners=False)[0].to(device)
        per_item_psnr.append(psnr(views[0][None], gt[None])[0])
        per_item_l2.append(F.mse_loss(views[0], gt))
        colour = get_label_scheme(val_set.domain.raw_scheme).colorize(item["mask"].numpy())
        cells = [colour, *(np.asarray(to_pil(v)) for v in (*views, gt))]
        rows.append((int(item["index"]), [np.asarray(Image.fromarray(c).resize((size, size), Image.NEAREST)) for c in cells]))
    psnr_all, l2_all = [torch.stack(v) if v else torch.zeros(0, device=device) for v in (per_item_psnr, per_item_l2)]
    if world > 1:
        psnr_all, l2_all = accelerator.gather_for_metrics((psnr_all, l2_all), use_gather_object=False)
        gathered = [None] * world
        torch.distributed.all_gather_object(gathered, rows)
        rows = [r for part in gathered for r in part]
    if accelerator.is_main_process and rows:
        rows.sort(key=lambda r: r[0])
        sheet = np.concatenate([np.concatenate(cells, axis=1) for _, cells in rows], axis=0)
        (out / "val").mkdir(parents=True, exist_ok=True)
        Image.fromarray(sheet).save(out / "val" / f"step_{step:08d}.png")
    return {"psnr": float(psnr_all.mean()) if psnr_all.numel() else math.nan,
            "l2": float(l2_all.mean()) if l2_all.numel() else math.nan, "count": int(psnr_all.numel())}


def _export(stage: Stage, folder: Path, metrics: dict, command: str | None, seconds: float, start_step: int) -> Path:
    """The stage's export with the run's metadata (``training.json`` / the decoder folder's metadata)."""
    config = stage.config
    hardware = (torch.cuda.get_device_name(0) if torch.cuda.is_available() else
                f"CPU{_cpu_name()} ({os.cpu_count()} logical cores, {torch.get_num_threads()} torch threads)")
    meta = {
        "training_command": command,
        "stage": config.stage,
        "steps": config.train.max_steps,
        "resumed_from_step": start_step,
        "wall_time_s": round(seconds, 1),
        "hardware": hardware,
        "data": _describe_data(config, stage.train_set),
        "validation": metrics,
        "config_fingerprint": config.fingerprint(),
    }
    return stage.export(folder, meta, seconds)


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
