"""Baked radiance grids: fidelity to direct renders, coarse-to-fine savings, grid layout, the model API."""

import math
from types import SimpleNamespace

import pytest
import torch
from conftest import face_mask

from sem2nerf.bake import BakeCache, BakedScene, bake_field, frustum_radius
from sem2nerf.camera import angles_to_renderer, camera_to_world, ray_directions
from sem2nerf.renderer import RenderOptions, render_image
from sem2nerf.trajectories import Pose


def smooth_ball(points, directions=None):
    """An opaque ball of radius 0.08 with a soft edge and a smoothly varying colour."""
    r = points.norm(dim=-1, keepdim=True)
    sigma = 200.0 * torch.sigmoid((0.08 - r) / 0.004) - 1.0
    rgb = 0.5 + 0.4 * torch.sin(points * torch.tensor([40.0, 25.0, 30.0]))
    return torch.cat((rgb, sigma), -1)


def psnr(a, b):
    """PSNR of images in [-1, 1] (peak 1 after mapping to [0, 1])."""
    return 10 * math.log10(1.0 / float(((a - b) / 2).pow(2).mean()))


RADIUS = frustum_radius(12.0, 1.12)


@pytest.fixture(scope="module")
def baked_ball():
    grid, stats = bake_field(smooth_ball, RADIUS, 64, levels=2)
    return BakedScene(grid, RADIUS, 12.0, 0.88, 1.12, stats)


def test_frustum_radius_holds_every_sample_of_a_view():
    fov, ray_end = 17.0, 1.12
    c2w = camera_to_world(*angles_to_renderer(33.0, -21.0))
    dirs = ray_directions(9, 9, fov) @ c2w[:3, :3].T
    far = (c2w[:3, 3] + dirs * ray_end).norm(dim=-1)
    assert float(far.max()) <= frustum_radius(fov, ray_end) + 1e-6
    assert float(far.max()) == pytest.approx(frustum_radius(fov, ray_end), abs=1e-4)  # tight at the corners


def test_baked_views_match_direct_renders_of_a_smooth_field(baked_ball):
    opts = RenderOptions(deterministic=True)
    for yaw, pitch in ((0.0, 0.0), (70.0, -30.0), (180.0, 20.0)):
        c2w = camera_to_world(*angles_to_renderer(yaw, pitch))[None]
        direct = render_image(smooth_ball, c2w, 48, 12.0, opts).rgb
        baked = render_image(baked_ball.field, c2w, 48, 12.0, opts).rgb
        assert float(direct.std()) > 0.05  # the view shows structure
        assert psnr(direct, baked) >= 30.0


def test_default_baked_views_are_one_uniform_pass_as_close_to_the_field_as_the_direct_scheme(baked_ball):
    """A baked view takes 2n stratified samples in one pass (no importance sampling): it is at least as close to the
    field's own image (many deterministic samples of the network) as the grid rendered with the direct scheme."""
    opts = baked_ball.render_options(12)
    assert (opts.num_samples, opts.hierarchical, opts.lock_view_dependence) == (24, False, True)
    direct_scheme = baked_ball.render_options(12, hierarchical=True)
    assert (direct_scheme.num_samples, direct_scheme.hierarchical) == (12, True)
    truth_opts = RenderOptions(num_samples=400, hierarchical=False, deterministic=True)
    for yaw, pitch in ((0.0, 0.0), (50.0, -20.0)):
        pose = [Pose(yaw, pitch, 12.0)]
        truth = render_image(smooth_ball, camera_to_world(*angles_to_renderer(yaw, pitch))[None], 32, 12.0,
                             truth_opts).rgb
        uniform = psnr(baked_ball.render_output(pose, 32, opts)[0].rgb, truth)
        hierarchical = psnr(baked_ball.render_output(pose, 32, direct_scheme)[0].rgb, truth)
        assert uniform >= 30.0 and uniform >= hierarchical
    image = baked_ball.render(yaw=20.0, size=16, samples=6)  # the public call uses the same scheme
    assert image.size == (16, 16)


