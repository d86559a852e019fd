"""Code read-outs: linear maps from what a mask tells to FiLM codes, for the encoder stage and the benchmarks.

* :func:`identity_code_targets`: the FiLM codes of a generator-stage export's identity latents (``encoder.latent``);
* :func:`fit_code_readout` / :class:`CodeReadout`: a ridge least-squares read-out of codes from features;
* :func:`fit_readout_targets` / :class:`ReadoutTargets`: the read-out of those codes from the identities' SynthFaces
  parameters, with the parameters a mask cannot show (colours) at their mean: the targets of ``encoder.latent``;
* :func:`collect_region_statistics`, :func:`fit_region_head`, :func:`set_region_output_range`: the encoder's region
  head (``encoder.region_head``), fitted to the same targets before the first step and clamped at export.
"""

from __future__ import annotations

import torch

from ..decoder import PiGANDecoder
from ..decoder_folder import IDENTITY_LATENTS_NAME, load_identity_latents
from ..encoder import region_statistics
from .config import ConfigError
from .data import MaskImageDataset

__all__ = [
    "CodeReadout", "ReadoutTargets", "collect_region_statistics", "fit_code_readout", "fit_readout_targets",
    "fit_region_head", "identity_code_targets", "region_buffers", "region_output_buffers", "set_region_output_range",
]


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
    identities) that ``encoder.latent`` divides errors by."""
    table = load_identity_latents(decoder_dir)
    if table is None:
        raise ConfigError(
            f"encoder.latent needs {IDENTITY_LATENTS_NAME} in the decoder folder {decoder_dir}: the identity latents that "
            "this project's generator stage exports when it trains by reconstruction; leave encoder.latent out for other decoders"
        )
    if dataset.identity_names is None:
        raise ConfigError(f"encoder.latent needs identities.json in {dataset.root} (the identities the decoder was trained on)")
    names, z = table
    row = {name: i for i, name in enumerate(names)}
    index = torch.tensor([row.get(name, -1) for name in dataset.identity_names])
    used = sorted(set(dataset.identity))
    missing = [dataset.identity_names[k] for k in used if index[k] < 0]
    if missing:
        raise ConfigError(
            f"{len(missing)} training identities have no latent in {decoder_dir} (first: {missing[:3]}): encoder.latent needs "
            "the data set the decoder was trained on"
        )
    with torch.no_grad():
        freq, phase = decoder.mapping(z)
    scale = torch.cat([torch.full((c.shape[1],), float(c.std()) if c.numel() > 1 else 1.0) for c in (freq, phase)])
    return torch.cat((freq, phase), 1)[index.clamp_min(0)], scale.clamp_min(1e-6)


class ReadoutTargets:
    """The code read-out (a :class:`CodeReadout`) of ``encoder.latent`` and how each identity's SynthFaces parameters
    are read through it: all of them (``visible_only`` false) with those in ``hidden`` replaced by fixed values."""

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


def fit_readout_targets(codes: torch.Tensor, dataset: MaskImageDataset) -> ReadoutTargets:
    """Fit the read-out of ``codes`` (``(num_identities, D)``, :func:`identity_code_targets`) over the identities
    that ``dataset`` uses, on every SynthFaces parameter (colours as covariates); it reads out with the
    parameters a mask cannot show at their mean over those identities: the part of a code that a mask can tell,
    with far less noise from colours than a fit on the visible parameters alone."""
    from ..synthfaces import mean_hidden_params

    trained = torch.tensor(sorted(set(dataset.identity)))
    params = dataset.identity_params()
    hidden = mean_hidden_params([params[k] for k in trained.tolist()])
    fit_features = dataset.identity_features(visible_only=False, standardise=False)  # each head's own values
    return ReadoutTargets(fit_code_readout(fit_features[trained], codes[trained]), False, hidden)


@torch.no_grad()
def collect_region_statistics(sources: list, classes: int, device="cpu", batch_size: int = 64,
                              workers: int = 0, grid: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """:func:`~sem2nerf.encoder.region_statistics` (with ``grid``) of the first ``classes`` channels of every mask of the
    ``(dataset, targets)`` pairs in ``sources``, in order: ``(N, 5 classes)`` float64 on the CPU, and the masks'
    target rows ``(N, D)`` (``targets[identity]``) when every pair has targets, else ``None``."""
    feats, codes = [], []
    for dataset, targets in sources:
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
        for batch in loader:
            feats.append(region_statistics(batch["x"][:, :classes].to(device), grid).double().cpu())
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
    cores), because a resumed run never ran ``fit_region_head``'s pass."""
    stats, _ = collect_region_statistics([(d, None) for d in datasets], encoder.region_classes,
                                         encoder.region_head.weight.device, batch_size, workers, encoder.region_grid)
    for name, value in region_output_buffers(encoder, stats).items():
        getattr(encoder, name).copy_(value)


@torch.no_grad()
def fit_region_head(encoder, sources: list, start_code: torch.Tensor | None = None, batch_size: int = 64,
                    workers: int = 0, ridge: float = 1e-2) -> CodeReadout | None:
    """Set an encoder's region head from data before training (``encoder.region_head``).

    ``sources``: ``(dataset, targets)`` pairs, datasets of encoder inputs ``x`` with ``identity`` indices and
    targets ``(num_identities, 2 * code_dim)`` codes (``None``: only standardise). The statistics of every
    mask set the buffers of :func:`region_buffers` (so the clamp to their range changes no training mask); with
    targets, the head becomes the ridge least-squares map from them to the targets minus ``start_code`` (the
    latent average), so that the first step starts from the best linear guess (the Swin head is still zero).
    Returns that fit (a :class:`CodeReadout`) or ``None``."""
    head = encoder.region_head
    if head is None:
        raise ValueError("fit_region_head: this encoder has no region head (no encoder.region_head)")
    stats, target = collect_region_statistics(sources, encoder.region_classes, head.weight.device, batch_size, workers,
                                              encoder.region_grid)
    for name, value in region_buffers(stats).items():
        getattr(encoder, name).copy_(value)
    head.weight.zero_()
    head.bias.zero_()
    if target is None:  # standardisation only (no encoder.latent targets)
        return None
    if start_code is not None:
        target = target - start_code.double().cpu()
    readout = fit_code_readout(stats, target, ridge=ridge)
    weight = torch.zeros(head.weight.shape, dtype=torch.float64)
    weight[:, readout.keep] = readout.weights.T  # dropped (constant) statistics keep weight 0
    head.weight.copy_(weight.to(head.weight))
    head.bias.copy_(readout.code_mean.to(head.bias))
    return readout
