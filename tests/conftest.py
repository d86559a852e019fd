"""Shared fixtures: a tiny model configuration that builds and renders in milliseconds on CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sem2nerf import Sem2NeRF

TINY_CONFIG = {
    "encoder_size": 64,
    "encoder_embed_dim": 24,
    "encoder_depths": (1, 1),
    "encoder_num_heads": (1, 2),
    "encoder_window_size": 4,
    "decoder_hidden_dim": 32,
    "decoder_num_layers": 3,
    "decoder_z_dim": 16,
    "decoder_mapping_hidden_dim": 32,
    "latent_avg_samples": 512,
}


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(2)


@pytest.fixture
def tiny_model() -> Sem2NeRF:
    torch.manual_seed(0)
    model = Sem2NeRF(**TINY_CONFIG)
    # Give the encoder head non-zero weights so that different masks give different codes.
    with torch.no_grad():
        model.encoder.head.fc.weight.normal_(0, 0.02)
    return model.eval()


def face_mask(size: int = 256) -> np.ndarray:
    """A crude frontal face in CelebAMask-HQ raw ids, drawn at ``size`` px (made by this project)."""
    import cv2

    m = np.zeros((size, size), np.uint8)
    s = size / 256
    def c(v: float) -> int:
        return round(v * s)

    cv2.rectangle(m, (c(20), c(200)), (c(236), c(255)), 18, -1)  # cloth
    cv2.rectangle(m, (c(100), c(170)), (c(156), c(215)), 17, -1)  # neck
    cv2.ellipse(m, (c(128), c(110)), (c(70), c(90)), 0, 0, 360, 13, -1)  # hair
    cv2.ellipse(m, (c(128), c(125)), (c(58), c(75)), 0, 0, 360, 1, -1)  # skin
    cv2.ellipse(m, (c(104), c(110)), (c(11), c(6)), 0, 0, 360, 4, -1)  # l_eye
    cv2.ellipse(m, (c(152), c(110)), (c(11), c(6)), 0, 0, 360, 5, -1)  # r_eye
    cv2.rectangle(m, (c(92), c(94)), (c(116), c(98)), 6, -1)  # l_brow
    cv2.rectangle(m, (c(140), c(94)), (c(164), c(98)), 7, -1)  # r_brow
    cv2.ellipse(m, (c(128), c(135)), (c(8), c(16)), 0, 0, 360, 2, -1)  # nose
    cv2.ellipse(m, (c(128), c(165)), (c(20), c(5)), 0, 180, 360, 11, -1)  # u_lip
    cv2.ellipse(m, (c(128), c(165)), (c(20), c(6)), 0, 0, 180, 12, -1)  # l_lip
    return m


@pytest.fixture
def mask_array() -> np.ndarray:
    return face_mask(256)


def load_benchmark(name: str):
    """Import ``benchmarks/<name>.py`` as module ``name`` (yields it; a fixture body). Registered in ``sys.modules``
    while in use: its dataclasses look their module up while they are built."""
    import importlib.util
    import sys
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)
