"""Checkpoints of a run: ``accelerator.save_state`` plus ``train_state.json`` (the step, the config fingerprint and
every rank's weights digest), and how ``--resume`` finds one and refuses another config's."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import torch
from torch import nn

from .config import ConfigError, TrainConfig

__all__ = ["STATE_FILE", "resolve_resume", "save_checkpoint", "weights_digest"]

STATE_FILE = "train_state.json"


def weights_digest(*modules: nn.Module) -> str:
    """SHA-256 of every parameter and buffer of ``modules`` (identical on every rank when DDP keeps them in sync)."""
    h = hashlib.sha256()
    for module in modules:
        for key, value in sorted(module.state_dict().items()):
            h.update(key.encode())
            h.update(value.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def resolve_resume(out: Path, resume: str | None, config: TrainConfig) -> tuple[Path | None, int]:
    """The checkpoint folder ``--resume`` names (``latest``: the newest in ``out``) and its step; ``(None, 0)`` without.
    Refuses a checkpoint written with another config (another fingerprint)."""
    if resume is None:
        return None, 0
    if resume == "latest":
        ckpts = sorted((out / "checkpoints").glob("step_*")) if (out / "checkpoints").is_dir() else []
        if not ckpts:
            raise ConfigError(f"--resume latest: no checkpoint in {out / 'checkpoints'}")
        path = ckpts[-1]
    else:
        path = Path(resume)
        if not (path / STATE_FILE).is_file():
            raise ConfigError(f"--resume {resume}: not a checkpoint folder of this training script (no {STATE_FILE})")
    state = json.loads((path / STATE_FILE).read_text())
    if state.get("fingerprint") != config.fingerprint():
        raise ConfigError(
            f"--resume {path}: that checkpoint was written with another config (fingerprint {state.get('fingerprint')} "
            f"!= {config.fingerprint()}); resume with the same config (only max_steps, intervals and paths may change)"
        )
    return path, int(state["step"])


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
