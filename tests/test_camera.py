"""Camera conventions (official-sem2nerf.md 2.1, 2.2, 2.8) and region-aware patches (3.2)."""

import math

import pytest
import torch

from sem2nerf.camera import (
    PatchSchedule,
    angles_to_renderer,
    camera_origin,
    camera_to_world,
    patch_min_scale,
    patch_ray_directions,
    ray_directions,
    renderer_to_angles,
    sample_patch_pattern,
)


def test_worked_example_of_the_reference():
    origin = camera_origin(torch.tensor(math.pi / 2 + 0.3), torch.tensor(math.pi / 2 - 0.2))
    torch.testing.assert_close(origin, torch.tensor([-0.290, 0.199, 0.936]), atol=1e-3, rtol=0)


def test_frontal_camera_is_identity_rotation_at_z_plus_one():
    c2w = camera_to_world(*angles_to_renderer(0.0, 0.0))
    torch.testing.assert_close(c2w[:3, :3], torch.eye(3), atol=1e-6, rtol=0)
    torch.testing.assert_close(c2w[:3, 3], torch.tensor([0.0, 0.0, 1.0]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("yaw,pitch", [(30.0, 0.0), (-50.0, 20.0), (10.0, -35.0), (170.0, 80.0)])
def test_cameras_look_at_the_origin_with_a_proper_rotation(yaw, pitch):
    c2w = camera_to_world(*angles_to_renderer(yaw, pitch))
    rot, origin = c2w[:3, :3], c2w[:3, 3]
    torch.testing.assert_close(rot @ rot.T, torch.eye(3), atol=1e-5, rtol=0)
    assert torch.det(rot) == pytest.approx(1.0, abs=1e-5)
    forward = rot @ torch.tensor([0.0, 0.0, -1.0])  # the camera looks down its local -z
    torch.testing.assert_close(forward, -origin / origin.norm(), atol=1e-5, rtol=0)
    assert (rot @ torch.tensor([0.0, 1.0, 0.0]))[1] > 0  # image up points to world +y


def test_public_angle_conventions():
    theta, phi = angles_to_renderer(25.0, -10.0)
    assert float(theta) == pytest.approx(math.radians(65.0))
    assert float(phi) == pytest.approx(math.radians(80.0))
    yaw, pitch = renderer_to_angles(theta, phi)
    assert float(yaw) == pytest.approx(25.0, abs=1e-4) and float(pitch) == pytest.approx(-10.0, abs=1e-4)
    # positive yaw moves the camera to +x; negative pitch (phi < 90deg) moves it up
    assert camera_origin(*angles_to_renderer(30.0, 0.0))[0] > 0
    assert camera_origin(*angles_to_renderer(0.0, -20.0))[1] > 0


def test_corner_ray_for_fov_12_and_row_order():
    d = ray_directions(64, 64, 12.0)
    top_left, top_right, bottom_left = d[0], d[63], d[64 * 63]
    assert float(-top_right[2] / top_right[0]) == pytest.approx(9.5144, abs=1e-3)
    assert top_left[0] < 0 and top_left[1] > 0  # row 0 is the top, column 0 the left
    assert bottom_left[1] < 0
    torch.testing.assert_close(d.norm(dim=-1), torch.ones(64 * 64))


def test_annealing_schedule_values():
    celeb = PatchSchedule()
    assert patch_min_scale(0, celeb) == pytest.approx(0.9)
    assert patch_min_scale(18_999, celeb) == pytest.approx(0.9)
    assert patch_min_scale(19_000, celeb) == pytest.approx(0.8974, abs=1e-4)
    assert patch_min_scale(100_000, celeb) == pytest.approx(0.5655, abs=1e-4)
    assert patch_min_scale(364_000, celeb) > 0.125
    assert patch_min_scale(365_000, celeb) == pytest.approx(0.125)
    cat = PatchSchedule(min_scale=0.08)
    assert patch_min_scale(443_000, cat) > 0.08 and patch_min_scale(444_000, cat) == pytest.approx(0.08)
    assert patch_min_scale(10, PatchSchedule(anneal=0.0)) == 0.125


@pytest.mark.parametrize("mode", ["independent", "official"])
def test_patches_stay_inside_the_image(mode):
    gen = torch.Generator().manual_seed(0)
    for step in (0, 200_000, 900_000):
        pattern = sample_patch_pattern(8, step, PatchSchedule(resolution=16, mode=mode), gen)
        assert pattern.shape == (8, 16, 16, 2)
        assert pattern.abs().max() <= 1.0 + 1e-6
        side = pattern[:, 0, -1, 0] - pattern[:, 0, 0, 0]  # x extent of each patch
        assert (side >= 2 * patch_min_scale(step, PatchSchedule()) - 1e-5).all()


def test_official_patches_share_scale_and_lie_on_the_diagonal():
    gen = torch.Generator().manual_seed(1)
    pattern = sample_patch_pattern(6, 500_000, PatchSchedule(resolution=8, mode="official"), gen)
    centres = pattern.mean(dim=(1, 2))
    torch.testing.assert_close(centres[:, 0].abs(), centres[:, 1].abs())  # same magnitude on x and y
    torch.testing.assert_close(centres[:, 0], centres[:, 1])  # same sign too: on the main diagonal
    sides = pattern[:, 0, -1, 0] - pattern[:, 0, 0, 0]
    assert torch.allclose(sides, sides[0].expand_as(sides))
    ours = sample_patch_pattern(6, 500_000, PatchSchedule(resolution=8), gen)
    assert (ours[:, 0, -1, 0] - ours[:, 0, 0, 0]).std() > 0  # independent scales per sample


def test_full_patch_reproduces_the_ray_grid():
    lin = torch.linspace(-1, 1, 32)
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    pattern = torch.stack((xx, yy), -1)[None]
    torch.testing.assert_close(patch_ray_directions(pattern, 32, 12.0)[0], ray_directions(32, 32, 12.0), atol=1e-6, rtol=0)


def test_project_points_inverts_ray_directions_at_pixel_centres():
    """A point along the ray of pixel (row, col) projects to that pixel centre's coordinates in [-1, 1] (x right, y
    down), in front of the camera; a point behind the camera is flagged."""
    from sem2nerf.camera import angles_to_renderer, camera_to_world, project_points, ray_directions

    size, fov = 9, 14.0
    c2w = camera_to_world(*angles_to_renderer(25.0, -10.0))
    dirs = ray_directions(size, size, fov) @ c2w[:3, :3].T
    points = c2w[:3, 3] + 1.1 * dirs
    xy, ahead = project_points(points, c2w, fov)
    grid = torch.linspace(-1.0, 1.0, size)
    expected = torch.stack(torch.meshgrid(grid, grid, indexing="ij")[::-1], dim=-1).reshape(-1, 2)
    assert bool(ahead.all()) and torch.allclose(xy, expected, atol=1e-4)
    behind = (c2w[:3, 3] - dirs[:1])
    assert not bool(project_points(behind, c2w, fov)[1][0])
