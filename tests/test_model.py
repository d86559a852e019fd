"""The model facade: official sizes, latent average, encoding, style mixing, rendering, trajectories."""

import numpy as np
import pytest
import torch
from conftest import TINY_CONFIG
from PIL import Image

from sem2nerf import MaskError, Pose, Sem2NeRF, front_trajectory, orbit_trajectory, preview_poses
from sem2nerf.decoder import official_decoder_key_map

OFFICIAL_DECODER_SHAPES = {
    "siren.network.0.layer.weight": (256, 3),
    **{f"siren.network.{i}.layer.weight": (256, 256) for i in range(1, 8)},
    **{f"siren.network.{i}.layer.bias": (256,) for i in range(8)},
    "siren.final_layer.weight": (1, 256),
    "siren.final_layer.bias": (1,),
    "siren.color_layer_sine.layer.weight": (256, 259),
    "siren.color_layer_sine.layer.bias": (256,),
    "siren.color_layer_linear.0.weight": (3, 256),
    "siren.color_layer_linear.0.bias": (3,),
    "siren.mapping_network.network.0.weight": (256, 256),
    "siren.mapping_network.network.0.bias": (256,),
    "siren.mapping_network.network.2.weight": (256, 256),
    "siren.mapping_network.network.2.bias": (256,),
    "siren.mapping_network.network.4.weight": (256, 256),
    "siren.mapping_network.network.4.bias": (256,),
    "siren.mapping_network.network.6.weight": (4608, 256),
    "siren.mapping_network.network.6.bias": (4608,),
}


def test_official_configuration_sizes():
    model = Sem2NeRF(latent_avg_samples=16)
    counts = model.num_parameters()
    assert counts["total"] == 32_996_734
    assert counts["encoder"] == 31_085_946
    assert counts["decoder"] == 1_910_788 and counts["mapping"] == 1_381_632
    assert model.input_channels == 18
    ours = model.decoder.state_dict()
    key_map = official_decoder_key_map()
    assert len(OFFICIAL_DECODER_SHAPES) == 30 and set(key_map) == set(OFFICIAL_DECODER_SHAPES)
    assert set(key_map.values()) == set(ours)
    for official, shape in OFFICIAL_DECODER_SHAPES.items():
        assert tuple(ours[key_map[official]].shape) == shape, official
    assert Sem2NeRF(domain="catmask", latent_avg_samples=16).input_channels == 10


def test_latent_average_is_seeded_and_a_fresh_encoder_reproduces_it(mask_array):
    a = Sem2NeRF(**TINY_CONFIG)
    torch.manual_seed(123)  # the global RNG must not matter
    b = Sem2NeRF(**TINY_CONFIG)
    b.decoder.load_state_dict(a.decoder.state_dict())
    torch.testing.assert_close(a.decoder.average_code(512, 0)[0], b.decoder.average_code(512, 0)[0])
    assert not torch.equal(a.decoder.average_code(512, 0)[0], a.decoder.average_code(512, 1)[0])
    scene = a.encode(mask_array)  # zero-initialised head: the code is exactly the average
    torch.testing.assert_close(scene.frequencies, a.latent_avg_freq)
    torch.testing.assert_close(scene.phase_shifts, a.latent_avg_phase)


def test_different_masks_give_different_codes(tiny_model, mask_array):
    other = mask_array.copy()
    other[other == 13] = 0  # bald
    a, b = tiny_model.encode(mask_array), tiny_model.encode(other)
    assert (a.frequencies - b.frequencies).abs().max() > 1e-4


def test_empty_mask_is_refused(tiny_model):
    with pytest.raises(MaskError, match="empty"):
        tiny_model.encode(np.zeros((64, 64), np.uint8))


def test_style_code_matches_the_official_seeding(tiny_model):
    torch.manual_seed(92)
    z = torch.randn(1, tiny_model.decoder.z_dim)
    expected = tiny_model.decoder.mapping(z)
    got = tiny_model.style_code(92)
    torch.testing.assert_close(got[0], expected[0])


