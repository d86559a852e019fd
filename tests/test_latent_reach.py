"""benchmarks/latent_reach.py: the principal directions of a decoder's latents, and one tiny end-to-end run."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import load_benchmark
from test_training_common import tiny_data_fixture, tiny_decoder_fixture  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def bench():
    yield from load_benchmark("latent_reach")


def test_principal_directions_span_the_latents(bench):
    """A rank-3 table gives 3 orthonormal directions, and each latent is the mean plus its coordinates along them."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(20, 3, generator=gen) @ torch.randn(3, 8, generator=gen)
    mean, basis, std = bench.principal_directions(z)
    assert basis.shape == (3, 8) and std.shape == (3,)
    assert torch.allclose(basis @ basis.T, torch.eye(3), atol=1e-5)
    u = (z - mean) @ basis.T / std
    assert torch.allclose(mean + (u * std) @ basis, z, atol=1e-4)


def test_a_tiny_run_fits_each_mask_and_reports_both_ious(bench, tiny_decoder, tmp_path):
    out = tmp_path / "reach.json"
    results = bench.main([str(tiny_decoder), "--count", "2", "--steps", "3", "--threads", "1", "--json", str(out)])
    (r,) = results
    assert r["directions"] >= 1 and len(r["per_mask"]["fitted"]) == 2
    assert all(0.0 <= v <= 1.0 for v in r["per_mask"]["fitted"] + r["per_mask"]["mean_latent"])
    assert r["u_rms"] > 0, "the fit moved the latent"
    assert json.loads(out.read_text())[0]["decoder"] == str(tiny_decoder)
