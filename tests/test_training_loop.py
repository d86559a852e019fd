"""The generic training loop: exact resume, two-process DDP, gradient accumulation and fail-fast errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from sem2nerf.decoder import PiGANDecoder
from sem2nerf.decoder_folder import save_decoder
from sem2nerf.errors import ModelLoadError
from sem2nerf.training import ConfigError, main
from sem2nerf.training.trainer import train


@pytest.mark.parametrize("region", [False, True])
def test_resume_continues_exactly(tiny_data, tiny_decoder, tmp_path, region):
    """4 steps in one go == 2 steps, stop, resume, 2 more: identical weights (GAN and R1 on; with the region head,
    which a resumed run takes from its checkpoint instead of fitting it again)."""
    extra = ["encoder.region_head=true", "encoder.latent.weight=1"] if region else []
    straight = train(_config(tmp_path / "a", tiny_data, f"decoder={tiny_decoder}", "train.max_steps=4", "encoder.random_pose_prob=0.5",
                             *extra))
    cfg_b = [f"decoder={tiny_decoder}", "encoder.random_pose_prob=0.5", "train.save_every=2", *extra]
    train(_config(tmp_path / "b", tiny_data, *cfg_b, "train.max_steps=2"))
    resumed = train(_config(tmp_path / "b", tiny_data, *cfg_b, "train.max_steps=4"), resume="latest")
    a, b = load_file(straight / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst <= 1e-6, worst
    # and the weights did move during the resumed half
    first = load_file(tmp_path / "b" / "checkpoints" / "step_00000002" / "model.safetensors")
    head = next(k for k in first if k.endswith("head.fc.weight"))
    assert not torch.equal(first[head], b[head.split("model.", 1)[1]])
from test_training_common import ROOT, TINY, _config, _metrics, tiny_data_fixture, tiny_decoder_fixture  # noqa: F401 (fixtures)


def test_resume_refuses_another_config(tiny_data, tiny_decoder, tmp_path):
    train(_config(tmp_path, tiny_data, f"decoder={tiny_decoder}", "train.max_steps=1"))
    with pytest.raises(ConfigError, match="another config"):
        train(_config(tmp_path, tiny_data, f"decoder={tiny_decoder}", "train.max_steps=2", "encoder.w_norm=0.5"), resume="latest")


def test_two_process_cpu_ddp_keeps_ranks_identical(tiny_data, tiny_decoder, tmp_path):
    """A real 2-process gloo run through `accelerate launch`: both ranks end with the same weights, one checkpoint."""
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
           str(ROOT / "train_accelerate.py"), "--config", str(TINY), f"data.root={tiny_data}", f"output_dir={tmp_path}",
           f"decoder={tiny_decoder}", "train.max_steps=2", "train.save_every=1000"]
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpts = list((tmp_path / "checkpoints").glob("step_*"))
    assert len(ckpts) == 1
    state = json.loads((ckpts[0] / "train_state.json").read_text())
    assert state["num_processes"] == 2
    assert len(state["rank_digests"]) == 2 and state["rank_digests"][0] == state["rank_digests"][1]
    assert (tmp_path / "export" / "model.safetensors").is_file()


def test_gradient_accumulation_runs_the_configured_micro_batches(tiny_data, tiny_decoder, tmp_path):
    """grad_accum=2: each optimiser step reads two micro-batches; the losses stay finite and the encoder moves."""
    from sem2nerf.training import data as data_mod

    seen: list[int] = []
    original = data_mod.StepBatchSampler.batch_at

    def spy(self, m):
        seen.append(m)
        return original(self, m)

    data_mod.StepBatchSampler.batch_at = spy
    try:
        export = train(_config(tmp_path, tiny_data, f"decoder={tiny_decoder}", "train.max_steps=2", "train.grad_accum=2"))
    finally:
        data_mod.StepBatchSampler.batch_at = original
    assert sorted(set(seen))[:4] == [0, 1, 2, 3]  # 2 steps x 2 micro-batches
    records = [r for r in _metrics(tmp_path) if "total" in r]
    assert len(records) == 2 and all(np.isfinite(r["total"]) for r in records)
    head = load_file(export / "model.safetensors")["encoder.head.fc.weight"]
    assert head.abs().sum() > 0  # zero-initialised head has been updated


def test_clear_errors_for_missing_data_and_mismatched_decoder(tiny_data, tiny_decoder, tmp_path, capsys):
    rc = main(["--config", str(TINY), f"data.root={tmp_path / 'nowhere'}", f"output_dir={tmp_path / 'o'}", f"decoder={tiny_decoder}"])
    assert rc == 2 and "data folder not found" in capsys.readouterr().err
    with pytest.raises(ModelLoadError, match="decoder_hidden_dim: folder has 32, config wants 64"):
        train(_config(tmp_path / "m", tiny_data, f"decoder={tiny_decoder}", "model.decoder_hidden_dim=64"))
    other = save_decoder(PiGANDecoder(32, 3, 16, 32, 2), tmp_path / "cat_decoder", domain="catmask")
    with pytest.raises(ModelLoadError, match="domain: folder has 'catmask'"):
        train(_config(tmp_path / "d", tiny_data, f"decoder={other}"))
    rc = main(["--config", str(TINY), "stage=generator", "generator.recon=null", "generator.adv=0"])
    assert rc == 2 and "needs generator.recon, generator.adv > 0 or generator.geometry" in capsys.readouterr().err


def test_the_loop_is_generic_and_no_training_function_is_long():
    """train() never branches on the stage (the stage objects do), and no function of sem2nerf.training is over 120
    lines (train() itself about 100)."""
    import ast
    import inspect

    from sem2nerf.training import trainer

    loop = ast.parse(inspect.getsource(trainer.train)).body[0]
    tests = [ast.unparse(n) for n in ast.walk(loop) if isinstance(n, (ast.Compare, ast.Call))]
    assert not [t for t in tests if "config.stage ==" in t or "config.stage !=" in t or "isinstance" in t], tests
    assert any("stage.step(" in t for t in tests)
    assert loop.end_lineno - loop.lineno + 1 <= 110
    long = []
    for path in sorted((ROOT / "sem2nerf" / "training").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 120:
                long.append(f"{path.name}:{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long
