"""Convert the official Sem2NeRF and pi-GAN checkpoints into folders this package loads, safely and strictly.

* ``sem2nerf_celebahq_pretrained.pt`` / ``sem2nerf_catmask_pretrained.pt`` (a dict with ``state_dict``,
  ``opts`` and ``latent_avg``, official-sem2nerf.md 6.7) become a model folder (``config.json`` +
  ``model.safetensors`` + model card) that :meth:`Sem2NeRF.from_pretrained` loads. The config is read
  from ``opts`` (domain, input channels, contour use, the curriculum's camera) and set to reproduce the
  official behaviour (``contour_skip="smallest"``).
* ``pigan-celeba-pretrained.pth`` / ``pigan-cats2-pretrained.pth`` (plain decoder state dicts, section
  1.7) become a decoder folder (:mod:`sem2nerf.decoder_folder`), the frozen decoder of the training
  script's encoder stage.

Files are read with ``torch.load(weights_only=True)`` only. Every key and shape is checked against the
official layout before anything is written, and problems are reported by name (the official loader
uses ``strict=False`` for the decoder, so there a mismatch passes silently). The Swin v1 encoder keys
are mapped onto timm's with timm's own ``checkpoint_filter_fn``; its 17 buffers are dropped because
timm recomputes them (after checking that they agree). Converted folders can be published with
:func:`push_folder`.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .decoder import PiGANDecoder, official_decoder_key_map
from .decoder_folder import DECODER_CONFIG_NAME, DECODER_KEYS, DECODER_WEIGHTS_NAME, decoder_config, load_decoder, save_decoder
from .domains import get_domain, list_domains
from .errors import ModelLoadError, Sem2NeRFError
from .hub import offline_mode
from .labels import get_label_scheme
from .model import CONFIG_NAME, WEIGHTS_NAME, Sem2NeRF, _weights_follow, load_state_strictly, name_list, state_problems

__all__ = [
    "ConversionReport",
    "convert_checkpoint",
    "decoder_from_official",
    "load_official_checkpoint",
    "model_from_official",
    "official_encoder_layout",
    "push_folder",
    "upload_plan",
]

SEM2NERF_PAPER = "https://arxiv.org/abs/2203.10821"
PIGAN_PAPER = "https://arxiv.org/abs/2012.00926"
SEM2NERF_REPO = "https://github.com/donydchen/sem2nerf"
PIGAN_REPO = "https://github.com/marcoamonteiro/pi-GAN"
CARD_NAME = "README.md"

# Names the official code uses for its two set-ups (the cat set-up was called PseudoCats before CatMask).
OFFICIAL_CURRICULA = {"CelebAMask_HQ": "celebamask_hq", "CatMask": "catmask", "PseudoCats": "catmask"}
OFFICIAL_DATASET_TYPES = {
    "celebahq_seg_to_3dface": "celebamask_hq",
    "catmask_seg_to_3dface": "catmask",
    "pseudocats_seg_to_3dface": "catmask",
}
OFFICIAL_PIGAN_FILES = {"pigan-celeba-pretrained.pth": "celebamask_hq", "pigan-cats2-pretrained.pth": "catmask"}

# What a model card says about the data behind each official set-up.
_DOMAIN_FACTS = {
    "celebamask_hq": (
        "CelebAMask-HQ",
        ("CelebAMask-HQ masks (16 merged classes) and images, with the pi-GAN CelebA decoder, as in the official "
        "repository. CelebAMask-HQ may be used for non-commercial research purposes only."),
    ),
    "catmask": (
        "CatMask",
        ("CatMask (a pseudo data set of pi-GAN cat renders labelled with DatasetGAN; 8 merged classes), with the "
        "pi-GAN cats decoder, as in the official repository."),
    ),
}
_LICENCE_NOTE = (
    "The official Sem2NeRF code is MIT-licensed ({sem2nerf_repo}); the weights themselves come with no licence "
    "statement of their own, were trained on the data named below and contain a pi-GAN decoder ({pigan_repo}). "
    "Check those terms before you redistribute the weights or use them commercially."
)


@dataclass
class ConversionReport:
    """What a conversion read, wrote and left out.

    Attributes:
        kind: ``"sem2nerf"`` (a full model) or ``"pigan"`` (a decoder).
        source: the checkpoint (a file name, or a description for in-memory conversions).
        config: the written configuration (``config.json`` or ``decoder_config.json`` entries).
        tensors: how many tensors were written.
        dropped: official keys not carried over (the Swin buffers timm recomputes).
        ignored: top-level checkpoint entries that are not weights (``opts``, ``optimizer``...).
        notes: anything else worth knowing (DDP prefix removed, latent average absent...).
        folder, sha256: the written folder and the checkpoint's SHA-256 (file conversions only).
        verified: the folder was reloaded strictly and every tensor compared equal.
    """

    kind: str
    source: str
    config: dict[str, Any]
    tensors: int
    dropped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    folder: Path | None = None
    sha256: str | None = None
    verified: bool = False

    def summary(self) -> str:
        """A few lines for people: source, configuration, what was kept and dropped."""
        what = "official Sem2NeRF checkpoint" if self.kind == "sem2nerf" else "pi-GAN decoder state dict"
        digest = f", sha256 {self.sha256[:16]}..." if self.sha256 else ""
        lines = [f"converted {self.source} ({what}{digest})" + (f" -> {self.folder}" if self.folder else "")]
        keys = ("domain", "use_contour", "contour_skip", "fov", "ray_start", "ray_end", "encoder_size", "decoder_hidden_dim",
                "decoder_num_layers")
        lines.append("  config: " + ", ".join(f"{k}={self.config[k]}" for k in keys if k in self.config))
        lines.append(f"  wrote {self.tensors} tensors" + (f"; dropped {len(self.dropped)} Swin buffers (timm recomputes them)" if self.dropped else ""))
        if self.ignored:
            lines.append("  not needed for inference, left out: " + ", ".join(self.ignored))
        lines += [f"  note: {n}" for n in self.notes]
        if self.verified:
            lines.append("  verified: the folder reloads strictly and every tensor equals the checkpoint's")
        return "\n".join(lines)


# --- reading files ------------------------------------------------------------------------------


def load_official_checkpoint(path: str | os.PathLike) -> Any:
    """Read a ``.pt`` / ``.pth`` file with ``torch.load(weights_only=True)`` (tensors and plain containers only).

    Raises :class:`ModelLoadError` with a plain explanation for a missing, truncated or foreign file
    and for a pickled Python object (such as pi-GAN's own ``generator.pth``, a whole module), which is
    never unpickled.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        hint = " It is already a converted folder." if (path / CONFIG_NAME).is_file() or (path / DECODER_CONFIG_NAME).is_file() else ""
        raise ModelLoadError(f"{path} is a folder; give the checkpoint file (.pt or .pth) to convert.{hint}")
    if not path.is_file():
        raise ModelLoadError(f"no checkpoint file at {path}")
    if path.suffix == ".safetensors":
        raise ModelLoadError(f"{path} is a safetensors file, not an official .pt/.pth checkpoint: folders with "
                             f"{WEIGHTS_NAME} load directly with Sem2NeRF.from_pretrained")
    with path.open("rb") as handle:
        head = handle.read(4)
    if not head:
        raise ModelLoadError(f"{path} is empty: download it again")
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):  # torch.save writes a zip (or, before 1.6, a pickle)
        raise ModelLoadError(f"{path} is not a PyTorch checkpoint (it starts with {head!r}, not a zip archive or a pickle)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        needed = re.search(r"GLOBAL ([\w.]+)", str(err))
        if needed and not needed.group(1).startswith("torch."):
            raise ModelLoadError(
                f"{path} is a pickled Python object (loading it would need `{needed.group(1)}` and could run "
                f"arbitrary code), not a plain state dict of tensors. pi-GAN's own generator.pth is such a file. "
                f"If you trust it, export its weights in the pi-GAN code base with "
                f"`torch.save(torch.load(path, weights_only=False).state_dict(), 'pigan.pth')` and convert that file."
            ) from None
        raise ModelLoadError(f"{path} is not a PyTorch checkpoint that can be read safely (it is damaged or another kind "
                             f"of file): {_first_line(err)}") from None
    except (RuntimeError, EOFError) as err:
        raise ModelLoadError(f"{path} is truncated or corrupted ({_first_line(err) or 'unexpected end of file'}): "
                             f"download it again") from None
    except Exception as err:  # the unpickler fails on foreign bytes in many ways (KeyError, IndexError...)
        raise ModelLoadError(f"{path} is not a PyTorch checkpoint ({err.__class__.__name__}: {_first_line(err)})") from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    # torch's messages start with a long generic preamble; the specific reason is at the end.
    specific = re.search(r"(PytorchStreamReader[^\n.]*|Unsupported operand[^\n]*|WeightsUnpickler error:[^\n]*\n+[^\n]+)", text)
    return (specific.group(1) if specific else text.splitlines()[0] if text else "").replace("\n", " ").strip()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


# --- layouts ------------------------------------------------------------------------------------


def _official_swin_key(timm_key: str) -> str:
    """timm key -> official Swin v1 key: the inverse of ``checkpoint_filter_fn``'s renaming (section 4.8)."""
    key = re.sub(r"^layers\.(\d+)\.downsample", lambda m: f"layers.{int(m.group(1)) - 1}.downsample", timm_key)
    return re.sub(r"^head\.fc\.", "head.", key)


def official_encoder_layout(encoder: torch.nn.Module) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """The official Swin v1 state-dict layout of ``encoder``: ``({key: shape}, buffer keys)``.

    Parameters carry the official names (downsampling at the end of a stage, ``head.*``); the
    buffers (``relative_position_index``, ``attn_mask``) are named as in both layouts. For Swin-T on
    18 channels this is Appendix A of official-sem2nerf.md: 190 keys, 17 of them buffers.
    """
    persistent = encoder.state_dict()
    layout = {_official_swin_key(k): tuple(v.shape) for k, v in persistent.items()}
    buffers = [name for name, _ in encoder.named_buffers() if name not in persistent]
    layout.update({name: tuple(encoder.get_buffer(name).shape) for name in buffers})
    return layout, buffers


def _official_decoder_layout(decoder: PiGANDecoder) -> dict[str, tuple[int, ...]]:
    ours = decoder.state_dict()
    key_map = official_decoder_key_map(decoder.num_layers, decoder_config(decoder)["decoder_mapping_depth"])
    return {official: tuple(ours[mine].shape) for official, mine in key_map.items()}


def _decoder_sizes(state: Mapping[str, torch.Tensor]) -> dict[str, int]:
    """The ``decoder_*`` sizes an official pi-GAN state dict was built with (official defaults where unreadable)."""
    sizes = {"decoder_hidden_dim": 256, "decoder_num_layers": 8, "decoder_z_dim": 256, "decoder_mapping_hidden_dim": 256,
             "decoder_mapping_depth": 3}
    trunk = [int(m.group(1)) for k in state if (m := re.fullmatch(r"siren\.network\.(\d+)\.layer\.weight", k))]
    mapping = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(r"siren\.mapping_network\.network\.(\d+)\.weight", k)))
    first = state.get("siren.network.0.layer.weight")
    if trunk:
        sizes["decoder_num_layers"] = max(trunk) + 1
    if first is not None and first.dim() == 2:
        sizes["decoder_hidden_dim"] = int(first.shape[0])
    if mapping and state[f"siren.mapping_network.network.{mapping[0]}.weight"].dim() == 2:
        sizes["decoder_mapping_depth"] = len(mapping) - 1
        sizes["decoder_z_dim"] = int(state[f"siren.mapping_network.network.{mapping[0]}.weight"].shape[1])
        sizes["decoder_mapping_hidden_dim"] = int(state[f"siren.mapping_network.network.{mapping[0]}.weight"].shape[0])
    return sizes


