"""Converting official checkpoints: exact layouts in, the same renders out, clear errors for everything else.

The official checkpoints cannot be downloaded here, so the tests fabricate them: the key names and
shapes of official-sem2nerf.md Appendix A (Swin v1 encoder, 190 keys with the 17 buffers) and section
1.7 (pi-GAN decoder, 30 keys) are written out below from the architecture, filled with random values,
and saved the way the official trainer saves them (``state_dict`` with ``encoder.`` / ``decoder.``
prefixes or the DDP ``module.`` infix, ``opts``, ``latent_avg``). A converted model must compute what
those tensors define: its encoder is compared with an independent Swin v1 forward written here from
the official architecture, its renders with renders of a decoder filled straight from the fabricated
tensors.
"""

from __future__ import annotations

import json
import math
import socket
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import face_mask

from sem2nerf import ModelLoadError, Sem2NeRF, Sem2NeRFError
from sem2nerf.__main__ import main
from sem2nerf.camera import angles_to_renderer, camera_to_world
from sem2nerf.convert import convert_checkpoint, model_from_official, push_folder, upload_plan
from sem2nerf.decoder import PiGANDecoder, official_decoder_key_map
from sem2nerf.decoder_folder import load_decoder
from sem2nerf.renderer import RenderOptions, render_image
from sem2nerf.trajectories import Pose

SWIN_T = {"embed_dim": 96, "depths": (2, 2, 6, 2), "heads": (3, 6, 12, 24), "window": 7, "img": 224, "patch": 4}
TINY_SWIN = {"embed_dim": 16, "depths": (2, 2), "heads": (1, 2), "window": 4, "img": 64, "patch": 4}
TINY_SWIN_CONFIG = {"encoder_size": 64, "encoder_embed_dim": 16, "encoder_depths": (2, 2), "encoder_num_heads": (1, 2),
                    "encoder_window_size": 4}
TINY_PIGAN = {"hidden": 32, "layers": 3, "z": 16, "mapping_hidden": 32, "mapping_depth": 3}
OFFICIAL_PIGAN = {"hidden": 256, "layers": 8, "z": 256, "mapping_hidden": 256, "mapping_depth": 3}
CELEBA_OPTS = {  # vars(opts) of the README's CelebAMask-HQ training command (plus options that do not matter here)
    "exp_dir": "logs/celebahq", "dataset_type": "celebahq_seg_to_3dface", "label_nc": 16, "input_nc": 18,
    "use_contour": True, "use_merged_labels": True, "start_from_latent_avg": True, "pigan_curriculum_type": "CelebAMask_HQ",
    "src_input_size": 224, "pigan_zdim": 256, "patch_train": True, "ray_min_scale": 0.125, "dis_lambda": 0.08,
}
CATMASK_OPTS = {**CELEBA_OPTS, "exp_dir": "logs/catmask", "dataset_type": "catmask_seg_to_3dface", "label_nc": 8,
                "input_nc": 10, "pigan_curriculum_type": "CatMask", "ray_min_scale": 0.08, "dis_lambda": 0.1}


# --- the official layouts, written from the architecture --------------------------------------


