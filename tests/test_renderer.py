"""Volume rendering against analytic cases; sampling, determinism and chunking properties."""

import importlib.util
import math
from pathlib import Path

import pytest
import torch

from sem2nerf.camera import angles_to_renderer, camera_to_world
from sem2nerf.decoder import PiGANDecoder
from sem2nerf.renderer import RenderOptions, integrate, render_image, render_patch, sample_pdf


def slab_field(sigma: float, half_thickness: float, colour=(0.2, 0.6, 0.9)):
    """Constant density inside |z| < half_thickness (a slab facing the frontal camera), constant colour."""

    def field(points, directions):
        inside = (points[..., 2].abs() < half_thickness).float()[..., None]
        rgb = torch.tensor(colour).expand(*points.shape[:-1], 3)
        return torch.cat((rgb, sigma * inside), -1)

    return field


def frontal(size=1):
    return camera_to_world(*angles_to_renderer(0.0, 0.0))[None]


def test_integrate_constant_density_matches_beer_lambert():
    n, sigma = 50, 7.0
    z = torch.linspace(0.9, 1.1, n)[None]
    dens = torch.full((1, n), sigma)
    dens[:, -1] = 0.0  # nothing behind the slab: the last (infinite) interval is empty
    rgb = torch.full((1, n, 3), 0.5)
    _, _, weights, opacity = integrate(rgb, dens, z)
    expected = 1.0 - math.exp(-sigma * 0.2)
    assert float(opacity) == pytest.approx(expected, rel=1e-5)
    assert float(weights.sum()) == pytest.approx(expected, rel=1e-5)
    _, _, w_back, _ = integrate(rgb, dens, z, last_back=True)
    assert float(w_back.sum()) == pytest.approx(1.0, abs=1e-6)


def test_rendered_slab_opacity_and_colour():
    sigma, half = 20.0, 0.04
    opts = RenderOptions(num_samples=400, hierarchical=False, deterministic=True, last_back=False, ray_start=0.88, ray_end=1.12)
    out = render_image(slab_field(sigma, half), frontal(), 5, 12.0, opts)
    centre = out.opacity[0, 2, 2]
    assert float(centre) == pytest.approx(1 - math.exp(-sigma * 2 * half), abs=0.01)
    rgb = (out.rgb[0, :, 2, 2] + 1) / 2  # back from [-1, 1]
    torch.testing.assert_close(rgb, torch.tensor([0.2, 0.6, 0.9]) * centre, atol=1e-3, rtol=0)
    white = render_image(slab_field(0.0, half), frontal(), 3, 12.0, opts.with_(white_back=True))
    torch.testing.assert_close(white.rgb, torch.ones_like(white.rgb))  # empty space composites to white


def test_importance_samples_concentrate_on_the_surface():
    n = 24
    z = torch.linspace(0.88, 1.12, n)[None]
    bins = 0.5 * (z[:, 1:] + z[:, :-1])
    weights = torch.full((1, n - 2), 1e-4)
    weights[0, 10] = 1.0  # almost all weight in one interval
    fine = sample_pdf(bins, weights, 64, torch.rand(1, 64, generator=torch.Generator().manual_seed(0)))
    inside = ((fine >= bins[0, 10]) & (fine <= bins[0, 11])).float().mean()
    assert inside > 0.9
    det = sample_pdf(bins, weights, 64)
    assert torch.all(det[:, 1:] >= det[:, :-1])  # deterministic samples are sorted


def test_hierarchical_pass_locates_the_surface_better_than_coarse_samples():
    # an opaque ball of radius 0.015 at the origin: the frontal centre ray enters it at depth 0.985
    def ball(points, directions):
        inside = (points.norm(dim=-1, keepdim=True) < 0.015).float()
        return torch.cat((torch.full_like(points, 0.5), 400.0 * inside), -1)

    opts = RenderOptions(num_samples=12, deterministic=True, ray_start=0.88, ray_end=1.12)
    coarse = render_image(ball, frontal(), 3, 12.0, opts.with_(hierarchical=False)).depth[0, 1, 1]
    fine = render_image(ball, frontal(), 3, 12.0, opts).depth[0, 1, 1]
    assert abs(float(fine) - 0.985) < 0.003
    assert abs(float(fine) - 0.985) < abs(float(coarse) - 0.985)


@pytest.fixture(scope="module")
def decoder_field():
    torch.manual_seed(0)
    dec = PiGANDecoder(hidden_dim=32, num_layers=3, z_dim=16, mapping_hidden_dim=32)
    freq, phase = dec.mapping(torch.randn(1, 16))
    return dec, freq, phase


def test_seeded_renders_are_reproducible_and_chunking_does_not_change_them(decoder_field):
    dec, f, p = decoder_field
    field = dec.modulate(f, p)
    opts = RenderOptions(num_samples=8)
    c2w = frontal()
    size = 36  # 1296 rays: more than one block of random numbers (RNG_BLOCK_RAYS)
    a = render_image(field, c2w, size, 12.0, opts, torch.Generator().manual_seed(3)).rgb
    b = render_image(field, c2w, size, 12.0, opts.with_(chunk_points=300), torch.Generator().manual_seed(3)).rgb
    c = render_image(field, c2w, size, 12.0, opts, torch.Generator().manual_seed(4)).rgb
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    assert (a - c).abs().max() > 1e-4  # jitter is real
    d1 = render_image(field, c2w, 16, 12.0, opts.with_(deterministic=True)).rgb
    d2 = render_image(field, c2w, 16, 12.0, opts.with_(deterministic=True, chunk_points=100)).rgb
    torch.testing.assert_close(d1, d2, atol=1e-6, rtol=0)