def _tensor_dict(obj: Any, what: str, source: str) -> dict[str, torch.Tensor]:
    if not isinstance(obj, Mapping):
        raise ModelLoadError(f"{source}: {what} is a {type(obj).__name__}, not a dict of tensors")
    bad = [str(k) for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ModelLoadError(f"{source}: {what} holds entries that are not tensors: {name_list(bad)}")
    return dict(obj)


# --- what kind of checkpoint is it --------------------------------------------------------------


def _strip_module(key: str) -> tuple[str, bool]:
    return (key[len("module."):], True) if key.startswith("module.") else (key, False)


def _detect_kind(obj: Any, source: str) -> str:
    """``"sem2nerf"`` or ``"pigan"``, or a :class:`ModelLoadError` saying what the file is instead."""
    if not isinstance(obj, Mapping):
        raise ModelLoadError(f"{source} holds a {type(obj).__name__}, not a checkpoint dict: it is neither an official "
                             f"Sem2NeRF checkpoint nor a pi-GAN decoder state dict")
    inner = obj.get("state_dict")
    if isinstance(inner, Mapping):
        firsts = {_strip_module(str(k))[0].split(".")[0] for k in inner}
        if firsts & {"encoder", "decoder"}:
            return "sem2nerf"
        raise ModelLoadError(f"{source} is a checkpoint of another model: its state_dict has no encoder./decoder. weights "
                             f"(it starts with {name_list(sorted(map(str, inner))[:3], 3)})")
    if isinstance(obj.get("model"), Mapping) and any(str(k).startswith("layers.") for k in obj["model"]):
        raise ModelLoadError(f"{source} is an image-classification Swin Transformer checkpoint (the ImageNet weights the "
                             f"official code starts training from), not a Sem2NeRF model: there is nothing to convert")
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        firsts = {_strip_module(str(k))[0].split(".")[0] for k in obj}
        if "siren" in firsts:
            return "pigan"
        if firsts & {"encoder", "decoder"}:
            return "sem2nerf"
    keys = name_list(sorted(map(str, obj))[:6], 6) or "none"
    raise ModelLoadError(
        f"{source} is neither an official Sem2NeRF checkpoint (a dict with 'state_dict', 'opts', 'latent_avg') nor a "
        f"pi-GAN decoder state dict (keys 'siren.*'); its top-level keys: {keys}"
    )


# --- Sem2NeRF checkpoints -----------------------------------------------------------------------


def _split_state(state: Mapping[str, torch.Tensor]) -> tuple[dict, dict, dict, bool]:
    """Official ``encoder.[module.]*`` / ``decoder.[module.]*`` keys -> (encoder, decoder, others, saw DDP prefix)."""
    parts: dict[str, dict[str, torch.Tensor]] = {"encoder": {}, "decoder": {}}
    others: dict[str, torch.Tensor] = {}
    ddp = False
    for key, value in state.items():
        rest, wrapped = _strip_module(key)
        head, _, rest = rest.partition(".")
        if head in parts:
            rest, inner = _strip_module(rest)
            parts[head][rest] = value
            ddp |= wrapped or inner
        else:
            others[key] = value
    return parts["encoder"], parts["decoder"], others, ddp


def _domain_from(opts: Mapping[str, Any], domain: str | None, in_chans: int | None, source: str) -> str:
    found: dict[str, str] = {}
    curriculum, dataset = opts.get("pigan_curriculum_type"), opts.get("dataset_type")
    if curriculum is not None:
        if curriculum not in OFFICIAL_CURRICULA:
            raise ModelLoadError(f"{source}: opts.pigan_curriculum_type {curriculum!r} is not one of the official set-ups "
                                 f"({', '.join(OFFICIAL_CURRICULA)}); pass the domain explicitly")
        found["opts.pigan_curriculum_type"] = OFFICIAL_CURRICULA[curriculum]
    if dataset in OFFICIAL_DATASET_TYPES:
        found["opts.dataset_type"] = OFFICIAL_DATASET_TYPES[dataset]
    if domain is not None:
        get_domain(domain)
        found["the domain you gave"] = domain
    if len(set(found.values())) > 1:
        raise ModelLoadError(f"{source}: conflicting domains: " + ", ".join(f"{k} says {v}" for k, v in found.items()))
    if found:
        return next(iter(found.values()))
    if in_chans is not None:  # no options: go by the encoder's input channels
        for name in list_domains():
            classes = get_label_scheme(get_domain(name).input_scheme).num_classes
            if in_chans in (classes, classes + 2):
                return name
    raise ModelLoadError(f"{source}: cannot tell the data-set domain (no opts.pigan_curriculum_type): pass one of "
                         f"{', '.join(list_domains())}")


def _config_from(opts: Mapping[str, Any], enc: Mapping[str, torch.Tensor], dec: Mapping[str, torch.Tensor],
                 domain: str | None, contour_skip: str, source: str) -> dict[str, Any]:
    """The :class:`Sem2NeRF` config that reproduces the official model described by ``opts`` and the weights."""
    proj = enc.get("patch_embed.proj.weight")
    in_chans = int(proj.shape[1]) if proj is not None and proj.dim() == 4 else None
    name = _domain_from(opts, domain, in_chans, source)
    dom = get_domain(name)
    classes = get_label_scheme(dom.input_scheme).num_classes
    if opts.get("use_merged_labels") is False or opts.get("label_nc", classes) != classes:
        raise ModelLoadError(
            f"{source}: trained on {opts.get('label_nc')} label channels (use_merged_labels={opts.get('use_merged_labels')}), "
            f"but the {name} encoder input is the {classes} merged classes of {dom.input_scheme}: this set-up is not supported"
        )
    use_contour = opts.get("use_contour")
    if use_contour is None:
        use_contour = in_chans != classes
    channels = classes + (2 if use_contour else 0)
    if opts.get("input_nc", channels) != channels:
        raise ModelLoadError(f"{source}: opts.input_nc is {opts['input_nc']}, but {classes} classes "
                             f"{'+ contour + distance ' if use_contour else ''}make {channels} input channels")
    if contour_skip not in ("smallest", "background"):
        raise ValueError(f"contour_skip must be 'smallest' (official) or 'background', got {contour_skip!r}")
    config: dict[str, Any] = {
        "domain": name,
        "use_contour": bool(use_contour),
        "contour_skip": contour_skip,
        "encoder_size": int(opts.get("src_input_size", 224)),
        "fov": dom.fov,  # the official curricula's camera is the domain's (official-sem2nerf.md 2.7)
        "ray_start": dom.ray_start,
        "ray_end": dom.ray_end,
    }
    config.update(_decoder_sizes(dec))
    return config


def _latent_average(checkpoint: Mapping[str, Any], opts: Mapping[str, Any], code_dim: int, source: str,
                    notes: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    start = opts.get("start_from_latent_avg")
    avg = checkpoint.get("latent_avg")
    zeros = (torch.zeros(1, code_dim), torch.zeros(1, code_dim))
    if start is False:
        notes.append("opts.start_from_latent_avg is off: the official model adds no latent average, so it is stored as zeros")
        return zeros
    if avg is None:
        if start:
            raise ModelLoadError(f"{source}: opts.start_from_latent_avg is on but the checkpoint has no 'latent_avg'")
        notes.append("the checkpoint has no latent_avg: stored as zeros (the encoder output is used as it is)")
        return zeros
    if not (isinstance(avg, (tuple, list)) and len(avg) == 2 and all(isinstance(t, torch.Tensor) for t in avg)):
        raise ModelLoadError(f"{source}: 'latent_avg' should be a pair of tensors (frequencies, phase shifts), got {type(avg).__name__}")
    if any(t.numel() != code_dim for t in avg):
        raise ModelLoadError(f"{source}: 'latent_avg' shapes {tuple(avg[0].shape)}, {tuple(avg[1].shape)} do not match the "
                             f"decoder's code size (1, {code_dim})")
    return tuple(t.detach().reshape(1, code_dim).float() for t in avg)  # type: ignore[return-value]


def _check_encoder_buffers(enc: Mapping[str, torch.Tensor], encoder: torch.nn.Module, buffers: list[str], source: str) -> None:
    """The checkpoint's Swin buffers must be the ones timm recomputes (else its tables mean something else)."""
    wrong = []
    for name in buffers:
        ours, theirs = encoder.get_buffer(name), enc[name]
        same = torch.equal(theirs.long(), ours) if name.endswith("relative_position_index") else torch.equal(theirs != 0, ours != 0)
        if not same:
            wrong.append(name)
    if wrong:
        raise ModelLoadError(f"{source}: the Swin buffers {name_list(['encoder.' + w for w in wrong])} differ from the ones a "
                             f"{encoder.patch_embed.img_size[0]} px, window {encoder.layers[0].blocks[0].window_size[0]} "
                             f"encoder computes: the checkpoint was made with another Swin configuration")


def model_from_official(
    checkpoint: Mapping[str, Any],
    *,
    domain: str | None = None,
    contour_skip: str = "smallest",
    source: str = "checkpoint",
    **config: Any,
) -> tuple[Sem2NeRF, ConversionReport]:
    """Build a :class:`Sem2NeRF` from an official checkpoint already in memory (see :func:`load_official_checkpoint`).

    Args:
        checkpoint: the official dict (``state_dict``, ``opts``, ``latent_avg``...) or a bare state dict.
        domain: the data-set domain when the checkpoint's ``opts`` do not say it (must agree if they do).
        contour_skip: ``"smallest"`` reproduces the official contour channel; ``"background"`` is our fix.
        source: a name for messages.
        **config: further :class:`Sem2NeRF` config entries (e.g. the ``encoder_*`` sizes of a non-standard Swin).

    Raises :class:`ModelLoadError` naming every missing, unexpected or mis-shaped key.
    """
    if _detect_kind(checkpoint, source) != "sem2nerf":
        raise ModelLoadError(f"{source} is a pi-GAN decoder state dict, not a Sem2NeRF checkpoint: convert it to a decoder folder")
    state = _tensor_dict(checkpoint.get("state_dict", checkpoint), "state_dict", source)
    opts = checkpoint.get("opts") if "state_dict" in checkpoint else None
    if opts is not None and not isinstance(opts, Mapping):
        raise ModelLoadError(f"{source}: 'opts' is a {type(opts).__name__}, not a dict of options")
    opts = opts or {}
    enc, dec, others, ddp = _split_state(state)
    notes = ["removed the DDP 'module.' prefix from the keys"] if ddp else []
    if not opts:
        notes.append("the checkpoint has no opts: the configuration was read from the weights")
    cfg = _config_from(opts, enc, dec, domain, contour_skip, source)
    cfg.update(config)

    try:  # shapes only, so a wrong checkpoint is refused before anything big is built
        with _weights_follow(), torch.device("meta"):
            skeleton = Sem2NeRF(**cfg)
    except (TypeError, ValueError, KeyError) as err:
        raise ModelLoadError(f"{source}: the configuration {cfg} is not a valid Sem2NeRF model: {err}") from err
    enc_layout, buffers = official_encoder_layout(skeleton.encoder)
    dec_layout = _official_decoder_layout(skeleton.decoder)
    problems = state_problems(enc, enc_layout, "encoder.") + state_problems(dec, dec_layout, "decoder.")
    if others:
        problems.append(f"not part of Sem2NeRF {len(others)}: {name_list(sorted(others))}")
    if problems:
        expected = len(enc_layout) + len(dec_layout)
        present = len(set(enc) & set(enc_layout)) + len(set(dec) & set(dec_layout))
        what = (f"is a checkpoint of another architecture: only {present} of the {expected} official keys are present"
                if present < expected // 2 else f"does not match the official Sem2NeRF layout for {cfg['domain']}")
        raise ModelLoadError(
            f"{source} {what} ({'; '.join(problems)}). It was saved by another architecture or configuration, or it is damaged."
        )
    latent = _latent_average(checkpoint, opts, skeleton.decoder.code_dim, source, notes)

    from timm.models.swin_transformer import checkpoint_filter_fn

    with _weights_follow():
        model = Sem2NeRF(**cfg)
    _check_encoder_buffers(enc, model.encoder, buffers, source)
    key_map = official_decoder_key_map(model.decoder.num_layers, cfg["decoder_mapping_depth"])
    ours = {f"encoder.{k}": v for k, v in checkpoint_filter_fn(enc, model.encoder).items()}
    ours.update({f"decoder.{key_map[k]}": v for k, v in dec.items()})
    ours["latent_avg_freq"], ours["latent_avg_phase"] = latent
    load_state_strictly(model, ours, source=source)
    model.eval()
    report = ConversionReport(
        kind="sem2nerf",
        source=source,
        config=dict(model._hub_mixin_config),
        tensors=len(ours),
        dropped=[f"encoder.{b}" for b in buffers],
        ignored=sorted(str(k) for k in checkpoint if k not in ("state_dict", "opts", "latent_avg")) if "state_dict" in checkpoint else [],
        notes=notes,
    )
    return model, report


# --- pi-GAN decoders ----------------------------------------------------------------------------


def decoder_from_official(state: Mapping[str, torch.Tensor], *, source: str = "state dict") -> PiGANDecoder:
    """Build a :class:`PiGANDecoder` from an official pi-GAN state dict (``siren.*`` keys, section 1.7).

    The sizes are read from the weights (official: 256 wide, 8 FiLM layers); every key and shape is
    then checked and problems are named.
    """
    found = {}
    for key, value in _tensor_dict(state, "the file", source).items():
        found[_strip_module(key)[0]] = value
    sizes = _decoder_sizes(found)
    decoder = PiGANDecoder(**{arg: sizes[key] for key, arg in DECODER_KEYS.items() if key in sizes})
    problems = state_problems(found, _official_decoder_layout(decoder))
    if problems:
        raise ModelLoadError(f"{source} does not match the official pi-GAN decoder layout ({'; '.join(problems)}). It is a "
                             f"checkpoint of another architecture, or it is damaged.")
    key_map = official_decoder_key_map(decoder.num_layers, sizes["decoder_mapping_depth"])
    load_state_strictly(decoder, {key_map[k]: v for k, v in found.items()}, source=source)
    return decoder.eval()


# --- files in, folders out ----------------------------------------------------------------------


def convert_checkpoint(
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    kind: str = "auto",
    domain: str | None = None,
    contour_skip: str = "smallest",
    overwrite: bool = False,
    repo_id: str | None = None,
    license_id: str | None = None,
    **config: Any,
) -> ConversionReport:
    """Convert an official checkpoint file into a folder, then reload the folder strictly to verify it.

    Args:
        source: ``sem2nerf_*_pretrained.pt`` (-> a model folder for :meth:`Sem2NeRF.from_pretrained`) or
            ``pigan-*-pretrained.pth`` (-> a decoder folder for :func:`~sem2nerf.decoder_folder.load_decoder`).
        out: the folder to write (created; must be empty unless ``overwrite``).
        kind: ``"auto"`` (detected from the contents), ``"sem2nerf"`` or ``"pigan"``.
        domain: data-set domain; needed for pi-GAN files other than the two official ones.
        contour_skip: see :func:`model_from_official`.
        overwrite: replace the files a previous conversion wrote in ``out``.
        repo_id: the Hub repo the folder is meant for (shown in the model card's usage snippet).
        license_id: the model card's licence (default ``other``, explained in the card).
        **config: further :class:`Sem2NeRF` config entries.
    """
    path = Path(source).expanduser()
    if kind not in ("auto", "sem2nerf", "pigan"):
        raise ValueError(f"kind must be 'auto', 'sem2nerf' or 'pigan', got {kind!r}")
    checkpoint = load_official_checkpoint(path)
    found = _detect_kind(checkpoint, path.name)
    if kind != "auto" and kind != found:
        raise ModelLoadError(f"{path.name} holds a {'pi-GAN decoder' if found == 'pigan' else 'Sem2NeRF checkpoint'}, not "
                             f"what kind={kind!r} asks for")
    folder = Path(out).expanduser()
    _check_folder(folder, overwrite)  # before the work: a refusal should come at once
    digest = _sha256(path)
    if found == "sem2nerf":
        model, report = model_from_official(checkpoint, domain=domain, contour_skip=contour_skip, source=path.name, **config)
        _write_model(model, _prepare_folder(folder), path.name, digest, repo_id, license_id)
        loaded = Sem2NeRF.from_pretrained(folder)
        _assert_same(model.state_dict(), loaded.state_dict(), folder)
    else:
        if config:
            raise ValueError(f"config entries {sorted(config)} apply to Sem2NeRF checkpoints only")
        name = domain or OFFICIAL_PIGAN_FILES.get(path.name)
        if name is None:
            raise ModelLoadError(f"{path.name}: a pi-GAN state dict does not say which data it was trained on: pass the "
                                 f"domain ({', '.join(list_domains())})")
        dom = get_domain(name)
        decoder = decoder_from_official(checkpoint, source=path.name)
        meta = {"source": path.name, "sha256": digest, "converted_by": "python -m sem2nerf convert"}
        save_decoder(decoder, _prepare_folder(folder), domain=dom.name, fov=dom.fov, ray_start=dom.ray_start, ray_end=dom.ray_end,
                     metadata=meta)
        _write_decoder_card(decoder, folder, dom.name, path.name, digest, repo_id, license_id)
        loaded_decoder, written = load_decoder(folder, expect={"domain": dom.name})
        _assert_same(decoder.state_dict(), loaded_decoder.state_dict(), folder)
        ddp = any(k.startswith("module.") for k in checkpoint)
        report = ConversionReport(kind="pigan", source=path.name, config={k: v for k, v in written.items() if k != "metadata"},
                                  tensors=len(decoder.state_dict()),
                                  notes=["removed the DDP 'module.' prefix from the keys"] if ddp else [])
    report.folder, report.sha256, report.verified = folder, digest, True
    return report


_WRITTEN = (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME, DECODER_CONFIG_NAME, DECODER_WEIGHTS_NAME)


def _check_folder(folder: Path, overwrite: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise ModelLoadError(f"{folder} is a file; give a folder to write the converted model to")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise ModelLoadError(f"{folder} is not empty; choose a new folder or pass --overwrite to replace a previous conversion")


def _prepare_folder(folder: Path) -> Path:
    """Create the folder, or clear the files a previous conversion wrote there (nothing else)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in _WRITTEN:
        (folder / name).unlink(missing_ok=True)
    return folder


def _assert_same(expected: Mapping[str, torch.Tensor], loaded: Mapping[str, torch.Tensor], folder: Path) -> None:
    different = sorted(k for k in expected if k not in loaded or not torch.equal(expected[k].cpu(), loaded[k].cpu()))
    if different or set(loaded) != set(expected):
        raise ModelLoadError(f"verification failed: {folder} does not reload to the converted weights ({name_list(different)})")


def _licence(license_id: str | None) -> dict[str, str]:
    if license_id:
        return {"license": license_id}
    return {"license": "other", "license_name": "sem2nerf-official-weights", "license_link": f"{SEM2NERF_REPO}/blob/main/LICENSE"}


def _write_model(model: Sem2NeRF, folder: Path, source: str, digest: str, repo_id: str | None, license_id: str | None) -> None:
    from huggingface_hub import ModelCard

    title, data = _DOMAIN_FACTS.get(model.domain.name, (model.domain.name, "As the official repository describes."))
    description = (
        f"Converted from the official checkpoint `{source}` (SHA-256 `{digest}`) released with {SEM2NERF_REPO}, by "
        f"`python -m sem2nerf convert`. The weights are unchanged: the Swin v1 encoder keys were mapped onto timm's with "
        f"`timm.models.swin_transformer.checkpoint_filter_fn` (its 17 buffers, which timm recomputes, were checked and left "
        f"out), the pi-GAN decoder keys with `sem2nerf.decoder.official_decoder_key_map`, and the latent average is the "
        f"checkpoint's. `contour_skip: smallest` reproduces the official contour channel.\n\n"
        f"Licence: {_LICENCE_NOTE.format(sem2nerf_repo=SEM2NERF_REPO, pigan_repo=PIGAN_REPO)}"
    )
    model.save_pretrained(folder, model_card_kwargs={
        "title": f"the official {title} model (converted)",
        "description": description,
        "training_data": data,
        "metrics": f"Not re-measured after conversion; see the paper ({SEM2NERF_PAPER}).",
        "repo_id": repo_id,
    })
    card = ModelCard((folder / CARD_NAME).read_text())  # a fresh object: the class's card data stays untouched
    for key, value in _licence(license_id).items():
        setattr(card.data, key, value)
    card.data.tags = [*(card.data.tags or []), "converted-official-weights"]
    card.save(folder / CARD_NAME)


def _write_decoder_card(decoder: PiGANDecoder, folder: Path, domain: str, source: str, digest: str, repo_id: str | None,
                        license_id: str | None) -> None:
    from huggingface_hub import ModelCard, ModelCardData

    title, _ = _DOMAIN_FACTS.get(domain, (domain, ""))
    data = ModelCardData(library_name="sem2nerf", tags=["sem2nerf", "pi-gan", "nerf", "3d", "converted-official-weights"],
                         **_licence(license_id))
    rows = "\n".join(f"| `{k}` | `{v}` |" for k, v in sorted(decoder_config(decoder).items()))
    where = repo_id or "path/to/this/folder"
    body = f"""
# pi-GAN decoder for {title} (converted)

The frozen pi-GAN radiance field ({PIGAN_PAPER}) that Sem2NeRF ({SEM2NERF_PAPER}) trains its {title} encoder against,
as a sem2nerf decoder folder: `{DECODER_CONFIG_NAME}` + `{DECODER_WEIGHTS_NAME}`. Give this folder to the training
script's encoder stage as its frozen decoder (`decoder: <folder>` in its config).

Converted from `{source}` (SHA-256 `{digest}`), distributed with {SEM2NERF_REPO}, by `python -m sem2nerf convert`; the
weights are unchanged, the keys mapped with `sem2nerf.decoder.official_decoder_key_map`.

Licence: {_LICENCE_NOTE.format(sem2nerf_repo=SEM2NERF_REPO, pigan_repo=PIGAN_REPO)}

## Usage

```python
from sem2nerf.decoder_folder import load_decoder

decoder, config = load_decoder("{where}")   # a local folder (download a Hub repo first: `hf download REPO --local-dir DIR`)
```

## Configuration

| key | value |
|---|---|
{rows}
| `domain` | `{domain}` |
"""
    ModelCard(f"---\n{data.to_yaml()}\n---\n{body}").save(folder / CARD_NAME)


# --- publishing ---------------------------------------------------------------------------------


def upload_plan(folder: str | os.PathLike, repo_id: str, private: bool = False) -> str:
    """What :func:`push_folder` would upload, as text; contacts nothing."""
    from huggingface_hub import get_token

    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if not files:
        raise Sem2NeRFError(f"{folder} holds no files to upload")
    total = sum(p.stat().st_size for p in files)
    lines = [(f"dry run: would create (if needed) the {'private ' if private else ''}model repo {repo_id} and upload "
             f"{len(files)} files ({_size(total)}) from {folder}:")]
    lines += [f"  {p.relative_to(folder).as_posix():<24s} {_size(p.stat().st_size):>10s}" for p in files]
    lines.append("  Hugging Face token: " + ("found" if get_token() else "none yet (run `hf auth login` or set HF_TOKEN before uploading)"))
    return "\n".join(lines)


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB" if n >= 2**10 else f"{n} B"


def _hub_preflight(endpoint: str, token: str, timeout: float) -> str:
    """Ask the Hub who the token belongs to, with a short timeout (the client's own requests have none)."""
    from huggingface_hub import get_session
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

    response = get_session().get(f"{endpoint}/api/whoami-v2", headers=build_hf_headers(token=token), timeout=timeout)
    hf_raise_for_status(response)
    return str(response.json().get("name", "?"))


def push_folder(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    timeout: float = 15.0,
    commit_message: str = "Upload converted official weights (python -m sem2nerf convert)",
) -> str:
    """Upload a converted folder to a Hub model repo (created if needed); returns the commit URL.

    Fails fast with a :class:`Sem2NeRFError` that says what to do when offline (``HF_HUB_OFFLINE``),
    without a token, or when the Hub does not answer within ``timeout`` seconds.
    """
    from huggingface_hub import HfApi, constants, get_token

    folder = Path(folder)
    later = f"The converted folder {folder} is complete; upload it later with `hf upload {repo_id} {folder}`."
    if not folder.is_dir() or not any(folder.iterdir()):
        raise Sem2NeRFError(f"nothing to upload: {folder} is not a converted folder")
    if offline_mode():
        raise Sem2NeRFError(f"cannot push to the Hub: offline mode is on (HF_HUB_OFFLINE). {later}")
    token = token or get_token()
    if not token:
        raise Sem2NeRFError(f"cannot push to the Hub: no Hugging Face token (run `hf auth login` or set HF_TOKEN to a "
                            f"token with write access). {later}")
    endpoint = endpoint or constants.ENDPOINT
    try:
        user = _hub_preflight(endpoint, token, timeout)
    except Exception as err:  # network and HTTP errors of any client library: all mean "cannot push now"
        status = getattr(getattr(err, "response", None), "status_code", None)
        reason = "the token was refused" if status == 401 else f"{err.__class__.__name__}: {_first_line(err)}"
        raise Sem2NeRFError(f"cannot reach the Hugging Face Hub at {endpoint} ({reason}). {later}") from err
    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        commit = api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="model", commit_message=commit_message)
    except Exception as err:
        raise Sem2NeRFError(f"upload to {repo_id} as {user} failed ({err.__class__.__name__}: {_first_line(err)}). {later}") from err
    return str(getattr(commit, "commit_url", None) or commit)
