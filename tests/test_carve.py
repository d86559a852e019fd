"""Silhouette carving (sem2nerf.carve): the hull, the carved field, and carved scenes of the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY_CONFIG
from PIL import Image

from sem2nerf import Pose, Sem2NeRF
from sem2nerf.bake import BakeCache
from sem2nerf.camera import angles_to_renderer, camera_to_world
from sem2nerf.carve import CARVE_SIGMA, CarvedField, hull_image
from sem2nerf.drawn import draw_mask, sample_drawn_face
from sem2nerf.masks import frame_to_domain


def test_hull_is_the_foreground_widened_by_the_margin():
    fg = np.zeros((128, 128), bool)
    fg[40:80, 50:70] = True
    hull = hull_image(fg)  # one pixel at 128
    assert hull.dtype == torch.float32 and hull.shape == (128, 128)
    assert bool(hull[39:81, 49:71].eq(1).all()) and float(hull.sum()) == 42 * 22
    assert torch.equal(hull_image(fg, margin=0.0), torch.from_numpy(fg.astype(np.float32)))


class _Solid:
    """Matter everywhere: colour (0.2, 0.4, 0.6), raw density 5 (a Field)."""

    view_locked = True

    def __call__(self, points, directions=None):
        out = torch.empty(*points.shape[:-1], 4)
        out[..., :3] = torch.tensor([0.2, 0.4, 0.6])
        out[..., 3] = 5.0
        return out


def _frontal():
    return camera_to_world(*angles_to_renderer(0.0, 0.0))


def _points_through(cam2world, pixels, size, fov, depth=1.0):
    """World points at ``depth`` along the rays of ``pixels`` [(row, col)] of a ``size`` view."""
    from sem2nerf.camera import ray_directions

    dirs = ray_directions(size, size, fov).reshape(size, size, 3)
    d = torch.stack([dirs[r, c] for r, c in pixels]) @ cam2world[:3, :3].T
    return (cam2world[:3, 3] + depth * d)[None]


def test_carved_field_empties_points_seen_on_background_and_keeps_the_rest():
    """Points that project (in the hull's view) onto foreground keep the field exactly; onto background they lose
    CARVE_SIGMA of density (none left after relu); colours are untouched; with gradients the same values; a point
    outside the view takes the nearest border pixel's value."""
    size, fov = 32, 12.0
    hull = torch.zeros(size, size)
    hull[:, : size // 2] = 1.0  # the image's left half is foreground
    c2w = _frontal()
    field = CarvedField(_Solid(), hull, c2w, fov)
    assert field.view_locked
    pts = _points_through(c2w, [(5, 3), (20, 10), (5, 28), (20, 25)], size, fov)
    out = field(pts)
    assert torch.allclose(out[0, :2, 3], torch.full((2,), 5.0))
    assert torch.allclose(out[0, 2:, 3], torch.full((2,), -CARVE_SIGMA))
    assert torch.allclose(out[..., :3], torch.tensor([0.2, 0.4, 0.6]).expand(1, 4, 3))
    with torch.enable_grad():
        assert torch.allclose(field(pts), out)
    far = torch.tensor([[[-5.0, 0.0, 0.0], [5.0, 0.0, 0.0]]])  # far to the image's left and right of the view
    wide = field(far)[0, :, 3]
    assert float(wide[0]) == pytest.approx(5.0) and float(wide[1]) == pytest.approx(-CARVE_SIGMA)


def test_carving_is_off_for_the_official_layout_and_follows_encode_and_the_config(tmp_path, mask_array):
    """Sem2NeRF's default (the official models) does not carve; a model configured to carve makes carved scenes,
    encode(carve=...) overrides it either way, the setting is saved with the model, and an uncarved scene's field is
    the plain decoder field."""
    plain = Sem2NeRF(**TINY_CONFIG).eval()
    assert plain.carve is False and plain.encode(mask_array).carve is False
    assert plain.encode(mask_array, carve=True).carve is True
    carving = Sem2NeRF(**TINY_CONFIG, carve=True).eval()
    assert carving.encode(mask_array).carve and not carving.encode(mask_array, carve=False).carve
    assert not carving.average_scene().carve
    carving.save_pretrained(tmp_path / "m")
    assert Sem2NeRF.from_pretrained(tmp_path / "m").carve is True
    scene = plain.encode(mask_array)
    assert not isinstance(plain.field(scene), CarvedField)
    assert isinstance(plain.field(plain.encode(mask_array, carve=True)), CarvedField)
    styled = carving.mix_style(carving.encode(mask_array), seed=3)
    assert styled.carve and isinstance(carving.field(styled), CarvedField)


def test_bake_cache_tells_a_carved_scene_from_the_same_codes_uncarved(mask_array):
    model = Sem2NeRF(**TINY_CONFIG).eval()
    scene = model.encode(mask_array)
    carved = model.encode(mask_array, carve=True)
    assert torch.equal(scene.frequencies, carved.frequencies)
    assert BakeCache.key(scene) != BakeCache.key(carved)
    other_pose = model.encode(mask_array, carve=True, pose=(20.0, 0.0))
    assert BakeCache.key(carved) != BakeCache.key(other_pose)


@pytest.fixture(scope="module")
def bundled() -> Sem2NeRF:
    torch.set_num_threads(2)
    return Sem2NeRF.from_pretrained("synthfaces")


def test_bundled_model_carves_and_a_drawn_masks_background_sees_no_matter(bundled):
    """On a DrawnFaces mask (another process than the training masks) the uncarved render puts matter behind much
    of the mask's background; carved, no background pixel away from the outline is opaque, the silhouette IoU
    rises, the foreground keeps its matter, and the carved render is the uncarved one wherever the hull is whole."""
    assert bundled.carve is True
    face = sample_drawn_face(np.random.default_rng(np.random.SeedSequence([0, 1])))
    labels = draw_mask(face, 256)
    size = 64
    fg = np.asarray(frame_to_domain(Image.fromarray(labels), bundled.domain, size)) != 0
    inner_bg = ~(hull_image(fg, margin=3 / size).numpy() > 0)  # background three pixels or more from the outline
    pose = [Pose(0.0, 0.0, bundled.fov)]
    plain = bundled.render_output(bundled.encode(labels, carve=False), pose, size)[0]
    carved = bundled.render_output(bundled.encode(labels), pose, size)[0]
    a_plain, a_carved = plain.opacity[0].numpy(), carved.opacity[0].numpy()

    def iou(alpha):
        return float(((alpha > 0.5) & fg).sum() / ((alpha > 0.5) | fg).sum())

    assert float((a_plain[inner_bg] > 0.5).mean()) > 0.2  # the failure carving is for
    assert float(a_carved[inner_bg].max()) < 0.05
    assert iou(a_carved) > iou(a_plain) + 0.05 and iou(a_carved) > 0.9
    inner_fg = ~(hull_image(~fg, margin=3 / size).numpy() > 0)  # foreground three pixels or more inside
    assert np.allclose(plain.rgb[0].numpy()[:, inner_fg], carved.rgb[0].numpy()[:, inner_fg], atol=1e-4)


def test_a_baked_carved_scene_is_carved_too(bundled):
    face = sample_drawn_face(np.random.default_rng(np.random.SeedSequence([0, 1])))
    labels = draw_mask(face, 256)
    fg = np.asarray(frame_to_domain(Image.fromarray(labels), bundled.domain, 48)) != 0
    inner_bg = ~(hull_image(fg, margin=3 / 48).numpy() > 0)
    baked = bundled.bake(bundled.encode(labels), resolution=64)
    out = baked.render_output([Pose(0.0, 0.0, bundled.fov)], 48, baked.render_options(12))[0]
    assert float(out.opacity[0].numpy()[inner_bg].max()) < 0.1
