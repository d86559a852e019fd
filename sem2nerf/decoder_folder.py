"""Decoder folders: a pi-GAN decoder on its own, as the generator stage exports it and the encoder stage loads it.

A decoder folder holds ``decoder_config.json`` (the decoder's size, its domain and camera) and
``decoder.safetensors`` (a :class:`~sem2nerf.decoder.PiGANDecoder` state dict, our key names).
Converted official pi-GAN checkpoints (``python -m sem2nerf convert``) and our generator-stage
exports share this layout, so the encoder stage takes either as its frozen decoder.

A generator-stage export trained by multi-view reconstruction also holds
``identity_latents.safetensors``: the learnt latent ``z`` of every training identity, by name
(the encoder stage can regress their FiLM codes, ``encoder.latent``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from .decoder import PiGANDecoder
from .errors import ModelLoadError

__all__ = [
    "DECODER_CONFIG_NAME",
    "DECODER_FORMAT",
    "DECODER_KEYS",
    "DECODER_WEIGHTS_NAME",
    "IDENTITY_LATENTS_NAME",
    "load_decoder",
    "load_identity_latents",
    "save_decoder",
]

DECODER_CONFIG_NAME = "decoder_config.json"
DECODER_WEIGHTS_NAME = "decoder.safetensors"
DECODER_FORMAT = "sem2nerf-decoder/1"
IDENTITY_LATENTS_NAME = "identity_latents.safetensors"

# Sem2NeRF config key -> PiGANDecoder argument (the same names as in a full model's config.json).
DECODER_KEYS = {
    "decoder_hidden_dim": "hidden_dim",
    "decoder_num_layers": "num_layers",
    "decoder_z_dim": "z_dim",
    "decoder_mapping_hidden_dim": "mapping_hidden_dim",
    "decoder_mapping_depth": "mapping_depth",
    "decoder_box_size": "box_size",
}


def decoder_config(decoder: PiGANDecoder) -> dict[str, Any]:
    """The ``decoder_*`` config entries that rebuild ``decoder``."""
    return {
        "decoder_hidden_dim": decoder.hidden_dim,
        "decoder_num_layers": decoder.num_layers,
        "decoder_z_dim": decoder.z_dim,
        "decoder_mapping_hidden_dim": decoder.mapping.network[0].out_features,
        "decoder_mapping_depth": (len(decoder.mapping.network) - 1) // 2,
        "decoder_box_size": decoder.box_size,
    }


def save_decoder(
    decoder: PiGANDecoder,
    folder: str | os.PathLike,
    *,
    domain: str,
    fov: float | None = None,
    ray_start: float | None = None,
    ray_end: float | None = None,
    metadata: dict[str, Any] | None = None,
    identity_latents: tuple[list[str], torch.Tensor] | None = None,
) -> Path:
    """Write ``decoder`` to a decoder folder (created if needed); returns the folder.

    ``domain`` and the camera (``None``: the domain's defaults) say what the decoder was trained
    for; ``metadata`` (JSON-serialisable: source, training command, metrics...) is stored alongside;
    ``identity_latents`` ``(names, z (N, z_dim))`` go to :data:`IDENTITY_LATENTS_NAME`.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {"format": DECODER_FORMAT, "domain": domain, **decoder_config(decoder)}
    config.update({k: v for k, v in (("fov", fov), ("ray_start", ray_start), ("ray_end", ray_end)) if v is not None})
    if metadata:
        config["metadata"] = metadata
    state = {k: v.detach().cpu().contiguous() for k, v in decoder.state_dict().items()}
    save_file(state, str(folder / DECODER_WEIGHTS_NAME), metadata={"format": DECODER_FORMAT})
    (folder / DECODER_CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    if identity_latents is not None:
        names, z = identity_latents
        if z.ndim != 2 or z.shape != (len(names), decoder.z_dim):
            raise ValueError(f"identity latents must be ({len(names)}, {decoder.z_dim}), got {tuple(z.shape)}")
        save_file({"z": z.detach().float().cpu().contiguous()}, str(folder / IDENTITY_LATENTS_NAME),
                  metadata={"format": DECODER_FORMAT, "names": json.dumps(list(names))})
    return folder


def load_identity_latents(folder: str | os.PathLike) -> tuple[list[str], torch.Tensor] | None:
    """The identity latents of a decoder folder, ``(names, z (N, z_dim))``, or ``None`` when it has none."""
    from safetensors import SafetensorError, safe_open

    path = Path(folder) / IDENTITY_LATENTS_NAME
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            names = json.loads((fh.metadata() or {}).get("names", "null"))
            z = fh.get_tensor("z")
    except (SafetensorError, OSError, ValueError, KeyError) as err:
        raise ModelLoadError(f"cannot read {path}: {err}") from err
    if not isinstance(names, list) or z.ndim != 2 or z.shape[0] != len(names):
        raise ModelLoadError(f"{path} is not an identity-latents file (a name per row of z expected)")
    return [str(n) for n in names], z


def load_decoder(folder: str | os.PathLike, expect: dict[str, Any] | None = None) -> tuple[PiGANDecoder, dict[str, Any]]:
    """Load a decoder folder strictly -> ``(decoder, config)``.

    ``expect`` maps config keys (``decoder_hidden_dim``, ``domain``...) to the values the caller
    needs; any difference raises :class:`ModelLoadError` naming every mismatched key.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .model import load_state_strictly

    folder = Path(folder)
    config_file, weights_file = folder / DECODER_CONFIG_NAME, folder / DECODER_WEIGHTS_NAME
    if not folder.is_dir():
        raise ModelLoadError(f"no decoder folder at {folder}")
    if not config_file.is_file() or not weights_file.is_file():
        hint = " (official pi-GAN .pth files must be converted first: `python -m sem2nerf convert`)" if any(folder.glob("*.pth")) else ""
        raise ModelLoadError(f"decoder folder {folder} needs {DECODER_CONFIG_NAME} and {DECODER_WEIGHTS_NAME}{hint}")
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"cannot read {config_file}: {err}") from err
    if not isinstance(config, dict) or config.get("format") != DECODER_FORMAT:
        raise ModelLoadError(f"{config_file} is not a sem2nerf decoder config (format {DECODER_FORMAT!r} expected)")
    missing = [k for k in DECODER_KEYS if k not in config]
    if missing:
        raise ModelLoadError(f"{config_file} lacks {', '.join(missing)}")
    if expect:
        wrong = {k: (config.get(k), v) for k, v in expect.items() if config.get(k) != v and not _close(config.get(k), v)}
        if wrong:
            detail = ", ".join(f"{k}: folder has {have!r}, config wants {want!r}" for k, (have, want) in sorted(wrong.items()))
            raise ModelLoadError(f"decoder folder {folder} does not match the training config ({detail})")
    decoder = PiGANDecoder(**{arg: config[key] for key, arg in DECODER_KEYS.items()})
    try:
        state = load_file(str(weights_file), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelLoadError(f"cannot read {weights_file}: missing, truncated or not safetensors ({err})") from err
    load_state_strictly(decoder, state, source=str(weights_file))
    return decoder, config


def _close(a: Any, b: Any) -> bool:
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))

