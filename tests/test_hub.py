"""Hub I/O: safetensors round trip, model card, offline cache resolution, and clear load errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_CONFIG

from sem2nerf import ModelLoadError, Sem2NeRF


@pytest.fixture
def saved(tmp_path, tiny_model):
    with torch.no_grad():
        tiny_model.latent_avg_freq.add_(0.25)  # a buffer that init would not recompute
    folder = tmp_path / "model"
    tiny_model.save_pretrained(folder)
    return tiny_model, folder


def test_round_trip_is_exact_buffers_included(saved, mask_array):
    model, folder = saved
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    loaded = Sem2NeRF.from_pretrained(folder)
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    a = model.render(model.encode(mask_array), size=16, samples=4)
    b = loaded.render(loaded.encode(mask_array), size=16, samples=4)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    config = json.loads((folder / "config.json").read_text())
    assert config["decoder_hidden_dim"] == TINY_CONFIG["decoder_hidden_dim"]
    assert not loaded.training


def test_model_card_metadata(saved):
    card = (saved[1] / "README.md").read_text()
    assert "library_name: sem2nerf" in card
    assert "license: mit" in card
    assert "pipeline_tag: image-to-3d" in card
    assert "https://arxiv.org/abs/2203.10821" in card
    assert "- sem2nerf" in card and "celebamask_hq_raw" in card
    assert "`decoder_hidden_dim` | `32`" in card


def test_missing_folder_and_missing_weights(tmp_path):
    with pytest.raises(ModelLoadError, match="no model folder"):
        Sem2NeRF.from_pretrained(tmp_path / "nowhere" / "model")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "sem2nerf_celebahq_pretrained.pt").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match=r"no config.json or model.safetensors.*convert"):
        Sem2NeRF.from_pretrained(tmp_path / "empty")
    with pytest.raises(ModelLoadError, match="is a file"):
        Sem2NeRF.from_pretrained(tmp_path / "empty" / "sem2nerf_celebahq_pretrained.pt")


def test_weights_that_do_not_match_the_config(saved):
    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    config["decoder_hidden_dim"] = 48
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=r"do not match.*shape mismatch.*decoder\.trunk"):
        Sem2NeRF.from_pretrained(folder)


def test_corrupted_weights(saved):
    _, folder = saved
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelLoadError, match="truncated or not safetensors"):
        Sem2NeRF.from_pretrained(folder)


def _layout_hub_cache(cache: Path, repo_id: str, source: Path) -> None:
    """Lay out a Hugging Face cache entry for ``repo_id`` the way ``hf_hub_download`` leaves it."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for name in ("config.json", "model.safetensors"):
        (snap / name).write_bytes((source / name).read_bytes())


def test_repo_id_resolves_offline_from_the_cache_and_unknown_ids_explain(saved, tmp_path, mask_array):
    model, folder = saved
    cache = tmp_path / "hf-cache"
    _layout_hub_cache(cache, "sem2nerf-test/tiny", folder)
    expected = np.asarray(model.render(model.encode(mask_array), size=16, samples=4))
    np.save(tmp_path / "mask.npy", mask_array)
    script = f"""
import numpy as np
from sem2nerf import Sem2NeRF, ModelLoadError
m = Sem2NeRF.from_pretrained("sem2nerf-test/tiny")
img = m.render(m.encode(np.load({str(tmp_path / 'mask.npy')!r})), size=16, samples=4)
np.save({str(tmp_path / 'out.npy')!r}, np.asarray(img))
try:
    Sem2NeRF.from_pretrained("sem2nerf-test/does-not-exist")
except ModelLoadError as err:
    print("ERROR:", err)
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_HOME": str(tmp_path / "hf-home")}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, check=False,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stderr
    assert np.array_equal(np.load(tmp_path / "out.npy"), expected)
    message = proc.stdout
    assert "ERROR:" in message and "offline mode is on" in message and "convert" in message


def test_keyword_overrides_and_bad_configs(saved):
    _, folder = saved
    assert Sem2NeRF.from_pretrained(folder, fov=18.0).fov == 18.0
    config = json.loads((folder / "config.json").read_text())
    config["domain"] = "no_such_domain"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="does not describe a valid"):
        Sem2NeRF.from_pretrained(folder)


def test_an_unreachable_hub_fails_fast_and_a_cached_repo_still_loads(saved, tmp_path):
    """Not offline, but the Hub cannot be reached (HF_ENDPOINT at a closed local port): an unknown repo id fails
    at once with the reason (no ~50 s of the client's retries), a repo in the local cache loads from it."""
    import socket

    _, folder = saved
    cache = tmp_path / "hf-cache"
    _layout_hub_cache(cache, "sem2nerf-test/tiny", folder)
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = """
import time
from sem2nerf import Sem2NeRF, ModelLoadError
m = Sem2NeRF.from_pretrained("sem2nerf-test/tiny")
print("LOADED", m.decoder.hidden_dim)
t = time.perf_counter()
try:
    Sem2NeRF.from_pretrained("sem2nerf-test/does-not-exist")
except ModelLoadError as err:
    print("ERROR:", err)
print("SECONDS", time.perf_counter() - t)
"""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{port}", HF_HUB_CACHE=str(cache), HF_HOME=str(tmp_path / "hf-home"))
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300,
                          check=False, cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stderr
    assert f"LOADED {TINY_CONFIG['decoder_hidden_dim']}" in proc.stdout
    assert "the Hub cannot be reached" in proc.stdout and "refused the connection" in proc.stdout
    assert float(proc.stdout.split("SECONDS")[1]) < 5.0  # the client's retries take ~50 s
