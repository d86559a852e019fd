"""Shared fixtures and helpers of the training tests (test_training_*.py): a tiny SynthFaces set, a generator-stage
export of the tiny config and the generator stage over-fitted to one batch, each made once per test session whichever
module asks first, and the tiny config with overrides. A module imports the fixtures it uses by their function names
(``tiny_data_fixture`` is the fixture ``tiny_data``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sem2nerf.training import load_config
from sem2nerf.training.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "synthfaces_tiny.yaml"
FIXED_PATCH = ("render.min_scale=1.0", "render.random_shift=false", "optim.name=adam", "optim.betas=[0.9,0.999]")

_MADE: dict[str, object] = {}  # made once per session (the paths live in pytest's session temporary folder)


def _config(tmp: Path, data: Path, *overrides: str) -> TrainConfig:
    return load_config(TINY, [f"data.root={data}", f"output_dir={tmp}", *overrides])


def _metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="session", name="tiny_data")
def tiny_data_fixture(tmp_path_factory) -> Path:
    return tiny_data_once(tmp_path_factory)


@pytest.fixture(scope="session", name="tiny_decoder")
def tiny_decoder_fixture(tmp_path_factory) -> Path:
    return tiny_decoder_once(tmp_path_factory)


@pytest.fixture(scope="session", name="overfit_generator")
def overfit_generator_fixture(tmp_path_factory) -> tuple[Path, list[float]]:
    return overfit_generator_once(tmp_path_factory)


@pytest.fixture(name="first_two_items")
def first_two_items_fixture(monkeypatch) -> None:
    """Every training step draws the same batch (items 0 and 1), so a loss on it must fall."""
    from sem2nerf.training import data as data_mod

    monkeypatch.setattr(data_mod.StepBatchSampler, "batch_at", lambda self, m: [0, 1])


def tiny_data_once(tmp_path_factory) -> Path:
    """6 SynthFaces identities x 3 views at 40 px."""
    if "data" not in _MADE:
        from sem2nerf.synthfaces import generate_dataset

        out = tmp_path_factory.mktemp("synth") / "tiny"
        generate_dataset(out, identities=6, views=3, size=40, seed=3, workers=1)
        _MADE["data"] = out
    return _MADE["data"]


def tiny_decoder_once(tmp_path_factory) -> Path:
    """A generator-stage export of the tiny config (trained for a few steps)."""
    if "decoder" not in _MADE:
        from sem2nerf.training.trainer import train

        out = tmp_path_factory.mktemp("gen")
        _MADE["decoder"] = train(_config(out, tiny_data_once(tmp_path_factory), "stage=generator", "train.max_steps=3"))
    return _MADE["decoder"]


def overfit_generator_once(tmp_path_factory) -> tuple[Path, list[float]]:
    """The generator stage over-fitted to one batch: (export folder, per-step L2)."""
    if "overfit" not in _MADE:
        from sem2nerf.training import data as data_mod
        from sem2nerf.training.trainer import train

        out = tmp_path_factory.mktemp("overfit_gen")
        original = data_mod.StepBatchSampler.batch_at
        data_mod.StepBatchSampler.batch_at = lambda self, m: [0, 1]
        try:
            export = train(_config(out, tiny_data_once(tmp_path_factory), "stage=generator", "train.max_steps=25",
                                   "optim.lr=2e-3", "generator.latents.lr=2e-2", *FIXED_PATCH))
        finally:
            data_mod.StepBatchSampler.batch_at = original
        _MADE["overfit"] = (export, [r["l2"] for r in _metrics(out) if "l2" in r])
    return _MADE["overfit"]