def test_field_calls_never_exceed_the_chunk_size_whatever_the_image_size(decoder_field):
    dec, f, p = decoder_field
    field = dec.modulate(f, p)
    calls: list[int] = []

    def counting(points, directions):
        calls.append(points.shape[0] * points.shape[1])
        return field(points, directions)

    for size in (8, 32):
        calls.clear()
        render_image(counting, frontal(), size, 12.0, RenderOptions(num_samples=8, chunk_points=200), torch.Generator().manual_seed(0))
        assert max(calls) <= 200
        assert sum(calls) == size * size * 16  # every coarse and fine sample evaluated exactly once


def test_folded_field_equals_textbook_decoder(decoder_field):
    dec, f, p = decoder_field
    pts = torch.rand(1, 500, 3) * 0.24 - 0.12
    dirs = torch.nn.functional.normalize(torch.randn(1, 500, 3), dim=-1)
    locked = torch.tensor([0.0, 0.0, -1.0]).expand(1, 500, 3)
    with torch.no_grad():
        torch.testing.assert_close(dec.modulate(f, p)(pts), dec(pts, f, p, locked), atol=1e-5, rtol=0)
        torch.testing.assert_close(dec.modulate(f, p, None)(pts, dirs), dec(pts, f, p, dirs), atol=1e-5, rtol=0)


def test_blocked_no_grad_evaluation_equals_the_differentiable_one(decoder_field):
    dec, f, p = decoder_field
    pts = torch.rand(1, 300, 3) * 0.24 - 0.12
    dirs = torch.nn.functional.normalize(torch.randn(1, 300, 3), dim=-1)
    for locked in (True, False):
        field = dec.modulate(f.detach(), p.detach()) if locked else dec.modulate(f.detach(), p.detach(), None)
        view = None if locked else dirs
        with torch.enable_grad():
            reference = field(pts, view)
        field.block_points = 37  # blocks that do not divide the points
        with torch.no_grad():
            torch.testing.assert_close(field(pts, view), reference.detach(), atol=1e-6, rtol=0)


def _official_baseline():
    """The faithful re-implementation of the official inference path, from benchmarks/bench_render.py."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_render.py"
    spec = importlib.util.spec_from_file_location("bench_render", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fast_render_equals_the_official_algorithm_in_deterministic_mode(decoder_field):
    bench = _official_baseline()
    dec, f, p = decoder_field
    yaw, pitch, size, fov, steps = 25.0, -10.0, 20, 12.0, 10
    official = bench.official_render(dec, f.detach(), p.detach(), yaw, pitch, size, fov, steps, 0.88, 1.12, max_batch=700)
    opts = RenderOptions(num_samples=steps, deterministic=True, chunk_points=300)
    ours = bench.our_render(dec.modulate(f.detach(), p.detach()), yaw, pitch, size, fov, opts)
    assert official.shape == ours.shape == (1, 3, size, size)
    assert float(official.std()) > 1e-3  # a real image, not a constant
    torch.testing.assert_close(ours, official, atol=2e-5, rtol=0)


def test_full_frame_patch_equals_image_render(decoder_field):
    dec, f, p = decoder_field
    field = dec.modulate(f, p)
    opts = RenderOptions(num_samples=8, deterministic=True)
    lin = torch.linspace(-1, 1, 16)
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    pattern = torch.stack((xx, yy), -1)[None]
    a = render_image(field, frontal(), 16, 12.0, opts).rgb
    b = render_patch(field, frontal(), pattern, 16, 12.0, opts).rgb
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_gradients_flow_to_the_codes_through_the_renderer(decoder_field):
    dec, f, p = decoder_field
    f = f.detach().clone().requires_grad_(True)
    out = render_image(dec.modulate(f, p.detach()), frontal(), 8, 12.0, RenderOptions(num_samples=6))
    out.rgb.mean().backward()
    assert f.grad is not None and f.grad.abs().sum() > 0


def test_skip_empty_resamples_only_rays_that_meet_matter():
    """skip_empty: rays through the ball render as without it; rays that miss it keep their coarse result; and the
    field sees fewer points."""
    radius = 0.05

    def ball(points, directions):
        inside = (points.norm(dim=-1) < radius).float()[..., None]
        rgb = (0.5 + 0.5 * torch.sin(40 * points)).clamp(0, 1)
        return torch.cat((rgb, 80.0 * inside), -1)

    calls = []

    def counted(points, directions):
        calls.append(points.shape[1])
        return ball(points, directions)

    opts = RenderOptions(num_samples=16, deterministic=True)
    full = render_image(counted, frontal(), 32, 12.0, opts)
    full_points, calls[:] = sum(calls), []
    skipped = render_image(counted, frontal(), 32, 12.0, opts.with_(skip_empty=1e-4))
    assert sum(calls) < 0.75 * full_points
    coarse = render_image(ball, frontal(), 32, 12.0, opts.with_(hierarchical=False))
    hit = coarse.opacity[0] >= 1e-4
    assert 0.05 < float(hit.float().mean()) < 0.6
    assert torch.allclose(skipped.rgb[0][:, hit], full.rgb[0][:, hit], atol=1e-5)
    assert torch.allclose(skipped.depth[0][hit], full.depth[0][hit], atol=1e-5)
    assert torch.equal(skipped.rgb[0][:, ~hit], coarse.rgb[0][:, ~hit])
    with pytest.raises(ValueError, match="skip_empty"):
        RenderOptions(skip_empty=1.0)