def test_coarse_to_fine_evaluates_far_fewer_points_and_keeps_the_surface(baked_ball):
    dense, dense_stats = bake_field(smooth_ball, RADIUS, 64, levels=1)
    assert dense_stats.points_evaluated == 65**3
    assert baked_ball.stats.fraction_of_dense < 0.5
    # nodes the bake evaluated are exact; everywhere the ball's surface is, the sparse grid agrees with the dense one
    near_surface = (dense[3] > 1.0) & (dense[3] < 190.0)
    assert near_surface.sum() > 100
    torch.testing.assert_close(baked_ball.grid[:, near_surface], dense[:, near_surface], atol=1e-4, rtol=1e-5)


def test_sphere_bound_skips_nodes_no_view_samples_and_renders_the_same(baked_ball):
    """Nodes beyond the ball every camera's samples lie in are not evaluated; views inside the fov are unchanged."""
    _, one_level = bake_field(smooth_ball, RADIUS, 32, levels=1, sphere=RADIUS)
    assert one_level.points_evaluated < 0.65 * 33**3, "a ball and a cell of margin: ~60% of the cube"
    grid, stats = bake_field(smooth_ball, RADIUS, 64, levels=2, sphere=RADIUS)
    assert stats.points_evaluated < baked_ball.stats.points_evaluated
    bounded = BakedScene(grid, RADIUS, 12.0, 0.88, 1.12, stats)
    opts = RenderOptions(num_samples=12, ray_start=0.88, ray_end=1.12, deterministic=True)
    for yaw, pitch in ((0.0, 0.0), (40.0, -20.0), (-75.0, 30.0)):
        a = bounded.render_output([Pose(yaw, pitch, 12.0)], 24, opts)[0].rgb
        b = baked_ball.render_output([Pose(yaw, pitch, 12.0)], 24, opts)[0].rgb
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_density_and_colour_are_indexed_by_world_x_y_z(baked_ball):
    coords = baked_ball.coordinates
    i, j, k = 40, 25, 33
    point = torch.stack((coords[i], coords[j], coords[k]))[None]
    value = smooth_ball(point)[0]
    dense, _ = bake_field(smooth_ball, RADIUS, 64, levels=1)
    layout = BakedScene(dense, RADIUS, 12.0, 0.88, 1.12)
    assert float(layout.density[i, j, k]) == pytest.approx(float(value[3]), abs=1e-4)
    torch.testing.assert_close(layout.colour[i, j, k], value[:3], atol=1e-5, rtol=0)
    torch.testing.assert_close(layout.sample(point)[0], value, atol=1e-4, rtol=1e-5)  # trilinear is exact at nodes


def test_bake_rejects_bad_arguments():
    with pytest.raises(ValueError, match="multiple"):
        bake_field(smooth_ball, RADIUS, 63, levels=2)
    with pytest.raises(ValueError, match="radius"):
        bake_field(smooth_ball, 0.0, 8)
    grid, _ = bake_field(smooth_ball, RADIUS, 8)
    with pytest.raises(ValueError, match="view-locked"):
        BakedScene(grid, RADIUS, 12.0, 0.88, 1.12).render_output([Pose(0.0, 0.0, 12.0)], 8, RenderOptions(lock_view_dependence=False))


def test_model_bake_renders_like_the_model(tiny_model):
    scene = tiny_model.encode(face_mask(128))
    baked = tiny_model.bake(scene, resolution=32)
    assert baked.density.shape == (33, 33, 33)
    image, depth = baked.render(yaw=30, pitch=-10, size=24, return_depth=True)
    assert image.size == (24, 24) and depth.shape == (24, 24)
    frames = baked.render_views([Pose(0.0, 0.0, 12.0), Pose(20.0, 0.0, 17.0)], size=16)
    assert [f.size for f in frames] == [(16, 16), (16, 16)]
    assert baked.radius == pytest.approx(frustum_radius(tiny_model.fov, tiny_model.ray_end))