def test_style_mixing_replaces_only_the_chosen_layers(tiny_model, mask_array):
    scene = tiny_model.encode(mask_array)
    h = tiny_model.decoder.hidden_dim
    mixed = tiny_model.mix_style(scene, seed=5, layers=[3])
    style_f, style_p = tiny_model.style_code(5)
    torch.testing.assert_close(mixed.frequencies[:, 3 * h :], style_f[:, 3 * h :])
    torch.testing.assert_close(mixed.phase_shifts[:, 3 * h :], style_p[:, 3 * h :])
    torch.testing.assert_close(mixed.frequencies[:, : 3 * h], scene.frequencies[:, : 3 * h])
    # blending: alpha 0 is the first style, alpha 1 the second, 0.5 halfway
    s2 = tiny_model.style_code(6)[0]
    half = tiny_model.mix_style(scene, 5, [3], seed2=6, alpha=0.5)
    torch.testing.assert_close(half.frequencies[:, 3 * h :], 0.5 * (style_f + s2)[:, 3 * h :])
    full = tiny_model.mix_style(scene, 5, [3], seed2=6, alpha=1.0)
    torch.testing.assert_close(full.frequencies[:, 3 * h :], s2[:, 3 * h :])
    assert tiny_model.mix_style(scene, None) is scene
    with pytest.raises(ValueError, match="style layers"):
        tiny_model.mix_style(scene, 1, layers=[9])
    with pytest.raises(ValueError, match="alpha"):
        tiny_model.mix_style(scene, 1, seed2=2, alpha=1.5)
    colour_only = tiny_model.mix_style(scene, 5)  # default: the colour layer, the last one (8 when official)
    torch.testing.assert_close(colour_only.frequencies[:, : 3 * h], scene.frequencies[:, : 3 * h])
    assert not torch.equal(colour_only.frequencies[:, 3 * h :], scene.frequencies[:, 3 * h :])


def test_render_outputs_and_reproducibility(tiny_model, mask_array):
    scene = tiny_model.encode(mask_array)
    image, depth = tiny_model.render(scene, yaw=20, pitch=-5, size=24, samples=6, return_depth=True)
    assert isinstance(image, Image.Image) and image.size == (24, 24) and image.mode == "RGB"
    assert depth.shape == (24, 24) and np.isfinite(depth).all()
    half_bin = (tiny_model.ray_end - tiny_model.ray_start) / (6 - 1) / 2  # jitter reaches half a bin out
    assert (depth > tiny_model.ray_start - half_bin).all() and (depth < tiny_model.ray_end + half_bin).all()
    again = tiny_model.render(scene, yaw=20, pitch=-5, size=24, samples=6)
    assert np.array_equal(np.asarray(image), np.asarray(again))
    other_view = tiny_model.render(scene, yaw=-20, pitch=-5, size=24, samples=6)
    assert not np.array_equal(np.asarray(image), np.asarray(other_view))
    with pytest.raises(ValueError, match="image size"):
        tiny_model.render(scene, size=0)


def test_trajectories():
    front = front_trajectory(36)
    assert len(front) == 36 and front[0] == pytest.approx(front[-1])
    fovs = [p.fov for p in front]
    assert min(fovs) == pytest.approx(12.0, abs=0.05) and max(fovs) == pytest.approx(22.0, abs=0.05)
    assert max(abs(p.yaw) for p in front) == pytest.approx(np.degrees(0.4), abs=0.2)
    orbit = orbit_trajectory(8)
    assert [p.pitch for p in orbit] == [-45.0] * 8 and orbit[2].yaw == pytest.approx(-90.0)
    views = preview_poses("celebamask_hq")
    assert [round(p.yaw, 2) for p in views] == [25.78, 14.32, 0.0, -14.32, -25.78]
    assert all(isinstance(p, Pose) and p.fov == 12.0 for p in views)


def test_region_statistics_of_known_shapes():
    """Area fraction, centroid and spread of a rectangle in [-1, 1] image coordinates; an absent class is all 0."""
    from sem2nerf.encoder import region_statistics

    maps = torch.zeros(1, 2, 41, 81)
    maps[0, 0, 10:31, 0:41] = 1.0  # rows 10..30 (y -0.5..0.5), columns 0..40 (x -1..0)
    stats = region_statistics(maps)[0].view(5, 2)  # (area, cx, cy, sx, sy) x classes
    area, cx, cy, sx, sy = stats[:, 0]
    assert float(area) == pytest.approx(21 * 41 / (41 * 81))
    assert float(cx) == pytest.approx(-0.5, abs=1e-6) and float(cy) == pytest.approx(0.0, abs=1e-6)
    xs, ys = torch.linspace(-1, 1, 81)[:41], torch.linspace(-1, 1, 41)[10:31]
    assert float(sx) == pytest.approx(float(xs.std(unbiased=False)), rel=1e-5)
    assert float(sy) == pytest.approx(float(ys.std(unbiased=False)), rel=1e-5)
    assert torch.equal(stats[:, 1], torch.zeros(5)), "an absent class has area, centroid and spread 0"
    taller = maps.clone()
    taller[0, 0, 5:36, 0:41] = 1.0
    assert float(region_statistics(taller)[0, 8]) > float(sy), "a taller region has a larger y spread"
    with pytest.raises(ValueError, match="class maps"):
        region_statistics(maps[0])


