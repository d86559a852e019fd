"""Training data: mask / image / pose triples in the CelebAMask-HQ or CatMask layout, and a step-exact sampler.

The batch that a process sees at a given step is a pure function of ``(seed, step, rank)``
(:class:`StepBatchSampler`), so a resumed run reads exactly the batches the uninterrupted run
would have read, with any number of DataLoader workers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..domains import Domain, get_domain, read_pose_file
from ..labels import get_label_scheme
from ..masks import LabelMask, crop_to_domain, encoder_input, load_mask
from .config import ConfigError

__all__ = ["MaskImageDataset", "StepBatchSampler", "load_image"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
_REALISM_STREAM = 0x6D61736B  # keeps the mask-realism generators apart from other streams seeded by the same numbers


def load_image(path: str | Path, domain: Domain, size: int) -> torch.Tensor:
    """A ground-truth image ``(3, size, size)`` in [-1, 1]: the domain crop at the output scale (bilinear), as official 4.4."""
    image = crop_to_domain(Image.open(path).convert("RGB"), domain, Image.BILINEAR, crop_size=size)
    if image.size != (size, size):  # domains without a crop
        image = image.resize((size, size), Image.BILINEAR)
    arr = torch.from_numpy(np.asarray(image, dtype=np.float32).copy()).permute(2, 0, 1)
    return arr / 127.5 - 1.0


class MaskImageDataset(Dataset):
    """Items ``{x, image, yaw, pitch, identity, index}`` from a data folder.

    Args:
        root: data folder (see :class:`~sem2nerf.training.config.DataConfig`).
        domain: ``celebamask_hq`` or ``catmask`` (or any registered domain).
        id_list: file of image ids (relative to ``root``); ``None`` or a missing default file: every mask.
        image_size: ground-truth side after the domain crop.
        encoder_size, use_contour, contour_skip: encoder input (``encoder_size=None``: no encoder input).
        limit: keep only the first ``limit`` ids.
        with_mask: also return the framed label mask ``mask`` (for validation sheets).
        with_foreground: also return ``foreground`` ``(1, S, S)``: the fraction of each ground-truth pixel
            that is not background (the framed mask, area-resized like the image).
        geometry_points: with a SynthFaces folder (``identity_params.json``), also return this many
            3D points of the item's head with their target colour and density (``points``,
            ``point_rgb``, ``point_sigma``; see :mod:`sem2nerf.synthfaces.targets`), a pure function
            of the item index.
        geometry_reach: also sample empty space up to this radius (``sample_points``' ``reach``).
        geometry_focus: the fraction of near-surface points around the small parts (``sample_points``' ``focus``).
        part_labels: raw-scheme class names: also return ``parts`` ``(1, S, S)``, the fraction of each
            ground-truth pixel in those classes (area-resized like the image; ``loss.part``).
        mask_realism: strength of :func:`~sem2nerf.training.augment.hand_annotated` on the encoder input ``x``
            (0: off; ``encoder.mask_realism``). Only items read as ``dataset[(index, draw)]`` (a
            :class:`StepBatchSampler` with ``with_draw``) are augmented, with a generator seeded by
            ``(realism_seed, index, draw)``; ``dataset[index]`` reads the exact mask. ``mask``, ``foreground``,
            ``parts``, the image and the 3D targets always come from the exact mask.
        realism_seed: the seed of those generators.
    """

    def __init__(
        self,
        root: str | Path,
        domain: str | Domain,
        id_list: str | None,
        image_size: int,
        encoder_size: int | None = 224,
        use_contour: bool = True,
        contour_skip: str = "background",
        limit: int | None = None,
        with_mask: bool = False,
        with_foreground: bool = False,
        geometry_points: int = 0,
        geometry_reach: float | None = None,
        geometry_focus: float = 0.0,
        part_labels: Sequence[str] | None = None,
        mask_realism: float = 0.0,
        realism_seed: int = 0,
    ) -> None:
        self.root = Path(root)
        self.domain = get_domain(domain)
        self.image_size, self.encoder_size = image_size, encoder_size
        self.use_contour, self.contour_skip = use_contour, contour_skip
        self.with_mask, self.with_foreground = with_mask, with_foreground
        self.mask_realism, self.realism_seed = mask_realism, realism_seed
        if mask_realism > 0 and self.domain.raw_scheme != "celebamask_hq_raw":
            raise ConfigError(f"mask_realism imitates CelebAMask-HQ annotations: domain {self.domain.name} has other ids")
        self.part_ids = None
        if part_labels:
            scheme = get_label_scheme(self.domain.raw_scheme)
            self.part_ids = np.array([scheme.class_id(name) for name in part_labels])
        image_dir, mask_dir = self.root / self.domain.image_folder, self.root / "masks"
        for folder, what in ((self.root, "data folder"), (image_dir, "image folder"), (mask_dir, "mask folder")):
            if not folder.is_dir():
                raise ConfigError(
                    f"{what} not found: {folder}. data.root must hold the {self.domain.name} layout "
                    f"({self.domain.image_folder}/, masks/, {self.domain.pose_file}); make a synthetic one with "
                    f"`python -m sem2nerf synth --out {self.root}`"
                )
        pose_path = self.root / self.domain.pose_file
        try:
            self.poses = read_pose_file(pose_path, self.domain)
        except FileNotFoundError:
            raise ConfigError(f"pose file not found: {pose_path}") from None
        except ValueError as err:
            raise ConfigError(str(err)) from None
        images = {p.stem: p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS}
        masks = {p.stem: p for p in mask_dir.iterdir() if p.suffix.lower() == ".png"}
        if id_list is not None and (self.root / id_list).is_file():
            ids = [ln.strip().split(".")[0] for ln in (self.root / id_list).read_text().splitlines() if ln.strip()]
        else:
            ids = sorted(masks, key=lambda s: (len(s), s))
        missing = [i for i in ids if i not in images or i not in masks or i not in self.poses]
        if missing:
            raise ConfigError(
                f"{len(missing)} image id(s) lack an image, a mask or a pose in {self.root} (first: {missing[:5]})"
            )
        if limit is not None:
            ids = ids[:limit]
        if not ids:
            raise ConfigError(f"no training images found in {self.root}")
        self.ids = ids
        self.image_paths, self.mask_paths = images, masks
        identity_of: dict[str, int] = {}
        identities_file = self.root / "identities.json"
        self.has_identities = identities_file.is_file()
        self.identity_names: list[str] | None = None  # identity k's name (identities.json), when it has identities
        if self.has_identities:
            table = json.loads(identities_file.read_text())
            names = self.identity_names = sorted(table)
            for k, name in enumerate(names):
                for image_id in table[name]:
                    identity_of[str(image_id)] = k
            self.num_identities = len(names)
        else:
            self.num_identities = len(ids)
        self.identity = [identity_of.get(i, n) if self.has_identities else n for n, i in enumerate(ids)]
        self.geometry_points, self.geometry_reach, self.geometry_focus = geometry_points, geometry_reach, geometry_focus
        self._params: list | None = None  # FaceParams per identity, read on first use (identity_params)
        self._heads: dict[int, object] = {}  # SynthHead per identity
        self._geometry_cache: dict[int, dict] = {}  # item index -> its (deterministic) 3D targets
        if geometry_points > 0:
            params_file = self.root / "identity_params.json"
            if not (self.has_identities and params_file.is_file()):
                raise ConfigError(
                    f"generator.geometry needs a SynthFaces folder (identities.json and identity_params.json in {self.root}); "
                    "make one with `python -m sem2nerf synth`, or leave generator.geometry out"
                )
            self.identity_params()  # read and checked now, not in a worker

    def identity_params(self) -> list:
        """Each identity's SynthFaces parameters (:class:`~sem2nerf.synthfaces.FaceParams`), by identity index (read
        from ``identity_params.json`` once)."""
        if self._params is None:
            from ..synthfaces import FaceParams

            params_file = self.root / "identity_params.json"
            if self.identity_names is None or not params_file.is_file():
                raise ConfigError(
                    f"identity features need a SynthFaces folder (identities.json and identity_params.json in {self.root}); "
                    "make one with `python -m sem2nerf synth` (generator.latents.init=params and encoder.latent use them)"
                )
            _check_generator_version(self.root)
            table = json.loads(params_file.read_text())
            missing = [name for name in self.identity_names if name not in table]
            if missing:
                raise ConfigError(f"identity_params.json in {self.root} lacks {len(missing)} identities (first: {missing[:3]})")
            self._params = [FaceParams.from_dict(table[name]["params"]) for name in self.identity_names]
        return list(self._params)

    def identity_features(self, visible_only: bool = False, standardise: bool = True, hidden: dict | None = None) -> torch.Tensor:
        """SynthFaces identities' parameters as features ``(num_identities, F)``, each standardised over the
        identities (mean 0, std 1; constant features 0) unless ``standardise`` is false; ``visible_only`` keeps what a
        mask can show, ``hidden`` replaces what it cannot. See :meth:`~sem2nerf.synthfaces.FaceParams.features`."""
        feats = torch.from_numpy(np.stack([p.features(visible_only, hidden) for p in self.identity_params()]))
        if not standardise:
            return feats
        std = feats.std(0) if feats.shape[0] > 1 else torch.zeros(feats.shape[1])
        return torch.where(std > 1e-6, (feats - feats.mean(0)) / std.clamp_min(1e-6), torch.zeros_like(feats))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        """Item ``key``: an index, or ``(index, draw)`` where ``draw`` (the sampler's epoch) seeds the mask realism."""
        index, draw = (int(key[0]), int(key[1])) if isinstance(key, tuple) else (key, None)
        image_id = self.ids[index]
        yaw, pitch = self.poses[image_id]
        item = {
            "image": load_image(self.image_paths[image_id], self.domain, self.image_size),
            "yaw": torch.tensor(yaw, dtype=torch.float32),
            "pitch": torch.tensor(pitch, dtype=torch.float32),
            "identity": torch.tensor(self.identity[index]),
            "index": torch.tensor(index),
        }
        if self.encoder_size is not None or self.with_mask or self.with_foreground or self.part_ids is not None:
            mask = load_mask(self.mask_paths[image_id], self.domain.raw_scheme)
            if self.encoder_size is not None:
                seen = self._hand_annotated(mask, index, draw)
                item["x"] = encoder_input(seen, self.domain, self.encoder_size, self.use_contour, self.contour_skip)
            if self.with_mask:
                item["mask"] = torch.from_numpy(np.asarray(crop_to_domain(Image.fromarray(mask.labels), self.domain)).copy())
            if self.with_foreground:
                item["foreground"] = self._fraction(mask.labels != 0)
            if self.part_ids is not None:
                item["parts"] = self._fraction(np.isin(mask.labels, self.part_ids))
        if self.geometry_points > 0:
            item.update(self._geometry(index))
        return item

    def _hand_annotated(self, mask: LabelMask, index: int, draw: int | None) -> LabelMask:
        """The encoder's view of ``mask``: as it is, or (``mask_realism``) as an annotator might have drawn it."""
        if self.mask_realism <= 0 or draw is None:
            return mask
        from .augment import MaskRealism, hand_annotated

        # SeedSequence entropy must be non-negative: a negative config seed is folded onto 64 bits
        rng = np.random.default_rng([self.realism_seed & (2**64 - 1), index, draw, _REALISM_STREAM])
        return LabelMask(hand_annotated(mask.labels, rng, MaskRealism(strength=self.mask_realism)), mask.scheme)

    def _fraction(self, inside: np.ndarray) -> torch.Tensor:
        """A boolean map of the mask -> ``(1, S, S)``: the fraction of each ground-truth pixel that is inside."""
        framed = crop_to_domain(Image.fromarray((inside * 255).astype(np.uint8)), self.domain)
        resized = framed.resize((self.image_size, self.image_size), Image.BOX)
        return torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0)[None]

    def _geometry(self, index: int) -> dict:
        from ..synthfaces import SynthHead
        from ..synthfaces.render import head_bounds
        from ..synthfaces.targets import field_targets, sample_points

        cached = self._geometry_cache.get(index)
        if cached is not None:
            return cached
        k = self.identity[index]
        head = self._heads.get(k)
        if head is None:
            head = self._heads[k] = SynthHead(self.identity_params()[k], head_bounds())
        with torch.no_grad():
            points = sample_points(head, self.geometry_points, torch.Generator().manual_seed(1_000_003 * index + 17),
                                   self.geometry_reach, self.geometry_focus)
            rgb, sigma = field_targets(head, points)
        self._geometry_cache[index] = {"points": points, "point_rgb": rgb, "point_sigma": sigma}
        return self._geometry_cache[index]


def _check_generator_version(root: Path) -> None:
    """Identity parameters rebuild heads with this package's generator: refuse a set drawn by another major version
    (SynthFaces 2.0 changed the framing and the hair, so 1.x parameters would give other heads than its images)."""
    from ..synthfaces import GENERATOR_VERSION

    info_file = root / "synthfaces.json"
    if not info_file.is_file():
        return
    version = str(json.loads(info_file.read_text()).get("version", ""))
    if version.split(".")[0] != GENERATOR_VERSION.split(".")[0]:
        raise ConfigError(
            f"{root} was drawn by SynthFaces generator {version or 'of unknown version'}, but this package rebuilds heads "
            f"with generator {GENERATOR_VERSION}: regenerate it with `python -m sem2nerf synth`"
        )


class StepBatchSampler:
    """Infinite batch sampler: the batch of ``rank`` at micro-step ``m`` is a pure function of the seed.

    The index stream is a concatenation of seeded permutations (one per epoch); global batch
    ``g = m * world_size + rank`` takes positions ``[g * batch, (g + 1) * batch)``. Start at
    ``start_micro_step`` to resume exactly. With ``with_draw`` it yields ``(index, epoch)`` pairs instead of
    indices (:meth:`draws_at`): each item is drawn once per epoch, so the pair names one draw of one item
    (:class:`MaskImageDataset` seeds its mask realism with it).
    """

    def __init__(self, num_items: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1, start_micro_step: int = 0,
                 with_draw: bool = False) -> None:
        self.n, self.batch, self.seed = num_items, batch_size, seed
        self.rank, self.world = rank, world_size
        self.start = start_micro_step
        self.with_draw = with_draw
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            if len(self._perms) > 4:
                self._perms.pop(min(self._perms))
            self._perms[epoch] = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        return self._perms[epoch]

    def batch_at(self, micro_step: int) -> list[int]:
        g = micro_step * self.world + self.rank
        positions = range(g * self.batch, (g + 1) * self.batch)
        return [int(self._perm(p // self.n)[p % self.n]) for p in positions]

    def draws_at(self, micro_step: int) -> list[tuple[int, int]]:
        """The batch at ``micro_step`` as ``(index, epoch)`` pairs."""
        g = micro_step * self.world + self.rank
        epochs = [p // self.n for p in range(g * self.batch, (g + 1) * self.batch)]
        return list(zip(self.batch_at(micro_step), epochs, strict=True))

    def __iter__(self) -> Iterator[list[int] | list[tuple[int, int]]]:
        m = self.start
        while True:
            yield self.draws_at(m) if self.with_draw else self.batch_at(m)
            m += 1