class BallModel:
    """The least a BakeCache needs of a model: ``fov``, ``ray_end`` and ``bake`` (here the ball, at the asked fov)."""

    fov, ray_start, ray_end = 12.0, 0.88, 1.12

    def __init__(self):
        self.baked_fovs = []

    def bake(self, scene, resolution, fov, progress=None):
        self.baked_fovs.append(fov)
        radius = frustum_radius(fov, self.ray_end)
        grid, stats = bake_field(smooth_ball, radius, resolution, levels=1)
        return BakedScene(grid, radius, self.fov, self.ray_start, self.ray_end, stats)


def code_scene(value, regional=None):
    """A stand-in scene: the cache reads only its codes (and a regional style's)."""
    return SimpleNamespace(frequencies=torch.full((1, 4), float(value)), phase_shifts=torch.zeros(1, 4),
                           regional=regional, pose=None, mask=None)


def test_bake_cache_keeps_the_least_recently_used_out_of_its_byte_budget():
    model, a, b, c = BallModel(), code_scene(1), code_scene(2), code_scene(3)
    one = BakeCache.grid_bytes(model.bake(a, 8, 12.0))
    assert one == 4 * 9**3 * 4, "a 8-cell grid: 4 x 9^3 float32, its field's shared storage counted once"
    model.baked_fovs.clear()
    cache = BakeCache(max_bytes=int(2.5 * one), resolution=8)
    grid_a = cache.get(model, a, 12.0)
    assert grid_a.resolution == 8 and cache.get(model, a, 12.0) is grid_a and cache.bakes == 1, "the second get hits"
    cache.get(model, b, 12.0)
    assert cache.peek(model, a, 12.0) is grid_a  # a is now the most recently used
    cache.get(model, c, 12.0)
    assert cache.bakes == 3 and cache.nbytes == 2 * one <= cache.max_bytes
    assert cache.peek(model, b, 12.0) is None, "the least recently used went first"
    assert cache.peek(model, a, 12.0) is grid_a and cache.peek(model, c, 12.0) is not None
    assert cache.bakes == 3 and len(model.baked_fovs) == 3, "peek never bakes"
    big = BakeCache(max_bytes=one - 1, resolution=8)
    assert big.get(model, a, 12.0).resolution == 8 and big.nbytes == 0 and big.peek(model, a, 12.0) is None


def test_bake_cache_bakes_again_for_a_wider_field_of_view_and_keys_by_codes():
    model, scene = BallModel(), code_scene(1)
    cache = BakeCache(max_bytes=2**20, resolution=8)
    narrow = cache.get(model, scene, 6.0)
    assert model.baked_fovs == [12.0], "never narrower than the model's own field of view"
    assert cache.peek(model, scene, 20.0) is None
    wide = cache.get(model, scene, 20.0)
    assert model.baked_fovs == [12.0, 20.0] and wide.radius > narrow.radius and cache.nbytes == BakeCache.grid_bytes(wide)
    assert cache.get(model, scene, 12.0) is wide and cache.bakes == 2, "the wider grid serves narrower views"
    assert BakeCache.key(code_scene(1)) == BakeCache.key(scene) != BakeCache.key(code_scene(1.0001))
    regional = SimpleNamespace(frequencies=torch.ones(1, 4), phase_shifts=torch.zeros(1, 4), regions=("hair",))
    assert BakeCache.key(code_scene(1, regional)) != BakeCache.key(scene)
    other = SimpleNamespace(frequencies=torch.ones(1, 4), phase_shifts=torch.zeros(1, 4), regions=("skin",))
    assert BakeCache.key(code_scene(1, other)) != BakeCache.key(code_scene(1, regional)), "styled in other parts"
    BakeCache.release_freed()  # hands freed heap back (a no-op without glibc); never raises