def test_region_statistics_grid_is_each_class_coverage_of_its_cells():
    """With grid G the statistics end with each class's covered fraction of G x G cells (rows top to bottom), so two
    outlines with the same extent but another shape differ there and not in the five statistics' area."""
    from sem2nerf.encoder import region_statistics

    maps = torch.zeros(1, 2, 8, 8)
    maps[0, 0, :4, :4] = 1.0  # class 0 fills the top-left quarter
    maps[0, 1, 4:, 2:4] = 1.0  # class 1 half of the bottom-left cell (columns 2-3 of 0-3)
    stats = region_statistics(maps, grid=2)[0]
    assert stats.shape == (2 * (5 + 4),)
    torch.testing.assert_close(stats[:10], region_statistics(maps)[0]), "the five statistics come first, unchanged"
    assert stats[10:].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0]
    left, right = torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8)
    left[0, 0, :, :2], right[0, 0, :, 6:] = 1.0, 1.0  # hair down one side or the other
    assert float(region_statistics(left)[0, 0]) == float(region_statistics(right)[0, 0])
    assert not torch.equal(region_statistics(left, 2)[0, 5:], region_statistics(right, 2)[0, 5:])
    with pytest.raises(ValueError, match="grid"):
        region_statistics(maps, grid=9)


def test_region_grid_widens_the_head_and_is_saved(tmp_path, mask_array):
    """encoder_region_grid=G adds G^2 coverage cells per class to the region head's input; config.json keeps it, so
    the model loads with the same head; a grid without the region head is refused."""
    model = Sem2NeRF(**TINY_CONFIG, encoder_region_stats=True, encoder_region_grid=4)
    assert model.encoder.region_head.in_features == (5 + 16) * 16
    with torch.no_grad():
        model.encoder.region_head.weight.normal_(0, 0.05)
    moved = mask_array.copy()
    moved[moved == 13] = 0  # no hair: the cells see it
    assert (model.encode(mask_array).frequencies - model.encode(moved).frequencies).abs().max() > 1e-4
    model.save_pretrained(tmp_path / "g")
    loaded = Sem2NeRF.from_pretrained(tmp_path / "g")
    assert loaded.encoder.region_grid == 4
    torch.testing.assert_close(loaded.encode(mask_array).frequencies, model.encode(mask_array).frequencies)
    with pytest.raises(ValueError, match="region_grid"):
        Sem2NeRF(**TINY_CONFIG, encoder_region_grid=4)


def test_region_head_is_optional_zero_initialised_and_saved(tmp_path, mask_array):
    """encoder_region_stats=True adds exactly the region head, its standardisation and its two clamp ranges to the state dict;
    fresh, it still reproduces the latent average; it changes codes once trained and round-trips through
    save_pretrained / from_pretrained."""
    plain = Sem2NeRF(**TINY_CONFIG)
    assert plain.encoder.region_head is None and not [k for k in plain.state_dict() if "region" in k]
    model = Sem2NeRF(**TINY_CONFIG, encoder_region_stats=True)
    added = set(model.state_dict()) - set(plain.state_dict())
    assert added == {"encoder.region_head.weight", "encoder.region_head.bias", "encoder.region_mean", "encoder.region_std",
                     "encoder.region_low", "encoder.region_high", "encoder.region_out_low", "encoder.region_out_high"}
    assert model.encoder.region_head.in_features == 5 * 16  # the 16 merged CelebAMask-HQ classes
    scene = model.encode(mask_array)
    torch.testing.assert_close(scene.frequencies, model.latent_avg_freq)
    with torch.no_grad():
        model.encoder.region_head.weight.normal_(0, 0.05)
        model.encoder.region_mean.fill_(0.1)
        model.encoder.region_std.fill_(0.5)
    other = mask_array.copy()
    other[other == 11] = 0  # no nose
    a, b = model.encode(mask_array), model.encode(other)
    assert (a.frequencies - b.frequencies).abs().max() > 1e-4, "the region head sees the mask"
    model.save_pretrained(tmp_path / "m")
    loaded = Sem2NeRF.from_pretrained(tmp_path / "m")
    assert loaded.encoder.region_head is not None
    torch.testing.assert_close(loaded.encode(mask_array).frequencies, a.frequencies)
    with pytest.raises(RuntimeError, match="no region head"):
        plain.encoder.region_features(torch.zeros(1, 18, 64, 64))
