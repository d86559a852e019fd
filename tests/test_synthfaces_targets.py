"""3D training targets of SynthFaces heads (sem2nerf.synthfaces.targets) and the data set that serves them."""

from __future__ import annotations

import pytest
import torch

from sem2nerf.synthfaces import SynthHead, draw_identity, generate_dataset
from sem2nerf.synthfaces.head import LABELS
from sem2nerf.synthfaces.render import BOX_HALF, HEAD_OFFSET, HEAD_SCALE, head_bounds
from sem2nerf.synthfaces.targets import MEAN_LIGHT, SIGMA_MAX, field_targets, sample_points
from sem2nerf.training.data import MaskImageDataset


def _head(index: int = 0) -> SynthHead:
    return SynthHead(draw_identity(0, index, 1)[0], head_bounds())


def test_density_is_opaque_inside_the_head_and_empty_at_the_box_corners():
    head = _head()
    inside = torch.tensor([HEAD_OFFSET])
    corners = torch.tensor([[sx * BOX_HALF, sy * BOX_HALF, sz * BOX_HALF] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    _, sigma_in = field_targets(head, inside)
    _, sigma_out = field_targets(head, corners)
    assert sigma_in.item() > 0.95 * SIGMA_MAX
    assert sigma_out.max().item() < 0.01 * SIGMA_MAX


def test_shaded_colour_is_the_albedo_under_the_mean_light():
    head = _head(1)
    points = sample_points(head, 256, torch.Generator().manual_seed(0))
    albedo, sigma_a = field_targets(head, points, shade=False)
    shaded, sigma_s = field_targets(head, points)
    _, ambient, diffuse = MEAN_LIGHT
    assert torch.equal(sigma_a, sigma_s)
    assert ((shaded >= 0) & (shaded <= 1)).all()
    lit = albedo.clamp_min(1e-3)
    ratio = shaded / lit
    assert (ratio >= ambient - 1e-4).all() and (ratio <= ambient + diffuse + 1e-4).all()
    assert (ratio - ratio.mean()).abs().max() > 0.05  # shading varies with the normal


def test_half_of_the_points_lie_near_the_surface_and_all_in_the_box():
    head = _head(2)
    points = sample_points(head, 1000, torch.Generator().manual_seed(1))
    assert points.shape == (1000, 3) and points.abs().max() <= BOX_HALF + 1e-6
    _, sigma = field_targets(head, points)
    fraction = sigma / SIGMA_MAX
    shell = fraction[500:]
    uniform = fraction[:500]
    near = ((shell > 0.001) & (shell < 0.999)).float().mean()  # within ~1 cm of the surface
    assert near > 0.8 and near > 2 * ((uniform > 0.001) & (uniform < 0.999)).float().mean()


def test_dataset_serves_deterministic_targets_per_item(tmp_path):
    root = tmp_path / "synth"
    generate_dataset(root, identities=2, views=2, size=24, seed=5, workers=1)
    a = MaskImageDataset(root, "celebamask_hq", None, image_size=16, encoder_size=None, geometry_points=64)
    b = MaskImageDataset(root, "celebamask_hq", None, image_size=16, encoder_size=None, geometry_points=64)
    first, again = a[1], b[1]
    assert first["points"].shape == (64, 3) and first["point_rgb"].shape == (64, 3) and first["point_sigma"].shape == (64,)
    assert torch.equal(first["points"], again["points"]) and torch.equal(first["point_sigma"], again["point_sigma"])
    assert not torch.equal(a[0]["points"], first["points"])  # each item draws its own points
    head = a._heads[a.identity[1]]  # the targets are those of the item's own head
    assert torch.allclose(field_targets(head, first["points"])[1], first["point_sigma"])
    other = next(i for i in range(len(a)) if a.identity[i] != a.identity[1])
    a[other]
    assert not torch.allclose(field_targets(a._heads[a.identity[other]], first["points"])[1], first["point_sigma"])


def test_reach_puts_a_quarter_of_the_points_in_the_camera_ball_where_space_beyond_the_box_is_empty():
    """sample_points(reach=R): the second quarter lies in the ball of radius R (much of it outside the box, where
    the target is empty space); without reach every point stays in the box."""
    head = _head(3)
    points = sample_points(head, 1000, torch.Generator().manual_seed(2), reach=0.2)
    far = points[250:500]
    assert points.shape == (1000, 3) and points[:250].abs().max() <= BOX_HALF + 1e-6
    assert far.norm(dim=1).max() <= 0.2 + 1e-6
    beyond = far.abs().max(dim=1).values > BOX_HALF + 0.01  # clear of the box's soft edge
    assert beyond.float().mean() > 0.4
    _, sigma = field_targets(head, far[beyond])
    assert sigma.max().item() < 0.01 * SIGMA_MAX
    inside = sample_points(head, 1000, torch.Generator().manual_seed(2))
    assert inside.abs().max() <= BOX_HALF + 1e-6


def test_focus_puts_that_fraction_of_the_shell_points_at_the_eyes_brows_and_mouth():
    head = _head(3)
    generator = lambda: torch.Generator().manual_seed(4)
    plain = sample_points(head, 2000, generator())
    focused = sample_points(head, 2000, generator(), focus=0.5)
    assert focused.shape == plain.shape == (2000, 3) and focused.abs().max() <= BOX_HALF + 1e-6
    assert torch.equal(sample_points(head, 2000, generator(), focus=0.0), plain)  # focus 0: the points of before

    def near_details(points: torch.Tensor) -> torch.Tensor:
        p = ((points - torch.tensor(HEAD_OFFSET)) / HEAD_SCALE).t()
        inside = [(p - centre).norm(dim=0) <= radius + 1.0 for centre, radius in head.detail_spheres()]  # 1 cm shell slack
        return torch.stack(inside).any(0).float()

    shell_plain, shell_focused = near_details(plain[1000:]), near_details(focused[1000:])
    assert near_details(focused[1000:1500]).mean() > 0.95  # the first half of the shell: the detail spheres
    assert shell_focused.mean() > 0.5 and shell_focused.mean() > 4 * shell_plain.mean()
    _, sigma = field_targets(head, focused[1000:1500])
    fraction = sigma / SIGMA_MAX
    assert ((fraction > 0.001) & (fraction < 0.999)).float().mean() > 0.8  # still near the surface
    labels = head.labels(((focused[1000:1500] - torch.tensor(HEAD_OFFSET)) / HEAD_SCALE).t().contiguous())
    eyes = ((labels == LABELS["l_eye"]) | (labels == LABELS["r_eye"])).float().mean()
    plain_labels = head.labels(((plain[1000:] - torch.tensor(HEAD_OFFSET)) / HEAD_SCALE).t().contiguous())
    assert eyes > 5 * ((plain_labels == LABELS["l_eye"]) | (plain_labels == LABELS["r_eye"])).float().mean().clamp_min(1e-3)


def test_focus_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="focus"):
        sample_points(_head(0), 64, torch.Generator().manual_seed(0), focus=1.5)