def official_swin_layout(in_chans: int, out_dim: int, embed_dim: int, depths, heads, window: int, img: int, patch: int):
    """Official Swin v1 ``state_dict`` keys -> shapes, in the official order (Appendix A for Swin-T)."""
    layout = {"patch_embed.proj.weight": (embed_dim, in_chans, patch, patch), "patch_embed.proj.bias": (embed_dim,),
              "patch_embed.norm.weight": (embed_dim,), "patch_embed.norm.bias": (embed_dim,)}
    res = img // patch
    for s, depth in enumerate(depths):
        c, h, win = embed_dim * 2**s, heads[s], min(window, res)
        for b in range(depth):
            pre = f"layers.{s}.blocks.{b}."
            if b % 2 == 1 and res > window:  # shifted windows (no shift once one window covers the map)
                layout[pre + "attn_mask"] = ((res // win) ** 2, win * win, win * win)
            layout.update({
                pre + "norm1.weight": (c,), pre + "norm1.bias": (c,),
                pre + "attn.relative_position_bias_table": ((2 * win - 1) ** 2, h),
                pre + "attn.relative_position_index": (win * win, win * win),
                pre + "attn.qkv.weight": (3 * c, c), pre + "attn.qkv.bias": (3 * c,),
                pre + "attn.proj.weight": (c, c), pre + "attn.proj.bias": (c,),
                pre + "norm2.weight": (c,), pre + "norm2.bias": (c,),
                pre + "mlp.fc1.weight": (4 * c, c), pre + "mlp.fc1.bias": (4 * c,),
                pre + "mlp.fc2.weight": (c, 4 * c), pre + "mlp.fc2.bias": (c,),
            })
        if s < len(depths) - 1:  # v1: patch merging at the END of a stage
            layout.update({f"layers.{s}.downsample.reduction.weight": (2 * c, 4 * c),
                           f"layers.{s}.downsample.norm.weight": (4 * c,), f"layers.{s}.downsample.norm.bias": (4 * c,)})
            res //= 2
    c = embed_dim * 2 ** (len(depths) - 1)
    layout.update({"norm.weight": (c,), "norm.bias": (c,), "head.weight": (out_dim, c), "head.bias": (out_dim,)})
    return layout


def official_pigan_layout(hidden: int, layers: int, z: int, mapping_hidden: int, mapping_depth: int):
    """Official ``ImplicitGenerator3d`` keys -> shapes (section 1.7 for the official sizes)."""
    layout = {}
    for i in range(layers):
        layout[f"siren.network.{i}.layer.weight"] = (hidden, 3 if i == 0 else hidden)
        layout[f"siren.network.{i}.layer.bias"] = (hidden,)
    layout.update({"siren.final_layer.weight": (1, hidden), "siren.final_layer.bias": (1,),
                   "siren.color_layer_sine.layer.weight": (hidden, hidden + 3), "siren.color_layer_sine.layer.bias": (hidden,),
                   "siren.color_layer_linear.0.weight": (3, hidden), "siren.color_layer_linear.0.bias": (3,)})
    width = z
    for j in range(mapping_depth + 1):
        out = mapping_hidden if j < mapping_depth else 2 * (layers + 1) * hidden
        layout[f"siren.mapping_network.network.{2 * j}.weight"] = (out, width)
        layout[f"siren.mapping_network.network.{2 * j}.bias"] = (out,)
        width = out
    return layout


def relative_position_index(win: int) -> torch.Tensor:
    coords = torch.stack(torch.meshgrid(torch.arange(win), torch.arange(win), indexing="ij")).flatten(1)
    rel = coords[:, :, None] - coords[:, None, :] + (win - 1)
    return rel[0] * (2 * win - 1) + rel[1]


def shifted_window_mask(res: int, win: int, shift: int) -> torch.Tensor:
    region = torch.zeros(res, res)
    cuts = (slice(0, -win), slice(-win, -shift), slice(-shift, None))
    for k, (rows, cols) in enumerate((r, c) for r in cuts for c in cuts):
        region[rows, cols] = k
    windows = region.view(res // win, win, res // win, win).permute(0, 2, 1, 3).reshape(-1, win * win)
    diff = windows[:, None, :] - windows[:, :, None]
    return torch.where(diff != 0, -100.0, 0.0)


def fabricate_tensors(layout: dict, seed: int) -> dict[str, torch.Tensor]:
    """Random values for every key (buffers: the values the official code computes)."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in layout.items():
        if key.endswith("relative_position_index"):
            out[key] = relative_position_index(math.isqrt(shape[0]))
        elif key.endswith("attn_mask"):
            win = math.isqrt(shape[1])
            res = math.isqrt(shape[0]) * win
            out[key] = shifted_window_mask(res, win, win // 2)
        elif key == "siren.network.0.layer.weight":
            out[key] = (torch.rand(shape, generator=gen) * 2 - 1) / 3
        elif key.startswith("siren.") and key.endswith("weight"):
            fan_in = shape[1]
            scale = 1 / math.sqrt(fan_in) if "mapping" in key else math.sqrt(6 / fan_in) / 25
            out[key] = (torch.rand(shape, generator=gen) * 2 - 1) * scale
        elif "norm" in key and key.endswith("weight"):
            out[key] = 1 + 0.1 * torch.randn(shape, generator=gen)
        else:
            out[key] = 0.05 * torch.randn(shape, generator=gen)
    return out


def fabricate_sem2nerf(in_chans: int, opts: dict | None, seed: int, swin=SWIN_T, pigan=OFFICIAL_PIGAN, ddp: bool = False):
    """An official-layout Sem2NeRF checkpoint as ``Coach3D`` saves it, and its raw tensors."""
    code_dim = (pigan["layers"] + 1) * pigan["hidden"]
    enc = fabricate_tensors(official_swin_layout(in_chans, 2 * code_dim, **swin), seed)
    dec = fabricate_tensors(official_pigan_layout(**pigan), seed + 1)
    gen = torch.Generator().manual_seed(seed + 2)
    latent = (0.3 * torch.randn(1, code_dim, generator=gen), 0.3 * torch.randn(1, code_dim, generator=gen))
    infix = "module." if ddp else ""
    state = {f"encoder.{infix}{k}": v for k, v in enc.items()} | {f"decoder.{infix}{k}": v for k, v in dec.items()}
    checkpoint = {"state_dict": state, "opts": opts, "iteration": 800000, "latent_avg": latent,
                  "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1]}]}, "best_val_loss": 0.123}
    if opts is None:
        del checkpoint["opts"]
    return checkpoint, enc, dec, latent


# --- direct computations from the fabricated tensors ------------------------------------------


def swin_v1_forward(t: dict, x: torch.Tensor, depths, heads, window: int, patch: int) -> torch.Tensor:
    """The official Swin v1 forward (official-sem2nerf.md 4.1), straight from official-layout tensors."""
    x = F.conv2d(x, t["patch_embed.proj.weight"], t["patch_embed.proj.bias"], stride=patch)
    batch, c, res, _ = x.shape
    x = F.layer_norm(x.flatten(2).transpose(1, 2), (c,), t["patch_embed.norm.weight"], t["patch_embed.norm.bias"])
    for s, depth in enumerate(depths):
        win = min(window, res)
        for b in range(depth):
            p = f"layers.{s}.blocks.{b}."
            shift = win // 2 if b % 2 == 1 and res > window else 0
            y = F.layer_norm(x, (c,), t[p + "norm1.weight"], t[p + "norm1.bias"]).view(batch, res, res, c)
            y = torch.roll(y, (-shift, -shift), (1, 2))
            y = y.view(batch, res // win, win, res // win, win, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, win * win, c)
            n, h = win * win, heads[s]
            qkv = F.linear(y, t[p + "attn.qkv.weight"], t[p + "attn.qkv.bias"]).view(-1, n, 3, h, c // h).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0] * (c // h) ** -0.5, qkv[1], qkv[2]
            bias = t[p + "attn.relative_position_bias_table"][t[p + "attn.relative_position_index"].view(-1)]
            attn = q @ k.transpose(-2, -1) + bias.view(n, n, h).permute(2, 0, 1)[None]
            if shift:
                mask = t[p + "attn_mask"]
                attn = (attn.view(batch, mask.shape[0], h, n, n) + mask[None, :, None]).view(-1, h, n, n)
            y = (attn.softmax(-1) @ v).transpose(1, 2).reshape(-1, n, c)
            y = F.linear(y, t[p + "attn.proj.weight"], t[p + "attn.proj.bias"])
            y = y.view(batch, res // win, res // win, win, win, c).permute(0, 1, 3, 2, 4, 5).reshape(batch, res, res, c)
            x = x + torch.roll(y, (shift, shift), (1, 2)).reshape(batch, res * res, c)
            y = F.layer_norm(x, (c,), t[p + "norm2.weight"], t[p + "norm2.bias"])
            y = F.linear(F.gelu(F.linear(y, t[p + "mlp.fc1.weight"], t[p + "mlp.fc1.bias"])), t[p + "mlp.fc2.weight"], t[p + "mlp.fc2.bias"])
            x = x + y
        if s < len(depths) - 1:
            g = x.view(batch, res, res, c)
            g = torch.cat([g[:, 0::2, 0::2], g[:, 1::2, 0::2], g[:, 0::2, 1::2], g[:, 1::2, 1::2]], -1).view(batch, -1, 4 * c)
            g = F.layer_norm(g, (4 * c,), t[f"layers.{s}.downsample.norm.weight"], t[f"layers.{s}.downsample.norm.bias"])
            x, res, c = F.linear(g, t[f"layers.{s}.downsample.reduction.weight"]), res // 2, 2 * c
    x = F.layer_norm(x, (c,), t["norm.weight"], t["norm.bias"]).mean(1)
    return F.linear(x, t["head.weight"], t["head.bias"])


def decoder_from_tensors(dec: dict, pigan=OFFICIAL_PIGAN) -> PiGANDecoder:
    decoder = PiGANDecoder(pigan["hidden"], pigan["layers"], pigan["z"], pigan["mapping_hidden"], pigan["mapping_depth"])
    key_map = official_decoder_key_map(pigan["layers"], pigan["mapping_depth"])
    decoder.load_state_dict({key_map[k]: v for k, v in dec.items()})
    return decoder.eval()


@torch.no_grad()
def direct_render(decoder: PiGANDecoder, freq, phase, fov: float, near: float, far: float, yaw=25.0, pitch=-10.0, size=12):
    """A deterministic render of the textbook decoder (``PiGANDecoder.forward``) through the renderer."""
    def field(points, directions):
        return decoder(points, freq, phase, directions)

    c2w = camera_to_world(*angles_to_renderer(yaw, pitch))[None]
    opts = RenderOptions(num_samples=6, ray_start=near, ray_end=far, deterministic=True)
    return render_image(field, c2w, size, fov, opts).rgb


@torch.no_grad()
def model_render(model: Sem2NeRF, freq, phase, yaw=25.0, pitch=-10.0, size=12):
    from sem2nerf.model import Scene

    out = model.render_output(Scene(freq, phase), [Pose(yaw, pitch, model.fov)], size, model.render_options(6, deterministic=True))
    return out[0].rgb


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def celeba():
    return fabricate_sem2nerf(18, CELEBA_OPTS, seed=1)


@pytest.fixture(scope="module")
def tiny():
    return fabricate_sem2nerf(18, CELEBA_OPTS, seed=5, swin=TINY_SWIN, pigan=TINY_PIGAN)


def _tiny_model(checkpoint, **kwargs):
    return model_from_official(checkpoint, **TINY_SWIN_CONFIG, **kwargs)


# --- the layouts themselves ---------------------------------------------------------------------


def test_fabricated_checkpoint_has_the_exact_official_layout(celeba):
    """Appendix A row by row where it matters: 190 encoder keys in order, 17 buffers, and the 30 decoder keys."""
    checkpoint, enc, dec, latent = celeba
    keys = list(enc)
    assert len(keys) == 190
    rows = {1: ("patch_embed.proj.weight", (96, 18, 4, 4)), 7: ("layers.0.blocks.0.attn.relative_position_bias_table", (169, 3)),
            8: ("layers.0.blocks.0.attn.relative_position_index", (49, 49)), 19: ("layers.0.blocks.1.attn_mask", (64, 49, 49)),
            34: ("layers.0.downsample.reduction.weight", (192, 384)), 35: ("layers.0.downsample.norm.weight", (384,)),
            51: ("layers.1.blocks.1.attn_mask", (16, 49, 49)), 66: ("layers.1.downsample.reduction.weight", (384, 768)),
            83: ("layers.2.blocks.1.attn_mask", (4, 49, 49)), 112: ("layers.2.blocks.3.attn_mask", (4, 49, 49)),
            141: ("layers.2.blocks.5.attn_mask", (4, 49, 49)), 156: ("layers.2.downsample.reduction.weight", (768, 1536)),
            161: ("layers.3.blocks.0.attn.relative_position_bias_table", (169, 24)), 173: ("layers.3.blocks.1.norm1.weight", (768,)),
            187: ("norm.weight", (768,)), 189: ("head.weight", (4608, 768)), 190: ("head.bias", (4608,))}
    for row, (key, shape) in rows.items():
        assert keys[row - 1] == key and tuple(enc[key].shape) == shape, row
    buffers = [k for k in keys if k.endswith(("relative_position_index", "attn_mask"))]
    assert len(buffers) == 17 and sum(k.endswith("attn_mask") for k in buffers) == 5
    assert enc["layers.0.blocks.0.attn.relative_position_index"].dtype == torch.int64
    assert sum(v.numel() for k, v in enc.items() if k not in buffers) == 31_085_946
    assert len(dec) == 30 and sum(v.numel() for v in dec.values()) == 1_910_788
    assert tuple(dec["siren.color_layer_sine.layer.weight"].shape) == (256, 259)
    assert tuple(dec["siren.mapping_network.network.6.weight"].shape) == (4608, 256)
    assert all(k.startswith(("encoder.layers", "encoder.patch_embed", "encoder.norm", "encoder.head", "decoder.siren."))
               for k in checkpoint["state_dict"])
    assert [tuple(t.shape) for t in latent] == [(1, 2304), (1, 2304)]


# --- conversions that must reproduce the fabricated model ---------------------------------------


@pytest.fixture(scope="module")
def celeba_converted(celeba, tmp_path_factory):
    """The fabricated CelebA checkpoint saved as the official file, converted by the command line, loaded back."""
    tmp = tmp_path_factory.mktemp("celeba")
    source = tmp / "sem2nerf_celebahq_pretrained.pt"
    torch.save(celeba[0], source)
    out = tmp / "celebahq"
    code = main(["convert", str(source), "--out", str(out)])
    return code, out, Sem2NeRF.from_pretrained(out) if code == 0 else None


def test_celeba_checkpoint_converts_to_a_folder_with_the_official_config(celeba_converted, capsys):
    code, out, model = celeba_converted
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["domain"] == "celebamask_hq" and config["use_contour"] is True
    assert config["contour_skip"] == "smallest"  # the official contour quirk
    assert (config["fov"], config["ray_start"], config["ray_end"]) == (12.0, 0.88, 1.12)  # CelebAMask_HQ curriculum
    card = (out / "README.md").read_text()
    assert "sem2nerf_celebahq_pretrained.pt" in card and "celebamask_hq_raw" in card and "license: other" in card
    assert "arxiv.org/abs/2203.10821" in card and "non-commercial" in card
    assert model.input_channels == 18 and model.num_parameters()["total"] == 32_996_734


def test_converted_encoder_computes_the_official_swin_forward_of_the_tensors(celeba, celeba_converted):
    _, enc, _, (avg_f, avg_p) = celeba
    model = celeba_converted[2]
    assert torch.equal(model.latent_avg_freq, avg_f) and torch.equal(model.latent_avg_phase, avg_p)
    x, _ = model.prepare_input(face_mask(256))
    with torch.no_grad():
        freq, phase = model.encode_tensor(x)
        expected = swin_v1_forward(enc, x, SWIN_T["depths"], SWIN_T["heads"], SWIN_T["window"], SWIN_T["patch"])
    assert expected.abs().max() > 0.1  # the head is not zero: the mask matters
    torch.testing.assert_close(freq, expected[:, :2304] + avg_f, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(phase, expected[:, 2304:] + avg_p, rtol=1e-4, atol=1e-4)


def test_converted_model_renders_what_the_fabricated_decoder_defines(celeba, celeba_converted, mask_array):
    _, _, dec, (avg_f, avg_p) = celeba
    model = celeba_converted[2]
    direct = decoder_from_tensors(dec)
    expected = direct_render(direct, avg_f, avg_p, 12.0, 0.88, 1.12)
    assert expected.std() > 1e-3
    torch.testing.assert_close(model_render(model, avg_f, avg_p), expected, rtol=1e-5, atol=1e-5)
    scene = model.encode(mask_array)
    torch.testing.assert_close(model_render(model, scene.frequencies, scene.phase_shifts),
                               direct_render(direct, scene.frequencies, scene.phase_shifts, 12.0, 0.88, 1.12), rtol=1e-5, atol=1e-5)


def test_ddp_checkpoint_converts_to_the_same_weights(celeba_converted):
    wrapped = fabricate_sem2nerf(18, CELEBA_OPTS, seed=1, ddp=True)[0]
    assert all(".module." in k for k in wrapped["state_dict"])
    model, report = model_from_official(wrapped, source="ddp")
    assert any("module." in note for note in report.notes)
    ours, theirs = celeba_converted[2].state_dict(), model.state_dict()
    assert set(ours) == set(theirs) and all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_catmask_checkpoint_gets_the_cat_domain_and_camera(tmp_path):
    checkpoint, enc, dec, (avg_f, avg_p) = fabricate_sem2nerf(10, CATMASK_OPTS, seed=3)
    assert tuple(enc["patch_embed.proj.weight"].shape) == (96, 10, 4, 4)
    model, report = model_from_official(checkpoint, source="sem2nerf_catmask_pretrained.pt")
    assert report.config["domain"] == "catmask" and model.input_channels == 10
    assert (model.fov, model.ray_start, model.ray_end) == (18.0, 0.8, 1.2)  # CatMask curriculum
    cat = np.zeros((128, 128), np.uint8)
    cat[20:110, 20:110], cat[50:60, 40:50], cat[80:90, 60:70] = 7, 9, 12  # head, eye, nose (CatMask raw ids)
    x, _ = model.prepare_input(cat)
    with torch.no_grad():
        freq, phase = model.encode_tensor(x)
        expected = swin_v1_forward(enc, x, SWIN_T["depths"], SWIN_T["heads"], SWIN_T["window"], SWIN_T["patch"])
    torch.testing.assert_close(torch.cat([freq, phase], 1), expected + torch.cat([avg_f, avg_p], 1), rtol=1e-4, atol=1e-4)
    direct = decoder_from_tensors(dec)
    torch.testing.assert_close(model_render(model, avg_f, avg_p), direct_render(direct, avg_f, avg_p, 18.0, 0.8, 1.2),
                               rtol=1e-5, atol=1e-5)


def test_older_cat_names_and_missing_options_are_understood(tiny):
    checkpoint = fabricate_sem2nerf(10, {**CATMASK_OPTS, "pigan_curriculum_type": "PseudoCats",
                                         "dataset_type": "pseudocats_seg_to_3dface"}, seed=6, swin=TINY_SWIN, pigan=TINY_PIGAN)[0]
    assert _tiny_model(checkpoint)[0].domain.name == "catmask"
    bare = fabricate_sem2nerf(10, None, seed=6, swin=TINY_SWIN, pigan=TINY_PIGAN)[0]
    model, report = _tiny_model(bare)  # no opts: the 10 input channels say CatMask
    assert model.domain.name == "catmask" and any("no opts" in n for n in report.notes)
    no_avg = {**tiny[0], "opts": {**CELEBA_OPTS, "start_from_latent_avg": False}}
    assert torch.count_nonzero(_tiny_model(no_avg)[0].latent_avg_freq) == 0  # official: nothing added


def test_background_contour_fix_can_be_chosen(tiny):
    model, _ = _tiny_model(tiny[0], contour_skip="background")
    assert model.contour_skip == "background"


def test_pigan_decoder_converts_to_a_decoder_folder(tmp_path):
    dec = fabricate_tensors(official_pigan_layout(**TINY_PIGAN), seed=9)
    source = tmp_path / "pigan-cats2-pretrained.pth"
    torch.save({f"module.{k}": v for k, v in dec.items()}, source)  # a DDP-saved copy converts too
    report = convert_checkpoint(source, tmp_path / "cats-decoder")
    assert report.kind == "pigan" and report.verified and report.tensors == len(dec)
    decoder, config = load_decoder(tmp_path / "cats-decoder", expect={"domain": "catmask", "decoder_hidden_dim": 32})
    assert (config["fov"], config["ray_start"], config["ray_end"]) == (18.0, 0.8, 1.2)
    assert config["metadata"]["source"] == "pigan-cats2-pretrained.pth"
    key_map = official_decoder_key_map(TINY_PIGAN["layers"])
    ours = decoder.state_dict()
    assert all(torch.equal(ours[key_map[k]], v) for k, v in dec.items())
    freq, phase = 0.3 * torch.randn(1, 128), 0.3 * torch.randn(1, 128)
    torch.testing.assert_close(direct_render(decoder, freq, phase, 18, 0.8, 1.2),
                               direct_render(decoder_from_tensors(dec, TINY_PIGAN), freq, phase, 18, 0.8, 1.2), rtol=0, atol=0)
    card = (tmp_path / "cats-decoder" / "README.md").read_text()
    assert "pigan-cats2-pretrained.pth" in card and "load_decoder" in card and "library_name: sem2nerf" in card

    other = tmp_path / "my-pigan.pth"
    torch.save(dec, other)
    with pytest.raises(ModelLoadError, match="pass the domain"):
        convert_checkpoint(other, tmp_path / "unknown")
    assert not (tmp_path / "unknown").exists()  # a refused conversion leaves nothing behind
    assert convert_checkpoint(other, tmp_path / "celeba-decoder", domain="celebamask_hq").config["fov"] == 12.0


# --- everything else gets a clear message -------------------------------------------------------


class ImplicitGenerator3d(torch.nn.Module):
    """Stands in for pi-GAN's own class: its generator.pth pickles the whole module."""

    def __init__(self) -> None:
        super().__init__()
        self.siren = torch.nn.Linear(3, 4)


def test_unreadable_files_are_refused_with_a_reason(tmp_path, tiny):
    whole = tmp_path / "generator.pth"
    torch.save(ImplicitGenerator3d(), whole)
    with pytest.raises(ModelLoadError, match=r"pickled Python object.*ImplicitGenerator3d.*state_dict"):
        convert_checkpoint(whole, tmp_path / "a")
    good = tmp_path / "good.pt"
    torch.save(tiny[0], good)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match="truncated or corrupted"):
        convert_checkpoint(truncated, tmp_path / "b")
    for name, data in (("notes.pt", b"a text file, not weights\n"), ("empty.pth", b"")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ModelLoadError, match=r"not a PyTorch checkpoint|is empty"):
            convert_checkpoint(tmp_path / name, tmp_path / "c")
    with pytest.raises(ModelLoadError, match="no checkpoint file"):
        convert_checkpoint(tmp_path / "missing.pt", tmp_path / "d")
    assert not any((tmp_path / d).exists() for d in "abcd")  # nothing written for a file that cannot be read


def test_other_architectures_are_named_key_by_key(celeba, tiny):
    checkpoint = tiny[0]
    state = dict(checkpoint["state_dict"])
    del state["encoder.layers.1.blocks.1.mlp.fc2.bias"]
    state["encoder.layers.0.blocks.0.attn.extra"] = torch.zeros(1)
    state["decoder.siren.final_layer.weight"] = torch.zeros(2, 32)
    with pytest.raises(ModelLoadError) as err:
        _tiny_model({**checkpoint, "state_dict": state})
    message = str(err.value)
    assert "missing 1: encoder.layers.1.blocks.1.mlp.fc2.bias" in message
    assert "unexpected 1: encoder.layers.0.blocks.0.attn.extra" in message
    assert "decoder.siren.final_layer.weight (2, 32) (expected (1, 32))" in message

    # A different patch size must be refused, not silently resampled by timm's filter.
    full = dict(celeba[0]["state_dict"])
    full["encoder.patch_embed.proj.weight"] = torch.zeros(96, 18, 8, 8)
    with pytest.raises(ModelLoadError, match=r"encoder\.patch_embed\.proj\.weight \(96, 18, 8, 8\) \(expected \(96, 18, 4, 4\)\)"):
        model_from_official({**celeba[0], "state_dict": full})

    # Buffers that another window size would give.
    state = dict(checkpoint["state_dict"])
    state["encoder.layers.0.blocks.0.attn.relative_position_index"] = torch.flip(state["encoder.layers.0.blocks.0.attn.relative_position_index"], (0,))
    with pytest.raises(ModelLoadError, match="another Swin configuration"):
        _tiny_model({**checkpoint, "state_dict": state})

    psp_like = {"state_dict": {"encoder.input_layer.0.weight": torch.zeros(64, 3, 3, 3), "decoder.style.1.weight": torch.zeros(512, 512)},
                "opts": CELEBA_OPTS}
    with pytest.raises(ModelLoadError, match=r"another architecture: only 0 of the 220 official keys.*encoder\.input_layer\.0\.weight"):
        model_from_official(psp_like)
    with pytest.raises(ModelLoadError, match="image-classification Swin"):
        model_from_official({"model": {"layers.0.blocks.0.norm1.weight": torch.zeros(96)}})
    with pytest.raises(ModelLoadError, match=r"neither an official Sem2NeRF checkpoint .* nor a pi-GAN decoder"):
        model_from_official({"weights": [1, 2, 3]})
    with pytest.raises(ModelLoadError, match="pi-GAN decoder layout.*missing 1: siren.color_layer_linear.0.bias"):
        from sem2nerf.convert import decoder_from_official

        dec = fabricate_tensors(official_pigan_layout(**TINY_PIGAN), seed=2)
        dec.pop("siren.color_layer_linear.0.bias")
        decoder_from_official(dec)


def test_options_that_contradict_the_weights_or_each_other(tiny):
    checkpoint = tiny[0]
    with pytest.raises(ModelLoadError, match="conflicting domains"):
        _tiny_model(checkpoint, domain="catmask")
    with pytest.raises(ModelLoadError, match="not supported"):
        _tiny_model({**checkpoint, "opts": {**CELEBA_OPTS, "use_merged_labels": False, "label_nc": 19}})
    with pytest.raises(ModelLoadError, match="input_nc is 17"):
        _tiny_model({**checkpoint, "opts": {**CELEBA_OPTS, "input_nc": 17}})
    with pytest.raises(ModelLoadError, match=r"patch_embed\.proj\.weight \(16, 18, 4, 4\) \(expected \(16, 16, 4, 4\)\)"):
        _tiny_model({**checkpoint, "opts": {**CELEBA_OPTS, "use_contour": False, "input_nc": 16}})
    with pytest.raises(ModelLoadError, match="no 'latent_avg'"):
        _tiny_model({k: v for k, v in checkpoint.items() if k != "latent_avg"})
    with pytest.raises(ModelLoadError, match="latent_avg"):
        _tiny_model({**checkpoint, "latent_avg": (torch.zeros(1, 7), torch.zeros(1, 7))})


# --- publishing ---------------------------------------------------------------------------------


@pytest.fixture
def decoder_folder(tmp_path):
    source = tmp_path / "pigan-celeba-pretrained.pth"
    torch.save(fabricate_tensors(official_pigan_layout(**TINY_PIGAN), seed=4), source)
    return source, tmp_path / "out"


def test_dry_run_lists_the_upload_and_contacts_nothing(decoder_folder, monkeypatch, capsys):
    source, out = decoder_folder
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a dry run must not need the network
    assert main(["convert", str(source), "--out", str(out), "--push-to-hub", "me/pigan-celeba", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "dry run" in printed and "me/pigan-celeba" in printed
    for name in ("README.md", "decoder_config.json", "decoder.safetensors"):
        assert name in printed
    assert "me/pigan-celeba" in (out / "README.md").read_text()  # the card's usage snippet names the repo
    assert main(["convert", str(source), "--out", str(out), "--dry-run"]) == 2
    assert "--dry-run" in capsys.readouterr().err
    assert main(["convert", str(source), "--out", str(out)]) == 2  # an existing conversion is not overwritten silently
    assert "--overwrite" in capsys.readouterr().err
    assert main(["convert", str(source), "--out", str(out), "--overwrite"]) == 0


def test_pushing_offline_fails_fast_with_a_clear_message(decoder_folder, monkeypatch, capsys):
    source, out = decoder_folder
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["convert", str(source), "--out", str(out), "--push-to-hub", "me/pigan-celeba"]) == 2
    err = capsys.readouterr().err
    assert "offline mode is on" in err and "hf upload me/pigan-celeba" in err
    assert (out / "decoder.safetensors").is_file()  # the conversion itself is kept
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    with pytest.raises(Sem2NeRFError, match="cannot reach the Hugging Face Hub.*ConnectError"):
        push_folder(out, "me/pigan-celeba", endpoint="http://127.0.0.1:9", timeout=3)  # nothing listens there
    with socket.socket() as silent:  # accepts connections, never answers: the short timeout ends the wait
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        start = time.monotonic()
        with pytest.raises(Sem2NeRFError, match="cannot reach the Hugging Face Hub.*Timeout"):
            push_folder(out, "me/pigan-celeba", endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=1)
        assert time.monotonic() - start < 30


def test_push_creates_the_repo_and_uploads_the_folder(decoder_folder, monkeypatch):
    import huggingface_hub

    from sem2nerf import convert

    source, out = decoder_folder
    convert_checkpoint(source, out, repo_id="me/pigan-celeba")
    calls = []

    class RecordingApi:
        def __init__(self, endpoint=None, token=None):
            calls.append(("init", token))

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id, kwargs["private"]))

        def upload_folder(self, repo_id, folder_path, **kwargs):
            calls.append(("upload_folder", repo_id, sorted(p.name for p in __import__("pathlib").Path(folder_path).iterdir())))
            return "https://huggingface.co/me/pigan-celeba/commit/abc"

    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    monkeypatch.setattr(convert, "_hub_preflight", lambda endpoint, token, timeout: "me")
    assert push_folder(out, "me/pigan-celeba", private=True).endswith("/commit/abc")
    assert calls == [("init", "hf_test"), ("create_repo", "me/pigan-celeba", True),
                     ("upload_folder", "me/pigan-celeba", ["README.md", "decoder.safetensors", "decoder_config.json"])]
    assert "3 files" in upload_plan(out, "me/pigan-celeba")
