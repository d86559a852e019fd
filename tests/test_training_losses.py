"""The training losses' definitions (R1, the patch discriminator, W-norm, the part-weighted L2), patches, random
poses, the optimiser and LPIPS's fail-fast start."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sem2nerf.camera import PatchSchedule, angles_to_renderer, camera_to_world, sample_patch_pattern
from sem2nerf.decoder import PiGANDecoder
from sem2nerf.renderer import RenderOptions, render_image, render_patch
from sem2nerf.training import ConfigError, load_config
from sem2nerf.training.losses import PatchDiscriminator, cut_patch, load_lpips, patch_l2, r1_penalty, silhouette_loss, w_norm
from sem2nerf.training.optim import CentralizedRAdam, make_optimizer
from sem2nerf.training.stages import random_poses


def test_r1_matches_a_direct_autograd_computation():
    torch.manual_seed(0)
    disc = PatchDiscriminator(16)
    real = torch.randn(3, 3, 16, 16, requires_grad=True)
    logits = disc(real)
    penalty = r1_penalty(logits, real, 10.0)
    grads = [torch.autograd.grad(disc(real[i : i + 1]).sum(), real)[0][i] for i in range(3)]
    direct = 10.0 * torch.stack([g.pow(2).sum() for g in grads]).mean()
    assert torch.allclose(penalty, direct, rtol=1e-4), (float(penalty), float(direct))
    assert penalty.requires_grad  # the graph is kept so the penalty trains D


def test_patch_discriminator_is_the_official_network_at_128():
    disc = PatchDiscriminator(128)
    assert sum(p.numel() for p in disc.parameters()) == 2_795_008
    conv_ids = [k.split(".")[1] for k in disc.state_dict() if k.endswith("weight_orig")]
    assert conv_ids == ["0", "2", "5", "8", "11", "14"]
    assert disc(torch.zeros(2, 3, 128, 128)).shape == (2,)


def test_w_norm_is_the_unsquared_frobenius_norm():
    f, p = torch.full((2, 3 * 4), 1.0), torch.zeros(2, 3 * 4)
    assert torch.isclose(w_norm(f, p, 3), torch.tensor(12.0).sqrt())


def test_part_weight_makes_errors_on_small_parts_count_more():
    """patch_l2: the same squared error costs more on part pixels than elsewhere; weight 0 is the plain mean."""
    parts = torch.zeros(1, 1, 8, 8)
    parts[..., :2, :2] = 1.0
    pattern = torch.stack(torch.meshgrid(torch.linspace(-1, 1, 8), torch.linspace(-1, 1, 8), indexing="xy"), -1)[None]
    real = torch.zeros(1, 3, 8, 8)
    on_part, off_part = real.clone(), real.clone()
    on_part[..., 0, 0] = 1.0
    off_part[..., 7, 7] = 1.0
    assert patch_l2(on_part, real, parts, pattern, 0.0) == patch_l2(off_part, real, parts, pattern, 0.0)
    assert float(patch_l2(on_part, real, parts, pattern, 10.0)) > 5 * float(patch_l2(off_part, real, parts, pattern, 10.0))
    uniform = real + 0.5
    torch.testing.assert_close(patch_l2(uniform, real, parts, pattern, 10.0), torch.tensor(0.25))  # normalised weights
    assert patch_l2(on_part, real, None, pattern, 0.0) == patch_l2(on_part, real, parts, pattern, 0.0)  # off: no parts read


def test_silhouette_loss_compares_opacity_with_the_foreground_cut_at_the_same_pattern():
    """silhouette_loss: zero for opacity equal to the cut foreground, the mean squared difference otherwise."""
    foreground = torch.zeros(1, 1, 8, 8)
    foreground[..., 2:6, 2:6] = 1.0
    pattern = torch.stack(torch.meshgrid(torch.linspace(-1, 1, 8), torch.linspace(-1, 1, 8), indexing="xy"), -1)[None]
    exact = cut_patch(foreground, pattern)[:, 0]
    assert float(silhouette_loss(exact, foreground, pattern)) == 0.0
    torch.testing.assert_close(silhouette_loss(torch.ones(1, 8, 8), foreground, pattern), 1 - foreground.mean())


def test_patch_pattern_cuts_the_same_pixels_from_render_and_ground_truth():
    """A patch rendered at a pattern equals the same pattern cut from the full render (pixel-aligned pattern: exact)."""
    torch.manual_seed(1)
    decoder = PiGANDecoder(hidden_dim=32, num_layers=3, z_dim=8, mapping_hidden_dim=16, mapping_depth=1)
    freq, phase = decoder.mapping(torch.randn(1, 8))
    field = decoder.modulate(freq, phase)
    opts = RenderOptions(num_samples=8, deterministic=True, hierarchical=False)
    theta, phi = angles_to_renderer(torch.tensor([20.0]), torch.tensor([-10.0]))
    c2w = camera_to_world(theta, phi)
    full = render_image(field, c2w, 33, 12.0, opts).rgb
    lin = torch.linspace(-1, 1, 17)
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    pattern = (torch.stack((xx, yy), -1) * 0.5 + torch.tensor([0.25, -0.375]))[None]  # pixel centres 12..28, 2..18
    patch = render_patch(field, c2w, pattern, 33, 12.0, opts).rgb
    cut = cut_patch(full, pattern)
    assert torch.allclose(patch, cut, atol=1e-5)
    assert torch.allclose(cut, full[:, :, 2:19, 12:29], atol=1e-5)  # rows follow y, columns follow x
    # random patterns from the schedule stay inside the frame
    pat = sample_patch_pattern(4, 0, PatchSchedule(resolution=16, min_scale=0.2), generator=torch.Generator().manual_seed(0))
    assert pat.abs().max() <= 1.0 + 1e-6


def test_random_poses_follow_the_official_ranges():
    yaw, pitch = random_poses(400, "celebamask_hq", torch.Generator().manual_seed(0))
    yaw_only, pitch_only = pitch == 0, yaw == 0
    assert (yaw_only | pitch_only).all()
    assert yaw[yaw_only].abs().min() >= np.degrees(0.4) - 1e-4 and yaw.abs().max() <= np.degrees(0.55) + 1e-4
    assert pitch[pitch_only].abs().min() >= np.degrees(0.3) - 1e-4 and pitch.abs().max() <= np.degrees(0.45) + 1e-4
    assert (yaw > 0).any() and (yaw < 0).any() and (pitch > 0).any() and (pitch < 0).any()


def test_ranger_centralises_gradients_and_starts_lookahead_from_the_initial_weights():
    w = torch.nn.Parameter(torch.ones(3, 4))
    opt = make_optimizer([w], 0.1, load_config(None, ["decoder=x"]).optim)
    inner = opt._base_optimizer
    assert isinstance(inner, CentralizedRAdam)
    w.grad = torch.arange(12.0).reshape(3, 4)
    opt.step()
    assert torch.allclose(w.grad.mean(dim=1), torch.zeros(3))
    assert torch.equal(inner.state[w]["lookahead_slow_buff"], torch.ones(3, 4))


def test_lpips_without_backbone_weights_fails_at_start_up_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    import torchvision.models as tvm

    def offline(*args, **kwargs):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(tvm.AlexNet_Weights.IMAGENET1K_V1, "get_state_dict", offline, raising=False)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(ConfigError) as err:
        load_lpips()
    message = str(err.value)
    assert "alexnet-owt-7be5be79.pth" in message and str(tmp_path / "torch") in message and "loss.lpips=0" in message
