"""Code read-outs (sem2nerf.training.readout): the least-squares read-out, its error map, the SynthFaces features it
reads, the region head's fit, and the benchmark that uses them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_training_common import ROOT, tiny_data_fixture, tiny_decoder_fixture  # noqa: F401 (fixtures)

from sem2nerf.decoder_folder import load_decoder
from sem2nerf.training.data import MaskImageDataset
from sem2nerf.training.losses import code_loss
from sem2nerf.training.readout import fit_code_readout, fit_readout_targets, fit_region_head, identity_code_targets


def test_code_readout_recovers_a_linear_map_and_drops_what_the_features_cannot_explain():
    """fit_code_readout: codes that are a linear function of the features come back almost exactly (a constant
    feature does no harm); codes independent of the features are read out as little more than their mean."""
    gen = torch.Generator().manual_seed(0)
    feats = torch.cat((torch.randn(400, 6, generator=gen), torch.ones(400, 1)), 1)
    mix = torch.randn(7, 10, generator=gen)
    linear = feats @ mix + 3.0
    readout = fit_code_readout(feats[:300], linear[:300])
    assert readout(feats[300:]).shape == (100, 10)
    rel = (readout(feats[300:]) - linear[300:]).norm() / (linear[300:] - linear[300:].mean(0)).norm()
    assert rel < 0.05, f"a linear map is recovered on held-out rows (relative error {rel:.3f})"
    noise = torch.randn(400, 10, generator=gen)
    explained = fit_code_readout(feats[:300], noise[:300])(feats[300:])
    assert float(explained.var(0).mean()) < 0.1 * float(noise.var(0).mean()), "independent codes are not explained"
    assert explained.mean(0).sub(noise[:300].mean(0)).abs().max() < 0.2


def test_code_readout_maps_code_errors_back_to_the_features_that_explain_them():
    """CodeReadout.feature_error_map: the code change of one standardised feature moved by one unit maps back to
    that unit change (and not to other features), for a feature with a 30x smaller effect on the codes too; so in
    encoder.latent.params that feature's error costs as much as a large one's."""
    gen = torch.Generator().manual_seed(1)
    feats = torch.randn(500, 5, generator=gen)
    mix = torch.randn(5, 40, generator=gen)
    mix[4] *= 1.0 / 30  # a feature the codes barely depend on
    readout = fit_code_readout(feats, feats @ mix + 0.01 * torch.randn(500, 40, generator=gen), ridge=1e-4)
    scale = torch.full((40,), 2.0)
    fmap = readout.feature_error_map(scale, rel_ridge=1e-5)
    assert fmap.shape == (40, 5)
    base = feats[:1]
    std = feats.std(0)
    for k in range(5):
        moved = base.clone()
        moved[0, k] += std[k]  # one standard deviation of feature k
        back = ((readout(moved) - readout(base)) / scale) @ fmap
        expected = torch.zeros(5)
        expected[k] = 1.0
        assert torch.allclose(back[0], expected, atol=0.05), (k, back)
    small, large = (((readout(m) - readout(base)) / scale) for m in (base + torch.eye(5)[4] * std[4], base + torch.eye(5)[0] * std[0]))
    assert small.norm() < 0.1 * large.norm(), "the small feature moves the codes far less..."
    delta = (readout(base + torch.eye(5)[4] * std[4]) - readout(base)).float()  # a code off by feature 4's change
    target = readout(base).float()
    plain = code_loss(target + delta, target, scale)
    weighted = code_loss(target + delta, target, scale, fmap, 1.0)
    assert abs(float(weighted - plain) - 1.0 / 5) < 0.02, "...but costs a full unit in encoder.latent.params (mean over 5)"


def test_visible_features_ignore_colours_and_follow_what_a_mask_shows():
    from dataclasses import replace

    from sem2nerf.synthfaces import FaceParams

    base = FaceParams()
    visible = base.features(visible_only=True)
    assert len(visible) < len(base.features())
    recoloured = replace(base, skin_rgb=(0.3, 0.2, 0.1), hair_rgb=(0.9, 0.9, 0.9), cloth_stripes=True, iris_size=1.3)
    assert np.array_equal(recoloured.features(visible_only=True), visible), "colours and stripes are not visible features"
    assert not np.array_equal(recoloured.features(), base.features())
    for change in ({"mouth_open": 1.0}, {"glasses": True}, {"hair_style": "long"}, {"eye_open": 1.4}):
        assert not np.array_equal(replace(base, **change).features(visible_only=True), visible), change


def test_hidden_parameters_at_their_mean_leave_only_what_a_mask_shows():
    """features(hidden=mean_hidden_params(...)): two heads that differ only in what no mask shows get the same full
    vector (the hidden entries at the mean: colours per channel, flags as fractions); visible changes still show."""
    from dataclasses import replace

    from sem2nerf.synthfaces import HIDDEN_FIELDS, FaceParams, mean_hidden_params

    base = FaceParams()
    other = replace(base, skin_rgb=(0.3, 0.2, 0.1), hair_rgb=(0.9, 0.9, 0.9), cloth_stripes=True, iris_size=1.3)
    hidden = mean_hidden_params([base, other])
    assert set(hidden) == set(HIDDEN_FIELDS)
    assert hidden["skin_rgb"] == pytest.approx(tuple((a + b) / 2 for a, b in zip(base.skin_rgb, other.skin_rgb)))
    assert hidden["cloth_stripes"] == pytest.approx(0.5)
    assert np.array_equal(base.features(hidden=hidden), other.features(hidden=hidden))
    assert len(base.features(hidden=hidden)) == len(base.features())
    assert not np.array_equal(replace(base, mouth_open=1.0).features(hidden=hidden), base.features(hidden=hidden))
    with pytest.raises(ValueError, match="at least one"):
        mean_hidden_params([])


def test_fit_region_head_with_a_grid_recovers_targets_of_the_cells():
    """With region_grid the head is fitted on the statistics and the cells' coverage: targets that are a linear
    function of the coverage (which the five statistics do not determine) are reproduced."""
    from sem2nerf.encoder import SwinEncoder, region_statistics

    gen = torch.Generator().manual_seed(1)
    items = []
    for i in range(200):
        x = torch.zeros(4, 32, 32)  # 2 classes + contour + distance
        for c in range(2):
            for _ in range(2):  # two blobs per class: the cells tell where each is, the centroid only their mean
                y0, x0 = (int(v) for v in torch.randint(0, 24, (2,), generator=gen))
                x[c, y0 : y0 + 8, x0 : x0 + 8] = 1.0
        items.append({"x": x, "identity": torch.tensor(i)})
    cells = region_statistics(torch.stack([it["x"][:2] for it in items]), grid=4)[:, 10:]
    targets = cells @ torch.randn(32, 6, generator=gen)
    encoder = SwinEncoder(4, 3, img_size=32, embed_dim=8, depths=(1,), num_heads=(1,), window_size=4, region_classes=2,
                          region_grid=4)
    assert encoder.region_head.in_features == 2 * (5 + 16)
    fit_region_head(encoder, [(items, targets)], batch_size=50, ridge=1e-9)
    x = torch.stack([it["x"] for it in items[:20]])
    with torch.no_grad():
        freq, phase = encoder.encode(x)
    torch.testing.assert_close(torch.cat((freq, phase), 1), targets[:20], atol=2e-3, rtol=1e-3)
    plain = SwinEncoder(4, 3, img_size=32, embed_dim=8, depths=(1,), num_heads=(1,), window_size=4, region_classes=2)
    fit_region_head(plain, [(items, targets)], batch_size=50, ridge=1e-9)
    with torch.no_grad():
        error = (torch.cat(plain.encode(x), 1) - targets[:20]).abs().mean()
    assert float(error) > 0.05, "the five statistics alone cannot express the cells' targets"


def test_fit_region_head_recovers_a_linear_map_of_the_region_statistics():
    """Targets that are an exact linear function of the masks' region statistics: after fit_region_head the region
    head (from the latent average) reproduces them, and the standardisation buffers hold the statistics' moments."""
    from sem2nerf.encoder import SwinEncoder, region_statistics

    gen = torch.Generator().manual_seed(0)
    items = []
    for i in range(120):
        x = torch.zeros(5, 32, 32)  # 3 classes + contour + distance
        for c in range(3):
            y0, x0 = (int(v) for v in torch.randint(0, 20, (2,), generator=gen))
            h, w = (int(v) for v in torch.randint(3, 12, (2,), generator=gen))
            x[c, y0 : y0 + h, x0 : x0 + w] = 1.0
        items.append({"x": x, "identity": torch.tensor(i)})
    stats = region_statistics(torch.stack([it["x"][:3] for it in items]))
    a = torch.randn(15, 8, generator=gen)
    start = torch.randn(8, generator=gen)
    targets = stats @ a + 0.3 + start
    encoder = SwinEncoder(5, 4, img_size=32, embed_dim=8, depths=(1,), num_heads=(1,), window_size=4, region_classes=3)
    fit_region_head(encoder, [(items, targets)], start, batch_size=50, ridge=1e-9)
    torch.testing.assert_close(encoder.region_mean, stats.mean(0), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(encoder.region_std, stats.std(0), atol=1e-6, rtol=1e-5)
    assert torch.equal(encoder.region_low, stats.min(0).values) and torch.equal(encoder.region_high, stats.max(0).values)
    # a mask unlike any of them (one class filling the frame, the others absent) is clamped to the training range
    odd = torch.zeros(1, 5, 32, 32)
    odd[0, 0] = 1.0
    z = encoder.region_features(odd)[0]
    assert bool(((z >= (encoder.region_low - encoder.region_mean) / encoder.region_std - 1e-5)
                 & (z <= (encoder.region_high - encoder.region_mean) / encoder.region_std + 1e-5)).all())
    assert not torch.equal(region_statistics(odd[:, :3])[0], torch.maximum(torch.minimum(
        region_statistics(odd[:, :3])[0], encoder.region_high), encoder.region_low)), "the clamp did act"
    x = torch.stack([it["x"] for it in items[:10]])
    with torch.no_grad():
        freq, phase = encoder.encode(x)  # the Swin head is still zero
    torch.testing.assert_close(torch.cat((freq, phase), 1) + start, targets[:10], atol=2e-3, rtol=1e-3)
    # without targets only the buffers are set and the head stays zero
    fit_region_head(encoder, [(items, None)])
    assert torch.equal(encoder.region_head.weight, torch.zeros_like(encoder.region_head.weight))
    with pytest.raises(ValueError, match="no region head"):
        fit_region_head(SwinEncoder(5, 4, img_size=32, embed_dim=8, depths=(1,), num_heads=(1,), window_size=4), [])


def test_probe_codes_gain_is_one_for_codes_on_target_and_zero_for_a_constant(tiny_data, tiny_decoder, monkeypatch):
    """benchmarks/probe_codes.py: codes equal to their read-out targets follow every parameter with gain 1; a
    constant code (an encoder that ignores the mask) with gain 0."""
    import importlib.util

    from sem2nerf.domains import get_domain

    spec = importlib.util.spec_from_file_location("probe_codes", ROOT / "benchmarks" / "probe_codes.py")
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    decoder, _ = load_decoder(tiny_decoder)
    dataset = MaskImageDataset(tiny_data, get_domain("celebamask_hq"), "train_paths.txt", 32, encoder_size=None)
    codes, scale = identity_code_targets(tiny_decoder, decoder, dataset)
    targets = fit_readout_targets(codes, dataset)
    on_target = targets.codes(dataset)[torch.tensor(dataset.identity)].double()
    monkeypatch.setattr(probe, "encode_all", lambda model, ds: on_target)
    gains = probe.gains(None, targets, scale, dataset)
    assert gains and "mouth_open" in gains and "eye_open" in gains
    assert all(abs(g - 1.0) < 1e-6 for g in gains.values()), gains
    monkeypatch.setattr(probe, "encode_all", lambda model, ds: on_target.mean(0, keepdim=True).expand_as(on_target))
    assert all(abs(g) < 1e-6 for g in probe.gains(None, targets, scale, dataset).values())
